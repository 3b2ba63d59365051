"""A user's search query, parsed by us and never handed to FTS5 as written.

The language: words (all must match), ``"quoted phrases"``, and a trailing ``*`` for a prefix
(``conf*``). Everything else is literal: punctuation splits words as it does in the index (so
``example.com`` is the phrase ``example com``), FTS5 operators and syntax characters are plain
text, an unbalanced quote makes the rest of the query one phrase, control characters separate
words. Each term goes to FTS5 as a quoted string, so no input can be FTS5 syntax.

Refused with a 400 (:class:`backend.errors.BadRequest`): nothing to search for, a query over
:data:`MAX_QUERY_CHARS`, more than :data:`MAX_TERMS` terms, a prefix shorter than
:data:`MIN_PREFIX_CHARS` letters (it would match most of the index).
"""

from __future__ import annotations

import re

import msgspec

from backend.errors import BadRequest
from backend.terms import bigrams, is_cjk, tokens

MAX_QUERY_CHARS = 500
MAX_TERMS = 16
MIN_PREFIX_CHARS = 2
_PIECE = re.compile(r'"([^"]*)"?|([^\s"]+)')
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class Term(msgspec.Struct, frozen=True):
    """Consecutive folded tokens that must appear in this order; the last may be a prefix."""

    tokens: tuple[str, ...]
    prefix: bool = False

    def fts(self) -> str:
        """This term as an FTS5 string: quoted, CJK runs as their bigrams."""
        parts: list[str] = []
        for token in self.tokens:
            parts.extend(bigrams(token) if is_cjk(token[0]) else [token])
        quoted = '"' + " ".join(parts).replace('"', '""') + '"'
        return quoted + " *" if self.prefix else quoted


class Query(msgspec.Struct, frozen=True):
    """What to search for: every term must match."""

    terms: tuple[Term, ...]

    def fts(self) -> str:
        """The FTS5 MATCH expression."""
        return " AND ".join(term.fts() for term in self.terms)


def parse_query(text: str) -> Query:
    """Parse a user's query; :class:`BadRequest` with what to change when it cannot be used."""
    if len(text) > MAX_QUERY_CHARS:
        raise BadRequest(
            "query_too_long",
            f"the query has {len(text)} characters, over {MAX_QUERY_CHARS}; search for a few "
            "words or a short phrase",
        )
    terms = [term for piece in _PIECE.finditer(_CONTROL.sub(" ", text)) for term in _terms(piece)]
    if not terms:
        raise BadRequest("empty_query", "q has no letters or digits to search for; type a word")
    if len(terms) > MAX_TERMS:
        raise BadRequest(
            "too_many_terms", f"the query has {len(terms)} terms, over {MAX_TERMS}; use fewer words"
        )
    return Query(tuple(terms))


def _terms(piece: re.Match[str]) -> list[Term]:
    phrase, word = piece.groups()
    found = tuple(tokens(phrase if word is None else word))
    if not found:
        return []
    last = found[-1]
    if is_cjk(last[0]) and len(last) == 1:
        return [Term(found, prefix=True)]  # a lone CJK character: the bigrams it starts
    prefix = word is not None and word.endswith("*")
    if prefix and len(last) < MIN_PREFIX_CHARS:
        raise BadRequest(
            "prefix_too_short",
            f"{word!r}: a prefix needs at least {MIN_PREFIX_CHARS} letters before the *",
        )
    return [Term(found, prefix=prefix)]
