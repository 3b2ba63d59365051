"""The WebP container (RIFF), checked without libwebp.

Pillow opens WebP through libwebp's animation decoder, which allocates two full canvases
(2 x 8 MB at 1080p) up front; on glibc worker threads that costs ~15 ms an upload, half the
budget for storing a frame. Walking the chunks here costs microseconds and catches what matters
at upload: a truncated or padded body, a missing bitstream, an animation, and the canvas size
before anything is allocated (decompression bombs).
"""

from __future__ import annotations

from backend.errors import InvalidImage

RIFF_HEADER = 12
CHUNK_HEADER = 8
BITSTREAMS = frozenset({b"VP8 ", b"VP8L"})
ANIMATION = b"ANIM"


def is_webp(body: bytes) -> bool:
    """Whether ``body`` starts like a WebP file."""
    return len(body) >= RIFF_HEADER and body[:4] == b"RIFF" and body[8:12] == b"WEBP"


def check_webp(body: bytes) -> tuple[int, int]:
    """The canvas size of a well-framed still WebP; :class:`InvalidImage` otherwise."""
    declared = int.from_bytes(body[4:8], "little") + 8
    if declared != len(body):
        raise _invalid(f"the RIFF header says {declared} bytes but the body has {len(body)}")
    kinds = _chunk_kinds(body)
    if ANIMATION in kinds:
        raise _invalid("animated WebP is not accepted")
    if not BITSTREAMS & set(kinds):
        raise _invalid("it has no VP8 or VP8L image data")
    size = webp_size(body)
    if size is None or 0 in size:
        raise _invalid("its image header is malformed")
    return size


def webp_size(body: bytes) -> tuple[int, int] | None:
    """The canvas size in a WebP header (VP8X, VP8 or VP8L), without decoding; None if unclear."""
    if len(body) < 30 or not is_webp(body):
        return None
    kind, payload = body[12:16], body[20:30]
    if kind == b"VP8X":
        width = int.from_bytes(payload[4:7], "little") + 1
        return width, int.from_bytes(payload[7:10], "little") + 1
    if kind == b"VP8 " and payload[3:6] == b"\x9d\x01\x2a":
        width = int.from_bytes(payload[6:8], "little") & 0x3FFF
        return width, int.from_bytes(payload[8:10], "little") & 0x3FFF
    if kind == b"VP8L" and payload[0] == 0x2F:
        bits = int.from_bytes(payload[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _chunk_kinds(body: bytes) -> list[bytes]:
    kinds: list[bytes] = []
    offset = RIFF_HEADER
    while offset < len(body):
        if offset + CHUNK_HEADER > len(body):
            raise _invalid("it ends inside a chunk header")
        size = int.from_bytes(body[offset + 4 : offset + 8], "little")
        end = offset + CHUNK_HEADER + size
        if end > len(body):
            raise _invalid(f"chunk {body[offset : offset + 4]!r} runs past the end")
        kinds.append(body[offset : offset + 4])
        offset = end + (size & 1)  # chunks are padded to an even size
    return kinds


def _invalid(reason: str) -> InvalidImage:
    return InvalidImage(
        "invalid_image",
        f"the body is not a complete WebP image: {reason}; send the encoded file as the body",
    )
