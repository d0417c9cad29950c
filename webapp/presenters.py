"""View models: everything a template shows, with each link's URL worked out here, so that
templates only render values and links (state lives in the query string)."""

from __future__ import annotations

import calendar
import functools
from dataclasses import dataclass, field, replace
from urllib.parse import quote_plus, urlencode

from markupsafe import Markup, escape

from indexer.schema import facet_fields
from indexer.search import SearchRequest, SearchResult

FACET_LABELS = {f.name: f.facet_label for f in facet_fields()}
MODE_LABELS = {"hybrid": "Hybrid", "keyword": "Keyword", "semantic": "Semantic"}
FACETS_SHOWN = 8  # values per facet before "more"
# Values under "more" on the results page; the rest are a link away (a broad query has over
# a hundred guideline sections, and every value is a link).
FACETS_MORE = 12


@dataclass
class Link:
    """A link with its label and whether it is the current state."""

    label: str
    url: str
    selected: bool = False
    count: int | None = None
    css: str = ""


@dataclass
class FacetBlock:
    """One facet of the sidebar."""

    name: str
    label: str
    values: list[Link]
    more: list[Link] = field(default_factory=list)
    all_url: str | None = None  # the page of every value, when `more` holds only the first
    count: int = 0  # values in all


@dataclass
class Passage:
    """One matching passage of a letter: a summary window or an item."""

    label: str
    is_item: bool
    decision: str | None
    treatment: str | None
    guideline: str | None
    html: Markup
    anchor: str


@dataclass
class Card:
    """One letter in the results."""

    letter_id: str
    title: str
    decision_date: str | None
    url: str
    similar_url: str
    passages: list[Passage]


def search_url(request: SearchRequest, path: str = "/", **changes) -> str:
    """Return the URL of `request` with `changes`, at `path`."""
    changed = replace(request, **changes) if changes else request
    return _url(path, [_pair(k, v) for k, v in changed.to_params()])


@functools.lru_cache(maxsize=8192)
def _pair(name: str, value: str) -> str:
    # A results page links to hundreds of states that share most of their pairs (a facet value
    # per link, a month per bar): encoding each pair once keeps the page's links cheap.
    return f"{quote_plus(name)}={quote_plus(value)}"


def _url(path: str, encoded: list[str]) -> str:
    query = "&".join(encoded)
    return f"{path}?{query}" if query else path


def toggled(request: SearchRequest, facet: str, value: str) -> SearchRequest:
    """Return the request with `value` of `facet` switched on or off (back to page 1)."""
    filters = dict(request.filters)
    values = list(filters.get(facet, ()))
    if value in values:
        values.remove(value)
    else:
        values.append(value)
    filters[facet] = tuple(values)
    kept = tuple((f, v) for f, v in filters.items() if v)
    return replace(request, filters=kept, page=1)


class _Toggles:
    """The URLs of a request with one facet value switched on or off, as `toggled` makes them,
    built from the request's encoded parts rather than a new request per value."""

    def __init__(self, request: SearchRequest) -> None:
        pairs = replace(request, filters=(), page=1).to_params()
        head = [p for p in pairs if p[0] in ("q", "mode")]  # to_params puts these first
        self.head = [_pair(k, v) for k, v in head]
        self.tail = [_pair(k, v) for k, v in pairs[len(head) :]]
        self.filters = request.filters
        self.encoded = {f: [_pair(f, v) for v in values] for f, values in request.filters}

    def url(self, facet: str, value: str) -> str:
        """Return the URL with `value` of `facet` toggled."""
        parts = list(self.head)
        found = False
        for f, values in self.filters:
            if f != facet:
                parts += self.encoded[f]
                continue
            found = True
            parts += [_pair(f, v) for v in values if v != value]
            if value not in values:
                parts.append(_pair(f, value))
        if not found:
            parts.append(_pair(facet, value))
        return _url("/", parts + self.tail)


def facet_blocks(result: SearchResult) -> list[FacetBlock]:
    """Return the sidebar: each facet's values with counts, toggle URLs and selected flags."""
    toggles = _Toggles(result.request)
    blocks = [_block(result, name, values, toggles) for name, values in result.facets.items()]
    return [b for b in blocks if b.count]


