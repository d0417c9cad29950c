"""Build a large embedded index for the query benchmarks from a synthetic corpus.

    python bench/build_index.py CORPUS DATA_DIR --chunks 1000000 [--letters 5000]

Letters are parsed and chunked by the real pipeline (two processes). Two shortcuts make a
million-chunk index buildable in minutes instead of days on this 2-core machine, and both are
stated in BENCHMARKS.md:

- Vectors are *composed*, not embedded: every distinct word of the corpus is embedded once by the
  real all-MiniLM-L6-v2 model, and a chunk's vector is the mean of its content words' vectors,
  less the corpus mean, normalised. They live in the model's space (a query embedded by the
  model finds chunks about its words) and cluster like real embeddings, which is what HNSW
  recall and latency depend on.
  Embedding a million 256-token chunks for real takes about 15 hours with PyTorch on this CPU.
- Beyond the parsed letters, letters are *replicated* under new case numbers with their decision
  dates moved by whole years and their vectors perturbed (cosine about 0.93 to the original), so
  posting lists, facet cardinalities and the vector graph grow as with more letters.

The store is written through `EmbeddedStore.upsert` (SQLite, tantivy) in large batches, then
`prepare()` loads the columns and builds the HNSW graph; each phase's time is printed.
"""

from __future__ import annotations

import copy
import os
import pickle
import re
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import click
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from indexer.documents import LetterDocs  # noqa: E402
from indexer.stores.embedded import EmbeddedStore  # noqa: E402

_WORD = re.compile(r"[a-z][a-z0-9\-]{2,}")
_STOP = set(
    "the and for with was that this has have are not were been from which his her per "
    "patient request medical treatment guidelines noted dated".split()
)


def _parse(paths: list[str]) -> list[LetterDocs]:
    from indexer.pipeline import read_letters

    return list(read_letters(paths, lambda source, reason: None))


def parse_corpus(corpus: Path, letters: int, cache: Path) -> list[LetterDocs]:
    """Parse and chunk the first `letters` letters of the corpus (cached in `cache`)."""
    if cache.exists():
        docs = pickle.loads(cache.read_bytes())
        if len(docs) >= letters:
            return docs[:letters]
    files = sorted(str(p) for p in corpus.rglob("*.txt"))[:letters]
    batches = [files[i : i + 50] for i in range(0, len(files), 50)]
    docs: list[LetterDocs] = []
    with Pool(os.cpu_count() or 2) as pool:
        for part in pool.imap(_parse, batches):
            docs.extend(part)
    cache.write_bytes(pickle.dumps(docs))
    return docs


def compose_vectors(docs: list[LetterDocs], embedder) -> None:
    """Give every chunk the normalised mean of its content words' model vectors."""
    chunk_words = []
    vocab: dict[str, int] = {}
    for letter in docs:
        for chunk in letter.chunks:
            words = {w for w in _WORD.findall((chunk.get("text") or "").lower()) if w not in _STOP}
            chunk_words.append([vocab.setdefault(w, len(vocab)) for w in words])
    word_vectors = embedder.embed_documents(list(vocab))
    fallback = word_vectors.mean(axis=0)
    sums = np.stack([word_vectors[ids].mean(axis=0) if ids else fallback for ids in chunk_words])
    # Means of many word vectors all lie close to the corpus mean (pairwise cosines above 0.98),
    # which real embeddings do not. Taking the mean out shifts every chunk's dot product with a
    # query by the same amount, so rankings keep their order, and spreads the vectors as real
    # ones are (HNSW on the uncentred ones found 4 of the 10 true neighbours).
    sums -= sums.mean(axis=0)
    sums /= np.linalg.norm(sums, axis=1, keepdims=True)
    i = 0
    for letter in docs:
        letter.vectors = sums[i : i + len(letter.chunks)].astype(np.float32)
        i += len(letter.chunks)


def replica(letter: LetterDocs, n: int, rng: np.random.Generator) -> LetterDocs:
    """Return copy `n` of a letter under a new id, dates moved by n years, vectors perturbed."""
    new_id = f"{letter.letter_id}-R{n}"
    chunks = []
    for chunk in letter.chunks:
        c = copy.copy(chunk)
        c["letter_id"] = new_id
        c["chunk_id"] = new_id + chunk["chunk_id"][len(letter.letter_id) :]
        if c.get("item_id"):
            c["item_id"] = new_id + chunk["item_id"][len(letter.letter_id) :]
        for f in ("decision_date", "date_of_injury"):
            if c.get(f):
                year = int(c[f][:4]) - (n % 8)
                c[f] = f"{year}{c[f][4:]}".replace("-02-29", "-02-28")
        if c.get("decision_date"):
            c["decision_year"] = c["decision_date"][:4]
            c["decision_month"] = c["decision_date"][:7]
        chunks.append(c)
    noise = rng.normal(scale=0.02, size=letter.vectors.shape).astype(np.float32)
    vecs = letter.vectors + noise
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return LetterDocs(
        new_id,
        letter.source,
        letter.fingerprint,
        letter.record,
        letter.text,
        letter.original_text,
        chunks,
        vecs,
    )


@click.command()
@click.argument("corpus", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("data_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--chunks", "target", type=int, required=True, help="Chunks to index.")
@click.option("--letters", type=int, default=5000, help="Letters to parse (the rest replicate).")
@click.option("--batch", type=int, default=3000, help="Letters per write.")
def main(corpus: Path, data_dir: Path, target: int, letters: int, batch: int) -> None:
    """Build an embedded index of about TARGET chunks under DATA_DIR from CORPUS."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from indexer.embedder import Embedder

    t0 = time.perf_counter()
    docs = parse_corpus(corpus, letters, corpus / f".parsed-{letters}.pickle")
    base_chunks = sum(len(d.chunks) for d in docs)
    print(f"parsed {len(docs)} letters, {base_chunks} chunks: {time.perf_counter() - t0:.0f} s")
    t0 = time.perf_counter()
    compose_vectors(docs, Embedder(cache_path=corpus / ".word-vectors.sqlite"))
    print(f"composed vectors: {time.perf_counter() - t0:.0f} s")
    store = EmbeddedStore(data_dir)
    rng = np.random.default_rng(1)
    t0 = time.perf_counter()
    written, n, pending = 0, 0, []
    while written < target:
        for letter in docs:
            if written >= target:
                break
            pending.append(letter if n == 0 else replica(letter, n, rng))
            written += len(letter.chunks)
            if len(pending) >= batch:
                store.upsert(pending)
                pending = []
                print(f"  {written} chunks, {time.perf_counter() - t0:.0f} s", flush=True)
        n += 1
    if pending:
        store.upsert(pending)
    print(f"wrote {written} chunks: {time.perf_counter() - t0:.0f} s")
    t0 = time.perf_counter()
    store.prepare()
    print(f"prepared (columns, vector graph): {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
