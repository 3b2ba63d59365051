"""How OCR text becomes search terms, the same way for what is indexed and for what is searched.

The index is FTS5 with the ``unicode61`` tokenizer (see ``docs/benchmarks.md``, "Search", for why
not ``trigram``). ``unicode61`` splits on anything that is not a letter or a digit, which suits
English, but it would keep a whole run of Chinese characters as one token, so a word inside it
could never be found. So before indexing, each run of CJK characters is written as its
overlapping bigrams (``数据库`` → ``数据 据库``) and a lone character stays as it is; a query is
rewritten the same way, a CJK run becoming the phrase of its bigrams. A one-character query finds
the bigrams it starts (``数*``).

OCR engines often return Chinese as one word per character: :func:`join_words` glues adjacent CJK
words without a space, so that the runs (and their bigrams) survive.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator

# Han (with extensions and compatibility ideographs), kana, Hangul; CJK punctuation excluded.
_CJK_BLOCKS = (
    (0x3040, 0x30FF),  # hiragana, katakana
    (0x3400, 0x4DBF),  # Han extension A
    (0x4E00, 0x9FFF),  # Han
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xF900, 0xFAFF),  # compatibility ideographs
    (0x20000, 0x3134F),  # Han extensions B-G
)
CJK_RANGES = "".join(f"{chr(low)}-{chr(high)}" for low, high in _CJK_BLOCKS)
CJK_RUN = re.compile(f"[{CJK_RANGES}]+")
FOLD_CACHE = 65_536  # distinct words remembered by fold(): screens repeat their words


def is_cjk(char: str) -> bool:
    """Whether ``char`` is a CJK character (written as bigrams in the index)."""
    if char < "\u3040":
        return False  # the common case, answered at once
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK_BLOCKS)


def bigrams(run: str) -> list[str]:
    """The overlapping bigrams of a CJK run; a single character stays whole."""
    if len(run) < 2:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def index_terms(text: str) -> str:
    """``text`` as the index stores it: every CJK run replaced by its bigrams, space-separated
    from what surrounds it; everything else as is (``unicode61`` splits it)."""
    return CJK_RUN.sub(lambda m: " " + " ".join(bigrams(m.group())) + " ", text).strip()


def separator(previous: str, word: str) -> str:
    """What goes between two OCR words: nothing between two CJK characters, else a space."""
    if previous and word and is_cjk(previous[-1]) and is_cjk(word[0]):
        return ""
    return " "


def join_words(words: Iterable[str]) -> tuple[str, list[tuple[int, int]]]:
    """The words as one text, and each word's ``(start, end)`` in it, joined by
    :func:`separator` (one OCR word per character is common for Chinese)."""
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    length = 0
    after_cjk = False  # the text so far ends with a CJK character
    for word in words:
        if parts and not (after_cjk and word and is_cjk(word[0])):
            parts.append(" ")
            length += 1
        parts.append(word)
        spans.append((length, length + len(word)))
        length += len(word)
        if word:
            after_cjk = is_cjk(word[-1])
    return "".join(parts), spans


@functools.lru_cache(maxsize=FOLD_CACHE)
def fold(text: str) -> str:
    """Lower case without diacritics, as ``unicode61 remove_diacritics 2`` compares."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def is_token_char(char: str) -> bool:
    """Whether ``char`` belongs to a token (``unicode61``: letters, digits, private use)."""
    return unicodedata.category(char)[0] in "LN" or unicodedata.category(char) == "Co"


def tokens(text: str) -> Iterator[str]:
    """The folded tokens of ``text`` as ``unicode61`` would see them, CJK runs kept whole."""
    current: list[str] = []
    for char in fold(text):
        if is_token_char(char) and not (current and is_cjk(char) != is_cjk(current[-1])):
            current.append(char)
            continue
        if current:
            yield "".join(current)
        current = [char] if is_token_char(char) else []
    if current:
        yield "".join(current)