def facet_block(result: SearchResult, name: str) -> FacetBlock:
    """Return one facet with every value under `more` (the page of all values)."""
    return _block(result, name, result.facets.get(name, []), _Toggles(result.request), None)


def _block(
    result: SearchResult,
    name: str,
    values: list,
    toggles: _Toggles,
    more_limit: int | None = FACETS_MORE,
) -> FacetBlock:
    # Selected values always show, whatever their rank.
    shown = values[:FACETS_SHOWN] + [v for v in values[FACETS_SHOWN:] if v.selected]
    more = [v for v in values[FACETS_SHOWN:] if not v.selected]
    all_url = None
    if more_limit is not None and len(more) > more_limit:
        more = more[:more_limit]
        all_url = search_url(result.request, f"/facets/{name}", page=1)

    def links(chosen: list) -> list[Link]:
        # Only the values on the page get a URL: a broad query's facet can have hundreds.
        return [Link(v.value, toggles.url(name, v.value), v.selected, v.count) for v in chosen]

    label = FACET_LABELS.get(name) or name
    return FacetBlock(name, label, links(shown), links(more), all_url, len(values))


def facet_items(links: list[Link]) -> Markup:
    """Render facet values as list items, each a toggle link with its count.

    A template filter written in Python: a broad search shows some 250 values (the sidebar and
    its "more" lists), and rendering them took a millisecond in Jinja, a tenth of the page.
    """
    return Markup(
        "".join(
            f'<li><a href="{_url_attribute(v.url)}"'
            f"{_PRESSED if v.selected else _NOT_PRESSED}>"
            f'<span class="value">{_escaped(v.label)}</span> '
            f'<span class="count">{v.count}</span></a></li>'
            for v in links
        )
    )


def _url_attribute(url: str) -> str:
    """A URL of `_url`'s making as an attribute value: its pairs are percent-encoded, so only
    the ampersands between them need escaping (a third of `escape`'s time, 500 links a page)."""
    return url.replace("&", "&amp;")


@functools.lru_cache(maxsize=4096)
def _escaped(text: str) -> str:
    # Facet values recur on every page.
    return str(escape(text))


_PRESSED = ' class="selected" aria-pressed="true"'
_NOT_PRESSED = ' aria-pressed="false"'


def chips(request: SearchRequest) -> list[Link]:
    """Return the active filters as removable chips."""
    out = []
    for facet, values in request.filters:
        for value in values:
            out.append(
                Link(
                    f"{FACET_LABELS.get(facet, facet)}: {value}",
                    search_url(toggled(request, facet, value)),
                )
            )
    for name, label in (
        ("decision_from", "Decided from"),
        ("decision_to", "Decided until"),
        ("injury_from", "Injured from"),
        ("injury_to", "Injured until"),
    ):
        if getattr(request, name):
            out.append(
                Link(
                    f"{label} {getattr(request, name)}",
                    search_url(request, **{name: None, "page": 1}),
                )
            )
    return out


def clear_url(request: SearchRequest) -> str:
    """Return the URL that keeps the query and mode but drops every filter."""
    return search_url(SearchRequest(q=request.q, mode=request.mode, sort=request.sort))


def mode_links(request: SearchRequest) -> list[Link]:
    """Return a link per search mode."""
    return [
        Link(label, search_url(request, mode=mode, page=1), request.mode == mode)
        for mode, label in MODE_LABELS.items()
    ]


#: Most bars the sidebar's histogram shows; a longer span of months is shown by quarter or year.
MAX_BARS = 40


def histogram(result: SearchResult) -> list[Link]:
    """Return a bar per month, quarter or year (whichever keeps the bars at most `MAX_BARS`);
    clicking one narrows the decision date to that period."""
    if not result.histogram:
        return []
    periods = _periods(result.histogram)
    top = max(periods.values())
    # Every bar's URL is the request's with two dates changed: encode the rest once.
    marked = replace(result.request, decision_from="from", decision_to="to", page=1)
    pairs = marked.to_params()
    encoded = [_pair(k, v) for k, v in pairs]
    at = {k: i for i, (k, _) in enumerate(pairs)}
    bars = []
    for (label, first, last), count in periods.items():
        encoded[at["decision_from"]] = _pair("decision_from", first)
        encoded[at["decision_to"]] = _pair("decision_to", last)
        height = max(1, round(10 * count / top))  # CSS classes h1..h10: no inline styles
        selected = (result.request.decision_from, result.request.decision_to) == (first, last)
        bars.append(Link(label, _url("/", encoded), selected, count, f"h{height}"))
    return bars


