"""`ElasticsearchStore`'s reads: searches, counts, letters and their chunks.

Scores
------
Keyword hits carry Elasticsearch's BM25 score, with term statistics from every shard
(`dfs_query_then_fetch`) and one set of shard copies per query (`preference`). The embedding
field uses ``dot_product`` similarity over unit vectors, for which Elasticsearch scores a kNN
hit ``(1 + dot) / 2``; `knn` converts that back to the cosine similarity ``2 * score - 1`` so
that both stores report the same number.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ...query_text import Clause, ParsedQuery
from ..base import (
    RANKING_FIELDS,
    ChunkHit,
    FileStamp,
    Filters,
    IndexedLetter,
    PartialDoc,
)
from ..snippets import highlight_texts

# COMPOSITE_PAGE is read through its module, so that one patch of it (as the tests do) changes
# both the request bodies and the paging here.
from . import requests
from .errors import StoreError, StoreUnavailable, _is_missing_index
from .requests import (
    MAX_WINDOW,
    build_count_letters,
    build_docs_search,
    build_facet_aggs,
    build_facet_pages,
    build_fingerprints_search,
    build_indexed_letters_search,
    build_keyword_search,
    build_knn_search,
    build_letter_chunks_search,
    build_stats_aggs,
)

LETTER_FIELDS = ("letter_id", "source", "fingerprint", "chunk_count", "indexed_at", "record",
                 "text", "original_text", "file_sha256")  # fmt: skip


def _hit(raw: dict[str, Any], score: float | None = None) -> ChunkHit:
    """A hit holding its ranking fields (absent ones None) until `complete` reads the rest."""
    src = raw.get("_source") or {}
    doc = PartialDoc({name: src.get(name) for name in RANKING_FIELDS})
    return ChunkHit(
        chunk_id=doc["chunk_id"] or raw.get("_id", ""),
        letter_id=doc["letter_id"] or "",
        score=float(raw.get("_score") or 0.0) if score is None else score,
        doc=doc,
    )


def cosine_from_score(score: float) -> float:
    """Return the cosine similarity of a kNN hit from its `dot_product` score `(1 + dot) / 2`."""
    return 2.0 * float(score) - 1.0


def _preference(body: dict[str, Any]) -> str:
    """A preference string of the query: the same query goes to the same shard copies."""
    text = json.dumps(body.get("query"), sort_keys=True, default=str)
    return "q" + hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


class ReadsMixin:
    """`ElasticsearchStore`'s methods that search and read."""

    #: A search answered by only some shards is asked again this many times, after 0.5 s,
    #: then 1 s (time for a replica to be promoted when a node is lost).
    shard_retries = 2
    shard_retry_wait = 0.5

    def _search(
        self, index: str, body: dict[str, Any], action: str, scored: bool = False
    ) -> dict[str, Any] | None:
        """Run a search; None when the index does not exist (nothing indexed yet).

        An answer missing some shards (a node lost, a copy relocating) is asked again, up to
        `shard_retries` times, then raises StoreUnavailable: incomplete counts and hits never
        pass as complete. A `scored` search gathers term statistics from every shard first
        (`dfs_query_then_fetch`: BM25 scores do not depend on how documents fall into shards;
        Elasticsearch skips that step on a one-shard index) and asks the same shard copies
        for the same query (`preference`), so page 2 follows page 1's order.
        """
        from elasticsearch import NotFoundError

        self._check_version()
        options: dict[str, Any] = {}
        if scored:
            options["search_type"] = "dfs_query_then_fetch"
            options["preference"] = _preference(body)
        for attempt in range(self.shard_retries + 1):
            try:
                with self._calls(action):
                    resp = self.client.search(index=index, body=body, **options).body
            except StoreError as exc:
                cause = exc.__cause__
                if isinstance(cause, NotFoundError) and _is_missing_index(cause):
                    return None
                raise
            shards = resp.get("_shards") or {}
            if not shards.get("failed"):
                return resp
            if attempt < self.shard_retries:
                time.sleep(self.shard_retry_wait * (attempt + 1))
        cause = (shards.get("failures") or [{}])[0].get("reason") or {}
        reason = ": ".join(str(cause[k]) for k in ("type", "reason") if cause.get(k)) or "?"
        raise StoreUnavailable(
            f"Elasticsearch at {self.url} answered {action} from only "
            f"{shards.get('successful', 0)} of {shards.get('total', '?')} shards "
            f"(after {self.shard_retries} retries): {reason}"
        )

    def fingerprints(self) -> dict[str, tuple[str, str]]:
        """Return letter_id -> (source, fingerprint) for every indexed letter."""
        out: dict[str, tuple[str, str]] = {}
        for letter_id, src in self._scan_letters(
            build_fingerprints_search(), f"reading fingerprints from {self.letters_alias}"
        ):
            out[letter_id] = (src.get("source", ""), src.get("fingerprint", ""))
        return out

    def indexed_letters(self) -> dict[str, IndexedLetter]:
        """Return letter_id -> source, fingerprint and file stamp of every indexed letter."""
        out: dict[str, IndexedLetter] = {}
        for letter_id, src in self._scan_letters(
            build_indexed_letters_search(),
            f"reading the indexed letters from {self.letters_alias}",
        ):
            sha = src.get("file_sha256")
            stamp = None
            if sha:
                size, mtime = src.get("file_size"), src.get("file_mtime_ns")
                stamp = FileStamp(
                    sha,
                    int(size or 0),
                    None if mtime is None else int(mtime),
                    src.get("parser") or "",
                )
            count = src.get("chunk_count")
            out[letter_id] = IndexedLetter(
                letter_id,
                src.get("source", ""),
                src.get("fingerprint", ""),
                stamp,
                None if count is None else int(count),
            )
        return out

    def _scan_letters(self, query: dict, action: str) -> list[tuple[str, dict]]:
        """Every letter record's id and source fields; none when the letters index is missing."""
        from elasticsearch import NotFoundError
        from elasticsearch.helpers import scan

        out = []
        try:
            with self._calls(action):
                # scan's own default is no time-out at all: a stalled node would hang us.
                for hit in scan(
                    self.client,
                    query=query,
                    index=self.letters_alias,
                    size=1000,
                    scroll="2m",
                    request_timeout=self.request_timeout,
                ):
                    src = hit.get("_source") or {}
                    out.append((src.get("letter_id", hit["_id"]), src))
        except StoreError as exc:
            cause = exc.__cause__
            if isinstance(cause, NotFoundError) and _is_missing_index(cause):
                return []
            raise
        return out

    def _count(self, index: str) -> int:
        from elasticsearch import NotFoundError

        try:
            with self._calls(f"counting {index}"):
                return int(self.client.count(index=index)["count"])
        except StoreError as exc:
            cause = exc.__cause__
            if isinstance(cause, NotFoundError) and _is_missing_index(cause):
                return 0
            raise

    def cluster_status(self) -> str:
        """Return the health of this store's indices: "green", "yellow" (a replica missing) or
        "red" (a shard with no copy); "green" before anything is indexed."""
        indices = self._alias_targets(self.alias) + self._alias_targets(self.letters_alias)
        if not indices:
            return "green"
        with self._calls("reading the cluster health"):
            resp = self.client.options(ignore_status=408).cluster.health(index=indices)
        return str(resp.get("status", "red"))

    def counts(self) -> tuple[int, int]:
        """Return the number of letters and of chunks indexed."""
        return self._count(self.letters_alias), self._count(self.alias)

    def keyword(
        self, query: ParsedQuery | None, filters: Filters, size: int, sort: str = "relevance"
    ) -> tuple[list[ChunkHit], int]:
        """Return the best `size` chunks by BM25 (or newest first) and the number matching
        (exact up to 10,000, a lower bound beyond)."""
        body = build_keyword_search(query, filters, size, sort)
        resp = self._search(self.alias, body, "searching", scored=True)
        if resp is None:
            return [], 0
        total = resp["hits"].get("total") or {}
        count = int(total.get("value", 0)) if isinstance(total, dict) else int(total)
        return [_hit(h) for h in resp["hits"]["hits"]], count

    def knn(
        self, vector: np.ndarray, filters: Filters, k: int, stored: bool = False
    ) -> list[ChunkHit]:
        """Return the `k` chunks nearest to `vector` the filters allow, scored by cosine
        (`stored` changes nothing here: the request's num_candidates is kept)."""
        if k <= 0:
            return []
        resp = self._search(self.alias, build_knn_search(vector, filters, k), "searching")
        if resp is None:
            return []
        return [_hit(h, cosine_from_score(h.get("_score") or 0.0)) for h in resp["hits"]["hits"]]

    def knn_many(
        self, vectors: np.ndarray, filters: Filters, k: int, stored: bool = False
    ) -> list[list[ChunkHit]]:
        """Return `knn` of each row of `vectors`, in order."""
        return [self.knn(vector, filters, k, stored) for vector in vectors]

    def highlight(self, query: ParsedQuery, hits: list[ChunkHit]) -> dict[str, list[str]]:
        """Return chunk_id -> highlighted fragments (HTML) of the query's words (`snippets`)."""
        if not hits or not query.positive:
            return {}
        self.complete(hits)
        return highlight_texts(
            query, [(h.chunk_id, h.doc.get("text") or "") for h in hits if "text" in h.doc]
        )

    def facet_counts(
        self, query: ParsedQuery | None, filters: Filters, facets: list[str]
    ) -> dict[str, dict[str, int]]:
        """Count, for each value of each facet, the letters with a matching chunk that has it."""
        out: dict[str, dict[str, int]] = {name: {} for name in facets}
        if not facets:
            return out
        try:
            resp = self._search(self.alias, build_facet_aggs(query, filters, facets), "counting")
        except StoreError as exc:
            if "too_many_buckets" not in str(exc):
                raise
            resp, more = {}, list(facets)  # more values in all than one answer may hold
        else:
            if resp is None:
                return out
            more = []
            for name in facets:
                agg = (resp.get("aggregations") or {}).get(name) or {}
                if agg.get("sum_other_doc_count"):
                    more.append(name)
                    continue
                for bucket in agg.get("buckets", []):
                    count = int(bucket["letters"]["value"])
                    if count:
                        out[name][str(bucket["key"])] = count
        if more:
            out.update(self._facet_pages(query, filters, more))
        # Most letters first, then by value, as the embedded store orders them.
        return {
            name: dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
            for name, counts in out.items()
        }

    def _facet_pages(
        self, query: ParsedQuery | None, filters: Filters, facets: list[str]
    ) -> dict[str, dict[str, int]]:
        """Count facets with more values than one `terms` aggregation holds, page by page."""
        out: dict[str, dict[str, int]] = {name: {} for name in facets}
        after: dict[str, dict[str, Any]] = {}
        pending = list(facets)
        while pending:
            body = build_facet_pages(query, filters, pending, after)
            resp = self._search(self.alias, body, "counting")
            if resp is None:
                return out
            aggs = resp.get("aggregations") or {}
            for name in list(pending):
                agg = aggs.get(name) or {}
                buckets = agg.get("buckets", [])
                for bucket in buckets:
                    count = int(bucket["letters"]["value"])
                    if count:
                        out[name][str(bucket["key"][name])] = count
                if len(buckets) < requests.COMPOSITE_PAGE or not agg.get("after_key"):
                    pending.remove(name)
                else:
                    after[name] = agg["after_key"]
        return out

    def count_letters(self, query: ParsedQuery | None, filters: Filters) -> int:
        """Return the number of letters with at least one matching chunk."""
        resp = self._search(self.alias, build_count_letters(query, filters), "counting")
        if resp is None:
            return 0
        return int(resp["aggregations"]["letters"]["value"])

    def stats(
        self, query: ParsedQuery | None, filters: Filters, by: str
    ) -> dict[str, dict[str, int]]:
        """Count items per value of `by` and per decision ("upheld"/"overturned")."""
        out: dict[str, dict[str, int]] = {}
        after = None
        while True:
            resp = self._search(self.alias, build_stats_aggs(query, filters, by, after), "counting")
            if resp is None:
                return out
            agg = resp["aggregations"]["by"]
            for bucket in agg["buckets"]:
                counts = out.setdefault(str(bucket["key"]["by"]), {"upheld": 0, "overturned": 0})
                counts[str(bucket["key"]["decision"])] = int(bucket["doc_count"])
            after = agg.get("after_key")
            if len(agg["buckets"]) < requests.COMPOSITE_PAGE or not after:
                return out

    def letter(self, letter_id: str) -> dict[str, Any] | None:
        """Return a letter's record, texts, source, fingerprint and file hash, or None."""
        from elasticsearch import NotFoundError

        try:
            with self._calls(f"reading letter {letter_id}"):
                resp = self.client.get(index=self.letters_alias, id=letter_id)
        except StoreError as exc:
            if isinstance(exc.__cause__, NotFoundError):
                return None
            raise
        if not resp.get("found", True):
            return None
        src = resp.get("_source") or {}
        return {name: src.get(name) for name in LETTER_FIELDS}

    def complete(self, hits: list[ChunkHit]) -> None:
        """Read the whole documents of hits that hold only their ranking fields."""
        partial = [h for h in hits if isinstance(h.doc, PartialDoc)]
        if not partial:
            return
        ids = list(dict.fromkeys(h.chunk_id for h in partial))
        docs: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), MAX_WINDOW):
            body = build_docs_search(ids[start : start + MAX_WINDOW])
            resp = self._search(self.alias, body, "reading the chunks shown")
            for raw in (resp or {}).get("hits", {}).get("hits", []):
                docs[raw["_id"]] = dict(raw.get("_source") or {})
        for h in partial:
            # Deleted since it was ranked: what is known, with no other field, beats an error.
            h.doc = docs.get(h.chunk_id) or dict(h.doc)

    def letter_chunks(self, letter_id: str, embeddings: bool = True) -> list[dict[str, Any]]:
        """Return a letter's chunk documents in order, each with its `embedding` list if asked."""
        # `exclude_vectors` came in 9.2; 9.1 returns vectors in `_source` anyway.
        body = build_letter_chunks_search(
            letter_id, embeddings, exclude_vectors=self.server_version() >= (9, 2)
        )
        resp = self._search(self.alias, body, f"reading chunks of {letter_id}")
        if resp is None:
            return []
        return [dict(h["_source"]) for h in resp["hits"]["hits"]]

    def letter_shares(self, clauses: Sequence[Clause]) -> list[float]:
        """Return, for each word or phrase, the share of the index's letters that hold it."""
        letters = self.counts()[0]
        if not letters:
            return [0.0] * len(clauses)
        return [
            self.count_letters(ParsedQuery((replace(c, occur="should"),)), Filters()) / letters
            for c in clauses
        ]
