"""Drug synonyms (generated file is current) and the query syntax."""

from __future__ import annotations

from indexer.query_text import Clause, parse_query
from indexer.synonyms import SYNONYMS_FILE, build_groups, expansions, render


def test_synonyms_file_is_generated_from_the_current_tables():
    assert SYNONYMS_FILE.read_text(encoding="utf-8") == render(build_groups())


def test_brand_and_generic_share_a_group():
    for brand, generic in [
        ("valium", "diazepam"),
        ("klonopin", "clonazepam"),
        ("flexeril", "cyclobenzaprine"),
        ("norco", "hydrocodone"),
        ("pepcid", "famotidine"),
        ("norflex", "orphenadrine"),
        ("prilosec", "omeprazole"),
        ("ultram", "tramadol"),
    ]:
        assert generic in expansions()[brand], brand
        assert expansions()[brand] == expansions()[generic]
        assert expansions()[generic][0] == generic
    assert "planum" not in expansions()


def test_query_syntax():
    assert parse_query('Valium "low back" -Klonopin +MRI OR L4-5').clauses == (
        Clause("Valium"),
        Clause("low back", phrase=True),
        Clause("Klonopin", occur="must_not"),
        Clause("MRI", occur="must"),
        Clause("L4"),
        Clause("5"),
    )
    assert parse_query('"unbalanced quote').clauses == (Clause("unbalanced quote", phrase=True),)
    assert parse_query("*:* - ( ) OR").is_empty
    # Elasticsearch syntax is only text: its words are searched for, nothing else happens.
    assert parse_query('{"query": {"match_all": {}}}').clauses == (
        Clause("query"),
        Clause("match_all"),
    )
    assert parse_query("-only -excluded").negative == (
        Clause("only", occur="must_not"),
        Clause("excluded", occur="must_not"),
    )
