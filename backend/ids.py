"""Capture ids: 26-character ULIDs (Crockford base32), sortable by the time the backend stored them.

The first 10 characters encode milliseconds since the epoch, the last 16 are random. The first
``SHARD_CHARS`` characters name the directory a capture's files live in (about 9 hours each).
"""

from __future__ import annotations

import os
import re
import time

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_LENGTH = 26
SHARD_CHARS = 5
_ID_PATTERN = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")


def new_capture_id(now_ms: int | None = None) -> str:
    """A fresh ULID for ``now_ms`` (the current time by default)."""
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(ALPHABET[(value >> shift) & 31] for shift in range(125, -1, -5))


def is_capture_id(text: str) -> bool:
    """Whether ``text`` is a well-formed capture id (says nothing about whether it exists)."""
    return _ID_PATTERN.fullmatch(text) is not None


def id_time(capture_id: str) -> float:
    """The unix time (seconds) a capture id encodes: when the backend stored it."""
    ms = 0
    for char in capture_id[:10]:
        ms = ms * 32 + ALPHABET.index(char)
    return ms / 1000


def shard_of(capture_id: str) -> str:
    """The directory name a capture's files are stored under."""
    return capture_id[:SHARD_CHARS]


def shard_end_ms(shard: str) -> int | None:
    """When a shard stops receiving new ids (unix ms), or None if ``shard`` is not one."""
    if len(shard) != SHARD_CHARS or not is_capture_id(shard + "0" * (ID_LENGTH - SHARD_CHARS)):
        return None
    value = 0
    for char in shard:
        value = value * 32 + ALPHABET.index(char)
    return (value + 1) << (48 - (5 * SHARD_CHARS - 2))  # the first character holds 3 time bits
