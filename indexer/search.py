"""The search service: one API over either store for keyword, semantic and hybrid search with
facets, similar cases and decision statistics."""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from html import escape
from typing import Any

import numpy as np

from .query_text import MAX_QUERY_CHARS, Clause, ParsedQuery, parse_query
from .ranking import about_named_treatment, letter_pair_score, rank_chunks, rrf
from .schema import DATE_FIELDS, facet_fields, facet_names
from .stores.base import ChunkHit, Filters, Store
from .threads import shared_pool, spare_core
from .understand import Intent, Suggestion, read_intent, suggestions

MODES = ("hybrid", "keyword", "semantic")
SORTS = ("relevance", "newest")
#: Chunks each retriever contributes before grouping by letter.
CANDIDATES = 200
#: Cosine similarity below which a chunk is no semantic match at all.
MIN_SIMILARITY = 0.25
#: A passage found only by meaning is a result (listed and counted in the total and facets)
#: when its cosine similarity is at least this and within `SCOPE_MARGIN` of the closest
#: passage's, or when it is about a treatment the query names. Chosen on bench/judged/tune.json
#: (semantic nDCG@10; letters counted for "Lyrica for neuropathic pain" of the 55 samples):
#: (0.40, 0.15) 0.874, 10 letters, and no result at all for everyday words such as "sound wave
#: treatment" (no passage above 0.40); (0.30, 0.10) 0.906, 7; (0.30, 0.15) 0.909, 14;
#: (0.30, 0.20) 0.909, 26. On the held-out part (0.30, 0.10) lost 0.015 and (0.30, 0.15) none.
SCOPE_SIMILARITY = 0.30
SCOPE_MARGIN = 0.15
#: An optional word held by more than this share of the letters is left out of a search's count
#: when the query has rarer words (it still ranks).
COMMON_SHARE = 0.9
#: The most chunks one search fetches from a retriever to fill a deep page.
MAX_DEPTH = 10_000
#: Most of a letter's chunks whose neighbours a similar-cases search looks up (a real letter
#: has up to about 15).
SIMILAR_SOURCES = 32
#: Best chunks shown under each letter.
CHUNKS_PER_LETTER = 3
MAX_PER_PAGE = 100
#: Deepest a search lists (letters); deeper pages are refused (Elasticsearch pages 10,000 hits).
MAX_RESULTS = 1_000
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


class SearchError(ValueError):
    """A request the user must change (bad mode, facet, date or page): HTTP 400."""


@dataclass(frozen=True)
class SearchRequest:
    """Everything that defines one search; it round-trips through a URL's query string."""

    q: str = ""
    mode: str = "hybrid"
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    decision_from: str | None = None
    decision_to: str | None = None
    injury_from: str | None = None
    injury_to: str | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int = 10

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> SearchRequest:
        """Build a request from query-string style parameters, validating every value.

        `params` maps names to a string or a list of strings; facet filters are given by facet
        name (`decision=upheld&decision=overturned`).
        """

        def one(name: str, default: str | None = None) -> str | None:
            value = params.get(name, default)
            if isinstance(value, list | tuple):
                value = value[0] if value else default
            return value if value not in ("", None) else default

        def many(name: str) -> tuple[str, ...]:
            value = params.get(name, ())
            values = [value] if isinstance(value, str) else list(value)
            return tuple(dict.fromkeys(v for v in values if v))

        _refuse_surrogates(params)
        q = one("q", "") or ""
        if len(q) > MAX_QUERY_CHARS * 25:
            raise SearchError(
                f"query too long ({len(q)} characters; the limit is {MAX_QUERY_CHARS * 25})"
            )
        mode = one("mode", "hybrid")
        if mode not in MODES:
            raise SearchError(f"unknown mode {mode!r} (expected one of {', '.join(MODES)})")
        sort = one("sort", "relevance")
        if sort not in SORTS:
            raise SearchError(f"unknown sort {sort!r} (expected one of {', '.join(SORTS)})")
        filters = tuple((f, many(f)) for f in facet_names() if many(f))
        dates = {}
        for name in ("decision_from", "decision_to", "injury_from", "injury_to"):
            value = one(name)
            if value is not None and not _valid_date(value):
                raise SearchError(f"{name} must be a date as YYYY-MM-DD, not {value!r}")
            dates[name] = value
        page = _positive_int(one("page", "1"), "page", 10_000)
        per_page = _positive_int(one("per_page", "10"), "per_page", MAX_PER_PAGE)
        if page * per_page > MAX_RESULTS:
            raise SearchError(
                f"page {page} of {per_page} results goes beyond the first {MAX_RESULTS:,} letters "
                "a search lists; narrow the search with words or filters"
            )
        return cls(q.strip(), mode, filters, sort=sort, page=page, per_page=per_page, **dates)

    def to_params(self) -> list[tuple[str, str]]:
        """Return the request as query-string pairs, defaults left out, in a stable order."""
        pairs: list[tuple[str, str]] = []
        if self.q:
            pairs.append(("q", self.q))
        if self.mode != "hybrid":
            pairs.append(("mode", self.mode))
        for facet, values in self.filters:
            pairs += [(facet, v) for v in values]
        for name in ("decision_from", "decision_to", "injury_from", "injury_to"):
            if getattr(self, name):
                pairs.append((name, getattr(self, name)))
        if self.sort != "relevance":
            pairs.append(("sort", self.sort))
        if self.page != 1:
            pairs.append(("page", str(self.page)))
        if self.per_page != 10:
            pairs.append(("per_page", str(self.per_page)))
        return pairs

    def store_filters(self) -> Filters:
        """Return the store-level filters this request asks for."""
        ranges = []
        if self.decision_from or self.decision_to:
            ranges.append(("decision_date", self.decision_from, self.decision_to))
        if self.injury_from or self.injury_to:
            ranges.append(("date_of_injury", self.injury_from, self.injury_to))
        return Filters(terms=self.filters, date_ranges=tuple(ranges))


