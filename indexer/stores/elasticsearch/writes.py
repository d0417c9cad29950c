"""`ElasticsearchStore`'s writes: `upsert` and `delete`, through the bulk API.

Upsert order
------------
`upsert` never leaves a letter absent from the index, nor a record naming chunks that are not
exactly the letter's: it (1) indexes the new chunk documents under their stable ids (a chunk
that still exists is overwritten in place), (2) finds the letter's chunks whose ids are not
among the new ones (left-overs of a longer earlier version) and deletes them by id, then (3)
indexes the records of the letters for which both succeeded (the record carries the
fingerprint, so it is the "commit" of a letter), and (4) refreshes (not during a rebuild, which
is refreshed once at its end). A letter with any rejected chunk or stale chunk not removed is
reported in `IndexReport.failed`; its record is not written, so an earlier version's
fingerprint (or none) stays and the next run tries it again; a new letter's chunks are removed
again, so none is searchable without its record. `delete` removes chunks first, then records.
Neither uses `_delete_by_query`: the distribution on Maven Central has no reindex module.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from ...documents import LetterDocs
from ...schema import index_definition
from ..base import IndexReport
from .bulk import _bulk_error, chunk_actions, letter_actions, vectors_problem
from .errors import StoreError
from .requests import (
    MAX_TERMS,
    _batches_by_terms,
    build_delete_letters_query,
    build_stale_chunks_query,
)

# The package's logger, named as before the package was split into modules.
log = logging.getLogger(__package__)


class WritesMixin:
    """`ElasticsearchStore`'s methods that write letters and delete them."""

    #: A bulk item (or a whole bulk request) refused with one of these statuses (an overloaded
    #: node: es_rejected_execution_exception is 429; an unavailable shard 503) is sent again,
    #: up to `bulk_retries` times, after 1, 2, 4 ... seconds (at most `bulk_max_backoff`);
    #: indexing under an explicit id makes a repeat harmless. What is still refused then is
    #: reported per letter, never dropped.
    BULK_RETRY_STATUSES = (429, 503)
    bulk_retries = 3
    bulk_initial_backoff = 1.0
    bulk_max_backoff = 30.0

    def _bulk(self, actions: Iterator[dict[str, Any]]) -> Iterator[tuple[bool, dict[str, Any]]]:
        from elasticsearch.helpers import streaming_bulk

        return streaming_bulk(
            self._slow(),
            actions,
            chunk_size=500,
            max_chunk_bytes=20 * 1024 * 1024,
            raise_on_error=False,
            raise_on_exception=False,
            max_retries=self.bulk_retries,
            initial_backoff=self.bulk_initial_backoff,
            max_backoff=self.bulk_max_backoff,
            retry_on_status=self.BULK_RETRY_STATUSES,
        )

    def _bulk_failure(self, item: dict[str, Any]) -> str:
        """Why a bulk item failed, saying so when it was refused through every retry."""
        reason = _bulk_error(item)
        if item.get("status") in self.BULK_RETRY_STATUSES and self.bulk_retries:
            reason += f" (still refused after {self.bulk_retries} retries)"
        return reason

    def _write_records(
        self, letters: list[LetterDocs], index: str, indexed_at: str, failures: dict[str, str]
    ) -> None:
        """Index the letters' records; a letters index created before a field was added to
        mappings/letters.json gets the field (`_mapping`) and the refused records again."""
        unmapped: list[LetterDocs] = []
        by_id = {ld.letter_id: ld for ld in letters}
        for attempt in range(2):
            with self._calls(f"indexing letters into {index}"):
                for ok, info in self._bulk(letter_actions(letters, index, indexed_at)):
                    if ok:
                        continue
                    item = next(iter(info.values()))
                    letter_id = str(item.get("_id"))
                    error = item.get("error")
                    kind = error.get("type") if isinstance(error, dict) else None
                    if attempt == 0 and kind == "strict_dynamic_mapping_exception":
                        unmapped.append(by_id[letter_id])
                        continue
                    failures.setdefault(letter_id, f"record: {self._bulk_failure(item)}")
            if not unmapped:
                return
            properties = index_definition("letters")["mappings"]["properties"]
            with self._calls(f"adding the new fields of mappings/letters.json to {index}"):
                self._slow().indices.put_mapping(index=index, properties=properties)
            log.info("added the new letter fields to the mapping of %s", index)
            letters, unmapped = unmapped, []

    def upsert(self, letters: list[LetterDocs]) -> IndexReport:
        """Write whole letters, replacing earlier versions (order: see the module docstring)."""
        report = IndexReport()
        if not letters:
            return report
        chunks_index, letters_index = self._write_targets()
        latest = {ld.letter_id: ld for ld in letters}  # the last version of a repeated letter
        failures: dict[str, str] = {}
        for letter in latest.values():
            problem = vectors_problem(letter)
            if problem:
                failures[letter.letter_id] = problem
        ready = [ld for ld in latest.values() if ld.letter_id not in failures]
        owner = {doc["chunk_id"]: ld.letter_id for ld in ready for doc in ld.chunks}

        with self._calls(f"indexing chunks into {chunks_index}"):
            for ok, info in self._bulk(chunk_actions(ready, chunks_index)):
                if not ok:
                    item = next(iter(info.values()))
                    letter_id = owner.get(str(item.get("_id")), str(item.get("_id")))
                    reason = f"chunk {item.get('_id')}: {self._bulk_failure(item)}"
                    failures.setdefault(letter_id, reason)

        # Stale chunks go before the record is written: a record names a letter whose chunks
        # are exactly its new ones, so a failure here leaves the earlier record (or none) and
        # the next run tries the letter again.
        whole = {ld.letter_id: [d["chunk_id"] for d in ld.chunks] for ld in ready}
        whole = {k: v for k, v in whole.items() if k not in failures}
        for group in _batches_by_terms(whole):
            stale = self._ids_of(chunks_index, build_stale_chunks_query(group)["query"])
            for chunk_id, reason in self._delete_ids(chunks_index, stale).items():
                letter_id = chunk_id.partition(":")[0]
                failures.setdefault(
                    letter_id if letter_id in group else next(iter(group)),
                    f"stale chunk {chunk_id} not removed: {reason}",
                )

        indexed_at = datetime.now(UTC).isoformat(timespec="seconds")
        done = [ld for ld in ready if ld.letter_id not in failures]
        self._write_records(done, letters_index, indexed_at, failures)
        self._withdraw_new_letters(
            [ld for ld in ready if ld.letter_id in failures], chunks_index, letters_index
        )

        if self._target is None:  # a rebuild is refreshed once, when it is finished
            with self._calls(f"refreshing {chunks_index}, {letters_index}"):
                self._slow().indices.refresh(index=[chunks_index, letters_index])
        order = list(latest)
        report.failed = [(lid, failures[lid]) for lid in order if lid in failures]
        report.indexed = len(order) - len(report.failed)
        return report

    def _withdraw_new_letters(
        self, letters: list[LetterDocs], chunks_index: str, letters_index: str
    ) -> None:
        """Remove the chunks written for failed letters that have no record (new letters), so
        no chunk is searchable without its letter; a letter with an earlier record keeps it,
        and its fingerprint makes the next run try the letter again."""
        if not letters:
            return
        ids = [ld.letter_id for ld in letters]
        with self._calls(f"reading letter records from {letters_index}"):
            found = self.client.mget(index=letters_index, ids=ids, source=False)
        recorded = {d["_id"] for d in found.get("docs", []) if d.get("found")}
        # By id: the chunks just written are not yet visible to a search.
        written = [
            d["chunk_id"] for ld in letters if ld.letter_id not in recorded for d in ld.chunks
        ]
        if written:
            for chunk_id, reason in self._delete_ids(chunks_index, written).items():
                log.warning("chunk %s of a failed letter not removed: %s", chunk_id, reason)

    def _ids_of(self, index: str, query: dict[str, Any]) -> list[str]:
        """Every document id in `index` that `query` matches (a scroll: any number)."""
        from elasticsearch.helpers import scan

        with self._calls(f"listing documents of {index}"):
            return [
                hit["_id"]
                for hit in scan(
                    self.client,
                    query={"query": query, "_source": False},
                    index=index,
                    size=1000,
                    scroll="2m",
                    request_timeout=self.request_timeout,
                )
            ]

    def _delete_ids(self, index: str, ids: list[str]) -> dict[str, str]:
        """Delete documents by id in bulk; return id -> why, for each one not deleted (a
        document already gone counts as deleted)."""
        actions = ({"_op_type": "delete", "_index": index, "_id": i} for i in ids)
        failed: dict[str, str] = {}
        with self._calls(f"deleting documents from {index}"):
            for ok, info in self._bulk(actions):
                item = next(iter(info.values()))
                if not ok and item.get("status") != 404:
                    failed[str(item.get("_id"))] = self._bulk_failure(item)
        return failed

    def _raise_if_failed(
        self, failed: dict[str, str], what: str, index: str, consequence: str = ""
    ) -> None:
        """Raise StoreError naming how many documents were not deleted and the first reason."""
        if failed:
            first, reason = next(iter(failed.items()))
            raise StoreError(
                f"Elasticsearch at {self.url} failed deleting {len(failed)} {what} from "
                f"{index} (first: {first}: {reason}){consequence}"
            )

    def delete(self, letter_ids: list[str]) -> int:
        """Remove letters and all their chunks; return how many letter records existed.

        Chunks go first: a letter whose chunks could not all be removed keeps its record (and
        StoreError says why), so it is still listed and can be deleted again.
        """
        ids = list(dict.fromkeys(letter_ids))
        if not ids:
            return 0
        chunks_index, letters_index = self._write_targets()
        for start in range(0, len(ids), MAX_TERMS):
            part = ids[start : start + MAX_TERMS]
            chunk_ids = self._ids_of(chunks_index, build_delete_letters_query(part)["query"])
            failed = self._delete_ids(chunks_index, chunk_ids)
            self._raise_if_failed(failed, "chunks", chunks_index, "; their letters are kept")
        with self._calls(f"reading letter records from {letters_index}"):
            found = self.client.mget(index=letters_index, ids=ids, source=False)
        existing = [d["_id"] for d in found.get("docs", []) if d.get("found")]
        failed = self._delete_ids(letters_index, existing)
        self._raise_if_failed(failed, "letter records", letters_index)
        with self._calls(f"refreshing {chunks_index}, {letters_index}"):
            self._slow().indices.refresh(index=[chunks_index, letters_index])
        return len(existing)
