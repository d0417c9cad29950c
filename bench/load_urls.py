"""The request mix of the load test: the URLs a user session produces, for `bench/load.sh` and
`bench/page_costs.py`.

    python bench/load_urls.py DATA_DIR     # prints them, one per line

For each of the 20 benchmark queries: a hybrid search page, the JSON API's keyword search, a
semantic search page, a hybrid search filtered to overturned decisions, a letter page and the
similar cases htmx loads after it ("HX " before the path: sent with an HX-Request header); for
every fourth query, a statistics page.
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.queries import QUERIES  # noqa: E402


def load_urls(letter_ids: list[str]) -> list[tuple[str, str]]:
    """Return (kind, line) pairs of the mix; `letter_ids` supplies the letter pages."""
    out = []
    for i, q in enumerate(QUERIES):
        letter = letter_ids[i * 17 % len(letter_ids)]
        out += [
            ("hybrid page", "/?" + urlencode({"q": q})),
            ("API keyword search", "/api/search?" + urlencode({"q": q, "mode": "keyword"})),
            ("semantic page", "/?" + urlencode({"q": q, "mode": "semantic"})),
            ("hybrid, filtered", "/?" + urlencode({"q": q, "decision": "overturned"})),
            ("letter page", "/letters/" + letter),
            ("similar cases (htmx)", "HX /letters/" + letter + "/similar-cases"),
        ]
        if i % 4 == 0:
            out.append(("statistics", "/stats?" + urlencode({"q": q, "by": "treatment_class"})))
    return out


def index_letters(data_dir: str, limit: int = 400) -> list[str]:
    """Return the ids of the first `limit` letters of an embedded index."""
    from indexer.stores.embedded import EmbeddedStore

    store = EmbeddedStore(data_dir)
    return [r[0] for r in store._db.execute("SELECT letter_id FROM letters LIMIT ?", (limit,))]


if __name__ == "__main__":
    for _, line in load_urls(index_letters(sys.argv[1])):
        print(line)
