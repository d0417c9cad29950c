"""The English analysis of the embedded store's text: one definition for indexing and counting."""

from __future__ import annotations

from functools import cache

# Lucene's English stop words, as Elasticsearch's `_english_` list, so both back ends drop the same.
STOP_WORDS = (
    "a an and are as at be but by for if in into is it no not of on or such that the their then "
    "there these they this to was will with"
).split()


@cache
def english_analyzer():
    """Return tantivy's analyzer for chunk text: words, lowercased, stop words out, stemmed."""
    import tantivy

    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.custom_stopword(STOP_WORDS))
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def analyze(text: str) -> list[str]:
    """Return the terms tantivy indexes for `text`."""
    return english_analyzer().analyze(text)
