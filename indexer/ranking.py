"""Relevance: ranks chunks so that the disputed item a query is about comes first.

A query's keyword and semantic rankings are fused by reciprocal rank fusion; the items whose
normalised treatment, class or body region the query names get a fused list of their own (strong
evidence the item is about the topic); a case summary counts for less than an item, since a
treatment named only in a letter's history is not what the letter decides. An outcome the query
asks for ("approved on review") orders the on-topic items, never replaces the topic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .stores.base import ChunkHit
from .understand import Intent

#: Reciprocal rank fusion constant: ranks below ~60 still count, the top ranks count most.
RRF_K = 60
#: Weight of the semantic ranking against the keyword ranking's 1, for close passages; a
#: passage's weight falls linearly to 0 between these two cosine similarities.
SEMANTIC_WEIGHT = 1.5
SEMANTIC_HIGH = 0.5
SEMANTIC_LOW = 0.3
#: Weight of the list of items whose treatment or class the query names.
TREATMENT_WEIGHT = 1.0
#: Weight of the list of items whose body region the query names.
REGION_WEIGHT = 0.5
#: A case summary's score against an item's: history mentions count for less.
SUMMARY_WEIGHT = 0.5
#: In letter-level similar cases, a match that involves a case summary counts this share of one
#: between two disputed items.
SIMILAR_SUMMARY_WEIGHT = 0.8
#: Added to two items' cosine for each of: the same treatment, class, body region.
SIMILAR_SHARED_BONUS = {"treatment_name": 0.04, "treatment_class": 0.04, "body_region": 0.02}
#: Without a named treatment, a chunk is on the topic when its score is at least this share of
#: the best chunk's.
ON_TOPIC_SHARE = 0.5


@dataclass(frozen=True)
class Ranked:
    """Chunks in rank order, and what the ranking found about the asked outcome."""

    hits: list[ChunkHit]
    #: The query asked for an outcome that no on-topic item has (the other one is shown first).
    outcome_missing: bool = False


def rrf(rankings: Iterable[Sequence[str]], k: int = RRF_K) -> dict[str, float]:
    """Fuse ranked lists of ids by reciprocal rank fusion: sum of 1 / (k + rank)."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
    return fused


def semantic_weight(similarity: float) -> float:
    """How much a passage found by meaning counts in the fusion, from its cosine similarity:
    nothing at or below `SEMANTIC_LOW`, `SEMANTIC_WEIGHT` from `SEMANTIC_HIGH`, linear between."""
    share = (similarity - SEMANTIC_LOW) / (SEMANTIC_HIGH - SEMANTIC_LOW)
    return SEMANTIC_WEIGHT * min(1.0, max(0.0, share))


def rank_chunks(
    keyword: Sequence[ChunkHit], semantic: Sequence[ChunkHit], intent: Intent
) -> Ranked:
    """Rank the union of the keyword and semantic hits (each best first) for the intent."""
    by_id: dict[str, ChunkHit] = {}
    for hit in (*keyword, *semantic):
        by_id.setdefault(hit.chunk_id, hit)
    base = rrf([[h.chunk_id for h in keyword]])
    for rank, hit in enumerate(semantic, start=1):
        # A weak neighbour (an unknown drug name has none above 0.3) must not push out an
        # exact match; a close one (everyday words for a treatment) outweighs stray words.
        weight = semantic_weight(hit.score) if keyword else 1.0
        base[hit.chunk_id] = base.get(hit.chunk_id, 0.0) + weight / (RRF_K + rank)
    order = sorted(base, key=lambda c: (-base[c], c))
    strength = {c: _treatment_strength(by_id[c].doc, intent) for c in order}
    # Items of the treatment the query names most precisely first, in fused order.
    treated = sorted((c for c in order if strength[c]), key=lambda c: -strength[c])
    regional = [c for c in order if _names_region(by_id[c].doc, intent)]
    scores = dict(base)
    for ids, weight in ((treated, TREATMENT_WEIGHT), (regional, REGION_WEIGHT)):
        for c, value in rrf([ids]).items():
            scores[c] += weight * value
    for c, hit in by_id.items():
        if hit.doc.get("section") != "item":
            scores[c] *= SUMMARY_WEIGHT
    ranked = sorted(scores, key=lambda c: (-scores[c], c))
    missing = False
    if intent.decision and ranked:
        # The most precisely named treatment is the topic: "chiropractic care" (a name), not
        # every item of its class.
        best = max(strength.values(), default=0)
        on_topic = _on_topic(
            ranked, scores, {c for c in treated if strength[c] == best}, by_id, intent
        )
        tiers = {c: _tier(by_id[c].doc, c in on_topic, intent.decision) for c in ranked}
        missing = bool(on_topic) and not any(t == 0 for t in tiers.values())
        ranked.sort(key=lambda c: tiers[c])  # stable: score order within a tier
    hits = [
        ChunkHit(c, by_id[c].letter_id, scores[c], by_id[c].highlights, by_id[c].doc)
        for c in ranked
    ]
    return Ranked(hits, missing)


def _on_topic(
    ranked: list[str],
    scores: dict[str, float],
    treated: set[str],
    by_id: dict[str, ChunkHit],
    intent: Intent,
) -> set[str]:
    """The chunks about the query's topic: its named treatments, else the clearly best ones."""
    if intent.treatments:
        # "lumbar MRI": MRIs of the lumbar spine, when there are any, else every MRI.
        regional = {c for c in treated if _names_region(by_id[c].doc, intent)}
        return regional or treated
    floor = ON_TOPIC_SHARE * scores[ranked[0]]
    return {c for c in ranked if scores[c] >= floor}


def _tier(doc: dict, on_topic: bool, decision: str) -> int:
    """0: an on-topic item with the asked outcome; 1: other on-topic passages; 2: the rest.

    A summary holds every outcome of its letter, so it never tells which item had the asked one.
    """
    if not on_topic:
        return 2
    if doc.get("section") == "item" and decision in (doc.get("decision") or ()):
        return 0
    return 1


def about_named_treatment(doc: dict, intent: Intent) -> bool:
    """Tell whether a chunk is about a treatment or treatment class the query names."""
    return _treatment_strength(doc, intent) > 0


def _treatment_strength(doc: dict, intent: Intent) -> int:
    """0 when the chunk is not about a treatment the query names; else how precisely the query
    names it (a named treatment counts as much as three words naming its class)."""
    if not intent.treatments:
        return 0
    for name in doc.get("treatment_name") or ():
        # A combination product counts for each of its parts (Norco: hydrocodone/acetaminophen).
        if name in intent.names or intent.names.intersection(name.split("/")):
            return 3
    words = dict(intent.class_words)
    return max((words.get(c, 0) for c in doc.get("treatment_class") or ()), default=0)


def _names_region(doc: dict, intent: Intent) -> bool:
    return bool(intent.regions) and bool(intent.regions.intersection(doc.get("body_region") or ()))


def letter_pair_score(source: dict, hit: ChunkHit) -> float:
    """How alike a source letter's chunk and a found chunk are, for letter-level similar cases:
    their cosine, less where a case summary is involved, more for what two items share."""
    if source.get("section") != "item" or hit.doc.get("section") != "item":
        return hit.score * SIMILAR_SUMMARY_WEIGHT
    bonus = sum(
        weight
        for facet, weight in SIMILAR_SHARED_BONUS.items()
        if set(source.get(facet) or ()).intersection(hit.doc.get(facet) or ())
    )
    return hit.score + bonus
