"""Opaque keyset cursors for the captures list: the ``(captured_at, id)`` of the last item seen.

A cursor is ``base64url("1|<captured_at as float.hex()>|<id>")`` without padding; clients treat it
as opaque. Anything else is refused with a 400 that says to start over without a cursor.
"""

from __future__ import annotations

import base64
import binascii
import math

from backend.errors import BadRequest
from backend.ids import is_capture_id

CURSOR_VERSION = "1"
MAX_CURSOR_CHARS = 128


def encode_cursor(captured_at: float, capture_id: str) -> str:
    """The cursor that continues after this item."""
    raw = f"{CURSOR_VERSION}|{captured_at.hex()}|{capture_id}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The ``(captured_at, id)`` a cursor carries; :class:`BadRequest` if it is not ours."""
    if len(cursor) > MAX_CURSOR_CHARS:
        raise _bad_cursor()
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
        version, at_hex, capture_id = raw.split("|")
        captured_at = float.fromhex(at_hex)
    except (ValueError, OverflowError, binascii.Error, UnicodeError) as exc:
        raise _bad_cursor() from exc
    if version != CURSOR_VERSION or not math.isfinite(captured_at) or not is_capture_id(capture_id):
        raise _bad_cursor()
    return captured_at, capture_id


def _bad_cursor() -> BadRequest:
    return BadRequest(
        "invalid_cursor",
        "cursor is not one this server issued; pass the next_cursor of a previous page, "
        "or omit it to start from the newest capture",
    )
