"""Which OCR words a query matched, for the boxes drawn over a hit and its snippet.

FTS5 says which captures match; this module finds where, on the words themselves (their text is
folded as the index folds it, see :mod:`backend.terms`). A term matches where its tokens follow
each other with only separators between; a word token must start (and, unless it is a prefix,
end) at a token boundary, a CJK run may sit anywhere inside a longer run. The snippet is HTML:
the words escaped, the matched ones in ``<mark>``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

import msgspec

from backend.query import Query, Term
from backend.terms import CJK_RANGES, fold, is_cjk, join_words, separator

SNIPPET_BEFORE = 6  # words shown before the first match
SNIPPET_WORDS = 18  # words in a snippet in all
MAX_BOXES = 200
ELLIPSIS = "…"
_WORD_BEFORE = rf"(?<![^\W_{CJK_RANGES}])"  # not right after a non-CJK letter or digit
_WORD_AFTER = rf"(?![^\W_{CJK_RANGES}])"
_SEPARATORS = r"[\W_]*"


class Highlight(msgspec.Struct, frozen=True):
    """A hit's snippet (HTML) and the words it matched."""

    snippet: str
    matched: list[int]  # indexes of the matched words, in reading order


def highlight(words: Sequence[str], query: Query) -> Highlight:
    """The snippet around the first match and every matched word (at most :data:`MAX_BOXES`)."""
    indexes = matched_words(words, query)
    first = min(indexes) if indexes else 0
    start = max(0, first - SNIPPET_BEFORE)
    shown = range(start, min(len(words), start + SNIPPET_WORDS))
    snippet = _render(words, shown, indexes)
    return Highlight(snippet, sorted(indexes)[:MAX_BOXES])


def matched_words(words: Sequence[str], query: Query) -> set[int]:
    """The indexes of the words any term of ``query`` matched."""
    text, spans = join_words(fold(word) for word in words)
    owner = _owners(len(text), spans)
    found: set[int] = set()
    for term in query.terms:
        for match in _pattern(term).finditer(text):
            found.update(i for i in owner[match.start() : match.end()] if i >= 0)
    return found


def _pattern(term: Term) -> re.Pattern[str]:
    parts = [re.escape(token) for token in term.tokens]
    body = _SEPARATORS.join(parts)
    before = "" if is_cjk(term.tokens[0][0]) else _WORD_BEFORE
    after = "" if term.prefix or is_cjk(term.tokens[-1][0]) else _WORD_AFTER
    return re.compile(before + body + after)


def _owners(length: int, spans: Sequence[tuple[int, int]]) -> list[int]:
    """For each character of the joined text, the index of its word (-1 between words)."""
    owner = [-1] * length
    for index, (start, end) in enumerate(spans):
        owner[start:end] = [index] * (end - start)
    return owner


def _render(words: Sequence[str], shown: range, marked: set[int]) -> str:
    parts = [ELLIPSIS + " "] if shown.start > 0 else []
    previous = ""
    for i in shown:
        text = words[i]
        if i > shown.start:
            parts.append(separator(previous, text))
        escaped = html.escape(text)
        parts.append(f"<mark>{escaped}</mark>" if i in marked else escaped)
        previous = text or previous
    if shown.stop < len(words):
        parts.append(" " + ELLIPSIS)
    return "".join(parts)