@dataclass
class LetterHit:
    """A letter in the results, with its best matching chunks."""

    letter_id: str
    score: float
    chunks: list[ChunkHit]

    @property
    def doc(self) -> dict[str, Any]:
        """The best chunk's stored fields (case number, dates and letter-level facets)."""
        return self.chunks[0].doc


@dataclass(slots=True)
class FacetValue:
    """One value of a facet with its letter count and whether the user selected it."""

    value: str
    count: int
    selected: bool


@dataclass
class SearchResult:
    """One page of letters with facet counts, a monthly histogram and timing."""

    request: SearchRequest
    hits: list[LetterHit]
    total: int  # letters
    facets: dict[str, list[FacetValue]]
    histogram: dict[str, int]  # "YYYY-MM" -> letters
    took_ms: float
    notes: list[str] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)  # filters the query implies

    @property
    def pages(self) -> int:
        """Number of pages of results."""
        return max(1, math.ceil(self.total / self.request.per_page))


@dataclass
class SimilarHit:
    """A letter or item near the source, with what it shares with it."""

    letter_id: str
    item_id: str | None
    score: float
    chunk: ChunkHit
    shared: dict[str, list[str]]

    @property
    def explanation(self) -> str:
        """What the two have in common, in words."""
        if not self.shared:
            return "similar wording"
        parts = [
            f"{_FACET_LABELS.get(k, k).lower()}: {', '.join(v)}" for k, v in self.shared.items()
        ]
        return "same " + "; same ".join(parts)


@dataclass
class StatsRow:
    """Upheld and overturned item counts for one facet value, with the overturn rate."""

    value: str
    upheld: int
    overturned: int

    @property
    def total(self) -> int:
        """Items decided."""
        return self.upheld + self.overturned

    @property
    def overturn_rate(self) -> float:
        """Share of items overturned."""
        return self.overturned / self.total if self.total else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """The 95% Wilson score interval of the overturn rate."""
        return wilson_interval(self.overturned, self.total)


