"""How well a capture's text matches a query, computed on the texts of one ranking window.

FTS5's ``bm25()`` weighs each phrase by how many rows of the whole index contain it, and finds
out by running the phrase over the whole index once per query: 50 ms and more for a phrase of
common words at 500,000 captures (``docs/benchmarks.md``, "Search"). Within a window every row
matches every term, so here each term weighs the same and only term frequency and text length
count: BM25 without its IDF (``k1`` 1.2, ``b`` 0.75), the average length being the window's.
Counted on the stored index terms (:mod:`backend.terms`), case-insensitively.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from backend.query import Query, Term
from backend.terms import bigrams, is_cjk

K1 = 1.2
B = 0.75
_BEFORE = r"(?<![^\W_])"  # a token starts here
_AFTER = r"(?![^\W_])"  # a token ends here
_SEPARATORS = r"[\W_]+"


def term_patterns(query: Query) -> list[re.Pattern[str]]:
    """One pattern per term, matching its occurrences in index terms."""
    return [_pattern(term) for term in query.terms]


def _pattern(term: Term) -> re.Pattern[str]:
    parts: list[str] = []
    for token in term.tokens:
        parts.extend(bigrams(token) if is_cjk(token[0]) else [token])
    body = _SEPARATORS.join(re.escape(part) for part in parts)
    return re.compile(_BEFORE + body + ("" if term.prefix else _AFTER), re.IGNORECASE)


def scores(texts: Sequence[str], patterns: Sequence[re.Pattern[str]]) -> list[float]:
    """Each text's relevance (higher is better)."""
    lengths = [text.count(" ") + 1 for text in texts]
    average = sum(lengths) / len(lengths) if lengths else 1.0
    result = []
    for text, length in zip(texts, lengths, strict=True):
        norm = K1 * (1 - B + B * length / average)
        total = 0.0
        for pattern in patterns:
            frequency = sum(1 for _ in pattern.finditer(text))
            total += frequency * (K1 + 1) / (frequency + norm)
        result.append(total)
    return result
