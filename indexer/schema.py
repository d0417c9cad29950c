"""The index schema, read from `mappings/chunks.json`, so the Elasticsearch mapping and the embedded
store are built from one field list and cannot drift apart."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

MAPPINGS_DIR = Path(__file__).resolve().parent.parent / "mappings"


@dataclass(frozen=True)
class Field:
    """One indexed field: its name, Elasticsearch type and, for facets, the label users see."""

    name: str
    type: str  # keyword, text, integer, date, dense_vector
    facet_label: str | None = None

    @property
    def is_facet(self) -> bool:
        """Tell whether users filter and count by this field."""
        return self.facet_label is not None


@cache
def index_definition(name: str = "chunks") -> dict[str, Any]:
    """Return the settings and mappings JSON of an index (`chunks` or `letters`) from mappings/."""
    path = MAPPINGS_DIR / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def fields() -> tuple[Field, ...]:
    """Return the chunk index's fields in mapping order."""
    props = index_definition("chunks")["mappings"]["properties"]
    return tuple(
        Field(name, spec["type"], (spec.get("meta") or {}).get("facet"))
        for name, spec in props.items()
        # Elasticsearch's pre-analysed copies of the text fields (`analysed.*`) are not fields
        # of a chunk document.
        if spec.get("type") != "object"
    )


def field(name: str) -> Field:
    """Return the field called `name`; KeyError names it if there is none."""
    for f in fields():
        if f.name == name:
            return f
    raise KeyError(f"no field {name!r} in mappings/chunks.json")


def facet_fields() -> tuple[Field, ...]:
    """Return the fields users filter and count by, in display order."""
    return tuple(f for f in fields() if f.is_facet)


def facet_names() -> tuple[str, ...]:
    """Return the names of the facet fields."""
    return tuple(f.name for f in facet_fields())


def text_fields() -> tuple[str, ...]:
    """Return the full-text fields searched by keyword queries."""
    return tuple(f.name for f in fields() if f.type == "text")


#: Relative weight of each text field in keyword scoring (same in both back ends).
TEXT_BOOSTS = {"text": 1.0, "request": 2.0, "treatment_terms": 1.5}
#: Date fields users can filter by range.
DATE_FIELDS = ("decision_date", "date_of_injury")
EMBEDDING_DIMS: int = index_definition("chunks")["mappings"]["properties"]["embedding"]["dims"]