_FACET_LABELS = {f.name: f.facet_label or f.name for f in facet_fields()}
#: Facets an item has one value of at most: statistics by them list the items without one.
_ONE_PER_ITEM = ("treatment_name", "treatment_class", "treatment_category")
#: The statistics row of the items without a value of the facet.
NO_VALUE = "(none)"
_SHARED_FACETS = (
    "treatment_name",
    "treatment_class",
    "guideline_section",
    "decision",
    "reviewer_specialty",
)


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Return the Wilson score interval for a proportion (95% by default)."""
    if n == 0:
        return (0.0, 0.0)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


class SearchService:
    """Search, similar cases, statistics and letters, over one store."""

    def __init__(self, store: Store, embedder: Callable[[], Any]) -> None:
        """`embedder` returns the Embedder when first needed (loading it takes seconds)."""
        self.store = store
        self._embedder_factory = embedder
        self._embedder = None

    @property
    def embedder(self):
        """The embedding model, loaded on first use."""
        if self._embedder is None:
            self._embedder = self._embedder_factory()
        return self._embedder

    # -- search ----------------------------------------------------------------------------

    def search(self, request: SearchRequest) -> SearchResult:
        """Run a search: ranked letters for the page, facet counts, histogram."""
        started = time.perf_counter()
        filters = request.store_filters()
        intent, parsed, long_text = self._understand(request)
        notes = []
        if request.q and parsed.is_empty and not parsed.negative and request.mode == "keyword":
            notes.append("The query has no words to search for.")
        start = (request.page - 1) * request.per_page
        depth = max(CANDIDATES, 4 * (start + request.per_page))
        # Where the match set does not depend on the ranking (keyword, browsing), the counts
        # are made while the text index ranks: the embedded store's counting loops run outside
        # the interpreter lock, tantivy's ranking inside it.
        known = self._scope_before_ranking(request, parsed, long_text, filters)
        # One thread per server thread at most (`serve` runs 2 to 8 a process, 16 if told);
        # on a busy server, in this thread after ranking.
        counting = (
            shared_pool("imr-counts", 16).submit(self._counts, request, *known)
            if known and spare_core()
            else None
        )
        while True:
            ranking = self._rank(request, intent, parsed, long_text, filters, depth=depth)
            ranked, scope_query, scope_filters = ranking.hits, ranking.query, ranking.filters
            letters = _group(ranked)
            # Long letters take many chunks: fetch deeper until the page is full or nothing
            # more comes back.
            if (
                len(letters) >= start + request.per_page
                or len(ranked) < depth
                or depth >= MAX_DEPTH
            ):
                break
            depth = min(depth * 4, MAX_DEPTH)
        if request.sort == "newest":
            letters.sort(key=lambda h: (h.doc.get("decision_date") or "", h.score), reverse=True)
        if ranking.outcome_missing:
            notes.append(_outcome_note(intent))
        page = letters[start : start + request.per_page]
        self.store.complete([c for h in page for c in h.chunks])
        self._highlight(page, parsed)
        if counting is not None:
            total, facets, histogram = counting.result()
        else:
            total, facets, histogram = self._counts(request, scope_query, scope_filters)
        # Nothing is suggested on a facet the user already filters by.
        applied = {f for f, _ in request.filters}
        implied = (
            [x for x in suggestions(request.q, self._known_values()) if x.facet not in applied]
            if request.q and not long_text
            else []
        )
        return SearchResult(
            request,
            page,
            total,
            facets,
            dict(sorted(histogram.items())),
            (time.perf_counter() - started) * 1000,
            notes,
            implied,
        )

    def _counts(
        self, request: SearchRequest, query: ParsedQuery | None, filters: Filters
    ) -> tuple[int, dict[str, list[FacetValue]], dict[str, int]]:
        """Count the scope's letters, its facet values and its letters per month."""
        total = self.store.count_letters(query, filters)
        facets = self._facets(request, query, filters)
        histogram = self.store.facet_counts(
            query, _without_range(filters, "decision_date"), ["decision_month"]
        )["decision_month"]
        return total, facets, histogram

    def _scope_before_ranking(
        self, request: SearchRequest, parsed: ParsedQuery, long_text: bool, filters: Filters
    ) -> tuple[ParsedQuery | None, Filters] | None:
        """The scope `_rank` will return, where it is known without ranking (else None)."""
        if not request.q:
            return None, filters
        if request.mode != "keyword":
            return None  # the semantic side's passages are part of the scope
        if parsed.is_empty and not parsed.negative:
            return None, replace(filters, chunk_ids=())
        return parsed, filters

    def _selective(self, parsed: ParsedQuery) -> ParsedQuery:
        """The query a search counts its matches by: without optional words that most letters
        hold ("pain" in "Lyrica for neuropathic pain") when it has rarer words to count by."""
        optional = [c for c in parsed.clauses if c.occur == "should"]
        if len(optional) < 2:
            return parsed
        shares = self._letter_shares(optional)
        common = {c for c, share in zip(optional, shares, strict=True) if share > COMMON_SHARE}
        if not common or len(common) == len(optional):
            return parsed
        return ParsedQuery(tuple(c for c in parsed.clauses if c not in common))

    def _letter_shares(self, clauses: list[Clause]) -> list[float]:
        """The share of the index's letters that hold each word or phrase (cached for ten
        minutes: it moves slowly as letters are added)."""
        now = time.monotonic()
        cache = self.__dict__.setdefault("_share_cache", {})
        keys = [(c.text.lower(), c.phrase) for c in clauses]
        missing = [
            (key, c)
            for key, c in zip(keys, clauses, strict=True)
            if key not in cache or now - cache[key][0] > 600
        ]
        if missing:
            if len(cache) > 10_000:
                cache.clear()
            shares = self.store.letter_shares([c for _, c in missing])
            for (key, _), share in zip(missing, shares, strict=True):
                cache[key] = (now, share)
        return [cache[key][1] for key in keys]

    def _known_values(self) -> dict[str, set[str]]:
        """The decision, class and treatment values in the index (cached for a minute)."""
        now = time.monotonic()
        cached = getattr(self, "_known_cache", None)
        if cached is None or now - cached[0] > 60:
            counts = self.store.facet_counts(
                None, Filters(), ["decision", "treatment_class", "treatment_name", "body_region"]
            )
            cached = (now, {f: set(values) for f, values in counts.items()})
            self._known_cache = cached
        return cached[1]

    def _parse(self, q: str) -> tuple[ParsedQuery, bool]:
        parsed = parse_query(q[:MAX_QUERY_CHARS])
        long_text = len(q) > 600 or len(parsed.clauses) > 60
        if long_text:
            parsed = _key_terms(q)
        return parsed, long_text

    def _understand(self, request: SearchRequest) -> tuple[Intent, ParsedQuery, bool]:
        """The query's intent and its topic's words as a query (outcome words left out)."""
        parsed, long_text = self._parse(request.q)
        if not request.q:
            return Intent(request.q), parsed, long_text
        if long_text:
            return Intent(request.q), self._selective(parsed), long_text
        # The asked outcome orders the results unless the user filters by decision or sorts
        # by date.
        prefer = request.sort == "relevance" and "decision" not in dict(request.filters)
        intent = read_intent(request.q, self._known_values(), prefer_outcome=prefer)
        if intent.topic != request.q:
            parsed, _ = self._parse(intent.topic)
        return intent, self._selective(parsed), long_text

    def _rank(
        self,
        request: SearchRequest,
        intent: Intent,
        parsed: ParsedQuery,
        long_text: bool,
        filters: Filters,
        depth: int = CANDIDATES,
    ) -> _Ranking:
        """Return ranked chunks and the scope (query, filters) that defines the match set."""
        mode = request.mode
        if not request.q:
            # Browsing: every letter matches, newest first unless asked otherwise.
            hits, _ = self.store.keyword(ParsedQuery(), filters, depth, sort="newest")
            return _Ranking([replace(h, score=0.0) for h in hits], None, filters)
        keyword_hits: list[ChunkHit] = []
        semantic_hits: list[ChunkHit] = []
        if mode in ("keyword", "hybrid") and (not parsed.is_empty or parsed.negative):
            keyword_hits, _ = self.store.keyword(
                parsed,
                filters,
                depth,
                sort="newest" if request.sort == "newest" and mode == "keyword" else "relevance",
            )
        if mode in ("semantic", "hybrid"):
            semantic_hits = self._without_excluded(
                self._semantic(intent.topic, filters, depth, long_text), parsed, filters
            )
        if mode == "keyword" and parsed.is_empty and not parsed.negative:
            return _Ranking([], None, replace(filters, chunk_ids=()))  # nothing to search for
        if mode == "keyword" and request.sort == "newest":
            return _Ranking(keyword_hits, parsed, filters)
        # Passages found only by meaning are results (listed and counted) when they are close
        # to the query and nearly as close as the closest, or about a treatment it names.
        floor = max(
            SCOPE_SIMILARITY, (semantic_hits[0].score if semantic_hits else 0) - SCOPE_MARGIN
        )
        close = tuple(
            h.chunk_id
            for h in semantic_hits
            if h.score >= floor or about_named_treatment(h.doc, intent)
        )
        results = {h.chunk_id for h in keyword_hits}.union(close)
        ranked = rank_chunks(keyword_hits, semantic_hits, intent)
        hits = [h for h in ranked.hits if h.chunk_id in results]
        if mode == "keyword":
            return _Ranking(hits, parsed, filters, ranked.outcome_missing)
        if mode == "semantic" or (parsed.is_empty and not parsed.negative):
            scope = replace(filters, chunk_ids=close)
            return _Ranking(hits, None, scope, ranked.outcome_missing)
        scope = replace(filters, also_chunk_ids=close)
        return _Ranking(hits, parsed, scope, ranked.outcome_missing)

    def _without_excluded(
        self, hits: list[ChunkHit], parsed: ParsedQuery, filters: Filters
    ) -> list[ChunkHit]:
        """Drop the passages that hold an excluded word (`-chiropractic`) from semantic hits."""
        if not hits or not parsed.negative:
            return hits
        excluded = ParsedQuery(tuple(replace(c, occur="should") for c in parsed.negative))
        ids = tuple(h.chunk_id for h in hits)
        found, _ = self.store.keyword(excluded, replace(filters, chunk_ids=ids), len(ids))
        drop = {h.chunk_id for h in found}
        return [h for h in hits if h.chunk_id not in drop]

    def _semantic(self, text: str, filters: Filters, k: int, long_text: bool) -> list[ChunkHit]:
        """Nearest chunks to the text; a long pasted text is embedded window by window."""
        vectors = self._query_vectors(text, long_text)
        best: dict[str, ChunkHit] = {}
        for vector in vectors:
            for hit in self.store.knn(vector, filters, k):
                if hit.score >= MIN_SIMILARITY and (
                    hit.chunk_id not in best or hit.score > best[hit.chunk_id].score
                ):
                    best[hit.chunk_id] = hit
        return sorted(best.values(), key=lambda h: (-h.score, h.chunk_id))[:k]

    def _query_vectors(self, text: str, long_text: bool) -> list[np.ndarray]:
        if not long_text:
            return [self.embedder.embed_query(text)]
        from .chunking import _fitting_pieces, _pack
        from .model import load_tokenizer
        from .sentences import split_sentences

        tokenizer = load_tokenizer()
        budget = tokenizer.max_tokens - tokenizer.special_tokens
        windows = _pack(_fitting_pieces(split_sentences(text), budget, tokenizer), budget)
        texts = [" ".join(piece for piece, _ in w) for w in windows][:16]
        return list(self.embedder.embed_documents(texts))

    def _highlight(self, letters: list[LetterHit], parsed: ParsedQuery) -> None:
        chunks = [c for h in letters for c in h.chunks if not c.highlights]
        fragments = self.store.highlight(parsed, chunks) if not parsed.is_empty else {}
        for hit in letters:
            for chunk in hit.chunks:
                if not chunk.highlights:
                    chunk.highlights = fragments.get(chunk.chunk_id) or [_opening(chunk.doc)]

    def _facets(
        self, request: SearchRequest, query: ParsedQuery | None, filters: Filters
    ) -> dict[str, list[FacetValue]]:
        """Disjunctive facet counts: a facet's counts apply every filter except its own."""
        selected = dict(request.filters)
        names = list(facet_names())
        plain = [f for f in names if f not in selected]
        counts = self.store.facet_counts(query, filters, plain) if plain else {}
        for facet in selected:
            counts.update(self.store.facet_counts(query, filters.without(facet), [facet]))
        out = {}
        for facet in names:
            values = counts.get(facet, {})
            chosen = selected.get(facet, ())
            items = [FacetValue(v, n, v in chosen) for v, n in values.items()]
            items += [FacetValue(v, 0, True) for v in chosen if v not in values]
            out[facet] = items
        return out

    # -- similar cases ---------------------------------------------------------------------

    def similar(self, source_id: str, k: int = 10) -> list[SimilarHit]:
        """Return the letters (or, for an item id, the items) nearest to a letter or an item."""
        letter_id, _, item = source_id.partition(":item-")
        chunks = self.store.letter_chunks(letter_id)
        if not chunks:
            raise SearchError(f"no letter {letter_id!r} in the index")
        if item:
            if not (item.isascii() and item.isdigit()):
                raise SearchError(f"{source_id!r} is not an item id (expected LETTER:item-N)")
            chunks = [c for c in chunks if c.get("item_index") == int(item)]
            if not chunks:
                raise SearchError(f"letter {letter_id} has no item {item}")
        # A bounded search whatever the letter: its first windows (the summary's and each
        # item's opening) before any further window.
        chunks = sorted(chunks, key=lambda c: (c.get("window") or 0) > 0)[:SIMILAR_SOURCES]
        filters = Filters(exclude_letter_ids=(letter_id,), section="item" if item else None)
        best: dict[str, tuple[float, ChunkHit]] = {}
        vectors = np.asarray([chunk["embedding"] for chunk in chunks], dtype=np.float32)
        found = self.store.knn_many(vectors, filters, k * 5, stored=True)
        for chunk, hits in zip(chunks, found, strict=True):
            for hit in hits:
                key = hit.doc.get("item_id") if item else hit.letter_id
                # Letters are alike by what they decide: items weigh more than case summaries.
                score = hit.score if item else letter_pair_score(chunk, hit)
                if key not in best or score > best[key][0]:
                    best[key] = (score, hit)
        source = _facet_values(chunks)
        ranked = [
            (key, hit)
            for key, (_, hit) in sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))[:k]
        ]
        self.store.complete([hit for _, hit in ranked])
        out = []
        for key, hit in ranked:
            target = (
                _facet_values([hit.doc])
                if item
                else _facet_values(self.store.letter_chunks(hit.letter_id, embeddings=False))
            )
            shared = {
                f: sorted(source[f] & target[f]) for f in _SHARED_FACETS if source[f] & target[f]
            }
            hit.highlights = [_opening(hit.doc)]
            out.append(SimilarHit(hit.letter_id, key if item else None, hit.score, hit, shared))
        return out

    # -- statistics ------------------------------------------------------------------------

    def stats(self, request: SearchRequest, by: str) -> list[StatsRow]:
        """Upheld/overturned item counts per value of `by` over the request's results."""
        return self.stats_by(request, [by])[by]

    def stats_by(self, request: SearchRequest, groupings: list[str]) -> dict[str, list[StatsRow]]:
        """`stats` for several groupings of one search, which is ranked once for all of them."""
        for by in groupings:
            if by not in (*facet_names(), "decision_month"):
                raise SearchError(
                    f"cannot group by {by!r} (expected one of {', '.join(facet_names())})"
                )
        filters = request.store_filters()
        intent, parsed, long_text = self._understand(request)
        if request.q:
            ranking = self._rank(request, intent, parsed, long_text, filters)
            query, filters = ranking.query, ranking.filters
        else:
            query = None
        out = {}
        decided = None
        for by in groupings:
            counts = self.store.stats(query, filters, by)
            rows = [
                StatsRow(v, c.get("upheld", 0), c.get("overturned", 0)) for v, c in counts.items()
            ]
            rows.sort(key=lambda r: (-r.total, r.value))
            if by in _ONE_PER_ITEM:
                # Items without a value are a row of their own, not silently left out.
                if decided is None:
                    decided = self.store.stats(query, filters, "decision")
                missing = StatsRow(
                    NO_VALUE,
                    decided.get("upheld", {}).get("upheld", 0) - sum(r.upheld for r in rows),
                    decided.get("overturned", {}).get("overturned", 0)
                    - sum(r.overturned for r in rows),
                )
                if missing.total > 0:
                    rows.append(missing)
            out[by] = rows
        return out

    def export_items(self, request: SearchRequest, limit: int) -> list[dict[str, Any]]:
        """Return the items matching a search, best first (by date when sorted newest)."""
        filters = replace(request.store_filters(), section="item")
        intent, parsed, long_text = self._understand(request)
        ranked = self._rank(
            replace(request, page=1),
            intent,
            parsed,
            long_text,
            filters,
            depth=max(limit, CANDIDATES),
        ).hits
        if request.sort == "newest":
            ranked.sort(key=lambda h: h.doc.get("decision_date") or "", reverse=True)
        chosen, seen = [], set()
        for hit in ranked:
            if hit.doc.get("section") != "item" or hit.doc.get("item_id") in seen:
                continue
            seen.add(hit.doc.get("item_id"))
            chosen.append(hit)
            if len(chosen) >= limit:
                break
        self.store.complete(chosen)
        items, letters = [], {}
        for hit in chosen:
            doc = hit.doc
            if hit.letter_id not in letters:
                letters[hit.letter_id] = self.store.letter(hit.letter_id) or {
                    "record": {"items": []}
                }
            record_items = letters[hit.letter_id]["record"]["items"]
            index = (doc.get("item_index") or 0) - 1
            item = record_items[index] if 0 <= index < len(record_items) else {}
            items.append(
                {
                    "letter_id": hit.letter_id,
                    "item_index": doc.get("item_index"),
                    "case_number": doc.get("case_number"),
                    "decision_date": doc.get("decision_date"),
                    "request": doc.get("request"),
                    "treatment": ", ".join(doc.get("treatment_name") or []) or None,
                    "treatment_class": ", ".join(doc.get("treatment_class") or []) or None,
                    "decision": (doc.get("decision") or [""])[0],
                    "guideline": item.get("maximus_guideline"),
                }
            )
        return items

    def letter(self, letter_id: str) -> dict[str, Any] | None:
        """Return a stored letter (record, text, original text), or None."""
        return self.store.letter(letter_id)


