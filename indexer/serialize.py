"""Search results, similar cases and statistics as JSON-ready data (CLI and API alike)."""

from __future__ import annotations

from typing import Any


def result_json(result) -> dict[str, Any]:
    """Return a search result as JSON-ready data (the CLI's and the API's format)."""
    return {
        "request": _grouped(result.request.to_params()),
        "total": result.total,
        "took_ms": round(result.took_ms, 1),
        "hits": [
            {
                "letter_id": h.letter_id,
                "case_number": h.doc.get("case_number"),
                "decision_date": h.doc.get("decision_date"),
                "score": h.score,
                "chunks": [
                    {
                        k: c.doc.get(k)
                        for k in (
                            "chunk_id",
                            "section",
                            "item_id",
                            "request",
                            "decision",
                            "treatment_name",
                            "guideline_source",
                            "guideline_section",
                        )
                    }
                    | {"score": c.score, "highlights": c.highlights}
                    for c in h.chunks
                ],
            }
            for h in result.hits
        ],
        # Built by hand: `dataclasses.asdict` deep-copies, a tenth of an API search's time.
        "facets": {
            f: [{"value": v.value, "count": v.count, "selected": v.selected} for v in values]
            for f, values in result.facets.items()
        },
        "histogram": result.histogram,
        "suggestions": [
            {"facet": s.facet, "value": s.value, "words": s.words} for s in result.suggestions
        ],
        "notes": result.notes,
    }


def similar_json(hit) -> dict[str, Any]:
    """Return a similar-case hit as JSON-ready data."""
    return {
        "letter_id": hit.letter_id,
        "item_id": hit.item_id,
        "score": hit.score,
        "case_number": hit.chunk.doc.get("case_number"),
        "request": hit.chunk.doc.get("request"),
        "shared": hit.shared,
        "explanation": hit.explanation,
    }


def stats_json(row) -> dict[str, Any]:
    """Return a statistics row as JSON-ready data."""
    low, high = row.interval
    return {
        "value": row.value,
        "upheld": row.upheld,
        "overturned": row.overturned,
        "total": row.total,
        "overturn_rate": row.overturn_rate,
        "ci95": [low, high],
    }


def _grouped(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Query-string pairs as a dict; a repeated name (a facet's values) gives a list."""
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            out[name] = [*out[name], value] if isinstance(out[name], list) else [out[name], value]
        else:
            out[name] = value
    return out
