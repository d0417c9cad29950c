"""The eval README's reference system, built independently of the project's chunking and search.

BM25 over consecutive 180-word chunks, all-MiniLM-L6-v2 cosine over the same chunks, and
reciprocal rank fusion (k = 60) of the two chunk rankings; a letter is scored by its best chunk.
Only text extraction (`read_pages` + `normalize_pages`) and the Embedder are shared with the
project.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer.letters.normalize import normalize_pages
from indexer.letters.reader import LETTER_SUFFIXES, read_pages

CHUNK_WORDS = 180
RRF_K = 60
K1 = 1.2
B = 0.75
SYSTEMS = ("bm25", "dense", "rrf")
_TOKEN = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    """Lowercase alphanumeric word tokens; no stemming, no stop words."""
    return _TOKEN.findall(text.lower())


def word_chunks(text: str, size: int = CHUNK_WORDS) -> list[str]:
    """Split text into consecutive, non-overlapping chunks of `size` whitespace words."""
    words = text.split()
    return [" ".join(words[i : i + size]) for i in range(0, len(words), size)]


@dataclass
class BM25:
    """Okapi BM25 over pre-tokenised documents.

    `idf="lucene"` uses log(1 + (N - n + 0.5) / (n + 0.5)) (always positive, as Lucene and
    Elasticsearch); `idf="okapi"` is rank_bm25's BM25Okapi: log((N - n + 0.5) / (n + 0.5)) with
    negative values floored at 0.25 times the mean idf.
    """

    docs: list[list[str]]
    k1: float = K1
    b: float = B
    idf: str = "lucene"
    _tf: list[Counter] = field(init=False, repr=False)
    _len: np.ndarray = field(init=False, repr=False)
    _idf: dict[str, float] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._tf = [Counter(d) for d in self.docs]
        self._len = np.array([len(d) for d in self.docs], dtype=np.float64)
        n_docs = len(self.docs)
        df = Counter(t for tf in self._tf for t in tf)
        if self.idf == "lucene":
            self._idf = {t: math.log(1 + (n_docs - n + 0.5) / (n + 0.5)) for t, n in df.items()}
        elif self.idf == "okapi":
            raw = {t: math.log(n_docs - n + 0.5) - math.log(n + 0.5) for t, n in df.items()}
            floor = 0.25 * (sum(raw.values()) / len(raw)) if raw else 0.0
            self._idf = {t: (v if v >= 0 else floor) for t, v in raw.items()}
        else:
            raise ValueError(f"unknown idf {self.idf!r} (lucene or okapi)")

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every document for the query (each query token counted once per use)."""
        avg = self._len.mean() if len(self._len) else 0.0
        norm = self.k1 * (1 - self.b + self.b * self._len / avg) if avg else self._len
        out = np.zeros(len(self.docs))
        for term in query_tokens:
            idf = self._idf.get(term)
            if idf is None:
                continue
            tf = np.array([d.get(term, 0) for d in self._tf], dtype=np.float64)
            out += idf * tf * (self.k1 + 1) / (tf + norm)
        return out


class ReferenceIndex:
    """Chunks of every letter with BM25 statistics and embeddings; ranks letters three ways."""

    def __init__(self, letters_dir: str | Path, embedder, idf: str = "lucene") -> None:
        """Read every .pdf/.txt under `letters_dir`; the letter id is the file's stem (its case
        number for the dev letters)."""
        self.chunk_letter: list[str] = []
        texts: list[str] = []
        paths = sorted(
            p
            for p in Path(letters_dir).rglob("*")
            if p.is_file() and p.suffix.lower() in LETTER_SUFFIXES
        )
        for path in paths:
            text = normalize_pages(read_pages(str(path)))
            for chunk in word_chunks(text):
                self.chunk_letter.append(path.stem)
                texts.append(chunk)
        self.letters = sorted(set(self.chunk_letter))
        self.chunk_texts = texts
        self.bm25 = BM25([tokenize(t) for t in texts], idf=idf)
        self.embedder = embedder
        self.vectors = embedder.embed_documents(texts)

    def chunk_rankings(self, query: str) -> tuple[list[int], list[int], dict[int, float]]:
        """Chunk positions ranked by BM25 (score > 0 only) and by cosine, plus the RRF scores."""
        bm = self.bm25.scores(tokenize(query))
        # Ties broken by chunk position so runs are deterministic.
        bm_rank = [int(i) for i in np.lexsort((np.arange(len(bm)), -bm)) if bm[i] > 0]
        cos = self.vectors @ self.embedder.embed_query(query)
        dense_rank = [int(i) for i in np.lexsort((np.arange(len(cos)), -cos))]
        fused: dict[int, float] = {}
        for ranking in (bm_rank, dense_rank):
            for rank, i in enumerate(ranking, start=1):
                fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank)
        return bm_rank, dense_rank, fused

    def rank(self, query: str) -> dict[str, list[str]]:
        """Letters ranked by their best chunk, for each of "bm25", "dense" and "rrf"."""
        bm_rank, dense_rank, fused = self.chunk_rankings(query)
        rrf_rank = sorted(fused, key=lambda i: (-fused[i], i))
        return {
            "bm25": _letters_in_order(bm_rank, self.chunk_letter),
            "dense": _letters_in_order(dense_rank, self.chunk_letter),
            "rrf": _letters_in_order(rrf_rank, self.chunk_letter),
        }


def _letters_in_order(chunk_ranking: list[int], chunk_letter: list[str]) -> list[str]:
    """Letters in the order of their best-ranked chunk (max-chunk scoring)."""
    return list(dict.fromkeys(chunk_letter[i] for i in chunk_ranking))