@dataclass
class _Ranking:
    """Ranked chunks and the scope (query, filters) whose matches a search counts."""

    hits: list[ChunkHit]
    query: ParsedQuery | None
    filters: Filters
    outcome_missing: bool = False


def _outcome_note(intent: Intent) -> str:
    """Say that no on-topic item has the asked outcome, and what is shown instead."""
    other = "upheld" if intent.decision == "overturned" else "overturned"
    return f"No {intent.decision} decisions about {intent.topic}; showing {other} ones."


def _group(chunks: list[ChunkHit]) -> list[LetterHit]:
    """Group ranked chunks by letter, letters in the order of their best chunk; of the windows
    of one item (or of the summary) only the best is kept."""
    letters: dict[str, LetterHit] = {}
    units: set[tuple[str, Any]] = set()
    for chunk in chunks:
        unit = (chunk.letter_id, chunk.doc.get("item_id") or chunk.doc.get("section"))
        if unit in units:
            continue
        units.add(unit)
        hit = letters.get(chunk.letter_id)
        if hit is None:
            letters[chunk.letter_id] = LetterHit(chunk.letter_id, chunk.score, [chunk])
        elif len(hit.chunks) < CHUNKS_PER_LETTER:
            hit.chunks.append(chunk)
    return list(letters.values())