def _periods(months: dict[str, int]) -> dict[tuple[str, str, str], int]:
    """Sum letters per month ("2019-02") into months, quarters or years, as (label, first day,
    last day): the longest span of the three that needs at most `MAX_BARS` bars."""
    keys = sorted((int(m[:4]), int(m[5:7])) for m in months)
    span = (keys[-1][0] - keys[0][0]) * 12 + keys[-1][1] - keys[0][1] + 1
    size = 1 if span <= MAX_BARS else 3 if span <= 3 * MAX_BARS else 12
    out: dict[tuple[str, str, str], int] = {}
    for month, count in sorted(months.items()):
        key = _period(month, size)
        out[key] = out.get(key, 0) + count
    return out


@functools.lru_cache(maxsize=4096)
def _period(month: str, size: int) -> tuple[str, str, str]:
    """The period of `size` months holding `month`, as (label, first day, last day)."""
    year, mon = int(month[:4]), int(month[5:7])
    first = (mon - 1) // size * size + 1
    end = first + size - 1
    if size == 1:
        label = month
    elif size == 3:
        label = f"{year} Q{(mon - 1) // 3 + 1}"
    else:
        label = str(year)
    last_day = calendar.monthrange(year, end)[1]
    return label, f"{year}-{first:02d}-01", f"{year}-{end:02d}-{last_day:02d}"


def pages(result: SearchResult) -> list[Link]:
    """Return pagination links around the current page."""
    request, last = result.request, result.pages
    if last <= 1:
        return []
    numbers = sorted({1, last, *range(max(1, request.page - 2), min(last, request.page + 2) + 1)})
    links, previous = [], 0
    for n in numbers:
        if n - previous > 1:
            links.append(Link("…", ""))
        links.append(Link(str(n), search_url(request, page=n), n == request.page))
        previous = n
    return links


def cards(result: SearchResult) -> list[Card]:
    """Return the result cards, one per letter."""
    out = []
    q = result.request.q
    for hit in result.hits:
        doc = hit.doc
        letter_url = f"/letters/{hit.letter_id}" + (f"?{urlencode({'q': q[:500]})}" if q else "")
        passages = []
        for chunk in hit.chunks:
            d = chunk.doc
            is_item = d.get("section") == "item"
            guideline = (
                "; ".join(
                    s
                    for s in [
                        ", ".join(d.get("guideline_source") or []),
                        ", ".join(d.get("guideline_section") or []),
                    ]
                    if s
                )
                or None
            )
            passages.append(
                Passage(
                    label=(d.get("request") if is_item else "Case summary") or "",
                    is_item=is_item,
                    decision=(d.get("decision") or [None])[0] if is_item else None,
                    treatment=", ".join(d.get("treatment_name") or []) or None if is_item else None,
                    guideline=guideline if is_item else None,
                    html=Markup(" … ".join(chunk.highlights)),  # escaped by the store; only <mark>
                    anchor=f"item-{d.get('item_index')}" if is_item else "summary",
                )
            )
        out.append(
            Card(
                letter_id=hit.letter_id,
                title=doc.get("case_number") or "Letter without case number",
                decision_date=doc.get("decision_date"),
                url=letter_url,
                similar_url=f"/similar/{hit.letter_id}",
                passages=passages,
            )
        )
    return out


def suggested(result: SearchResult) -> list[Link]:
    """Return the filters the query implies, each a link that applies it."""
    return [
        Link(
            f"{FACET_LABELS.get(s.facet, s.facet)}: {s.value}",
            search_url(toggled(result.request, s.facet, s.value)),
            css=s.words,
        )
        for s in result.suggestions
    ]