def _facet_values(chunks: list[dict[str, Any]]) -> dict[str, set[str]]:
    values: dict[str, set[str]] = {f: set() for f in _SHARED_FACETS}
    for chunk in chunks:
        for f in _SHARED_FACETS:
            value = chunk.get(f)
            values[f].update(value if isinstance(value, list) else [value] if value else [])
    return values


def _opening(doc: dict[str, Any], length: int = 220) -> str:
    """The start of a chunk's text, escaped, as the snippet of a hit with no highlighted words."""
    text = " ".join((doc.get("text") or "").split())
    if len(text) > length:
        text = text[:length].rsplit(" ", 1)[0] + " …"
    return escape(text)


def _without_range(filters: Filters, name: str) -> Filters:
    return replace(filters, date_ranges=tuple(r for r in filters.date_ranges if r[0] != name))


_STOP = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then "
    "there these they this to was will with he she his her patient request requested per from has "
    "have had been were which who dated date noted also".split()
)


def _key_terms(text: str, limit: int = 30) -> ParsedQuery:
    """The most frequent meaningful words of a long pasted text, as an OR query."""
    words = [w.lower() for w in re.findall(r"[A-Za-z][A-Za-z]{2,}", text)]
    common = Counter(w for w in words if w not in _STOP).most_common(limit)
    return ParsedQuery(tuple(Clause(w) for w, _ in common))


def _refuse_surrogates(params: Mapping[str, Any]) -> None:
    """Refuse a value holding a lone surrogate: only a caller in Python can send one (a URL
    cannot), and neither the stores nor the model can take it."""
    for name, value in params.items():
        for text in value if isinstance(value, list | tuple) else [value]:
            bad = _SURROGATE.search(text) if isinstance(text, str) else None
            if bad:
                raise SearchError(
                    f"{name} is not valid text (it holds a lone surrogate, "
                    f"U+{ord(bad.group()):04X})"
                )


def _valid_date(value: str) -> bool:
    if not _ISO_DATE.fullmatch(value):
        return False
    try:
        import datetime as dt

        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _positive_int(value: str | None, name: str, maximum: int) -> int:
    try:
        number = int(value or "")
    except ValueError:
        raise SearchError(f"{name} must be a whole number, not {value!r}") from None
    if not 1 <= number <= maximum:
        raise SearchError(f"{name} must be between 1 and {maximum}")
    return number


__all__ = [
    "DATE_FIELDS",
    "SearchService",
    "SearchRequest",
    "SearchError",
    "SearchResult",
    "wilson_interval",
    "rrf",
]
