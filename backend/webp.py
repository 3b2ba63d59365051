"""The WebP container (RIFF), checked without libwebp.

Pillow opens WebP through libwebp's animation decoder, which allocates two full canvases
(2 x 8 MB at 1080p) up front; on glibc worker threads that costs ~15 ms an upload, half the
budget for storing a frame. Walking the chunks here costs microseconds and catches what matters
at upload: a truncated or padded body, a missing bitstream, an animation, and the image size
before anything is allocated (decompression bombs): the bitstream's own frame size, which must
be the canvas size a VP8X header claims.
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
    """The size of a well-framed still WebP; :class:`InvalidImage` otherwise.

    In a VP8X (extended) file the canvas size in the VP8X header is only a claim: the bitstream
    carries its own frame size, which is what a decoder allocates. They must agree (libwebp
    refuses a still image whose frame is not the canvas), so a small claim cannot hide a big
    frame from the pixel limit.
    """
    declared = int.from_bytes(body[4:8], "little") + 8
    if declared != len(body):
        raise _invalid(f"the RIFF header says {declared} bytes but the body has {len(body)}")
    chunks = _chunks(body)
    if ANIMATION in chunks:
        raise _invalid("animated WebP is not accepted")
    stream = next((kind for kind in chunks if kind in BITSTREAMS), None)
    if stream is None:
        raise _invalid("it has no VP8 or VP8L image data")
    frame = frame_size(stream, chunks[stream])
    size = webp_size(body)
    if size is None or frame is None or 0 in size or 0 in frame:
        raise _invalid("its image header is malformed")
    if frame != size:
        raise _invalid(
            f"the canvas says {size[0]}x{size[1]} but the image data is {frame[0]}x{frame[1]}"
        )
    return size


def webp_size(body: bytes) -> tuple[int, int] | None:
    """The canvas size in a WebP header (VP8X, VP8 or VP8L), without decoding; None if unclear."""
    if len(body) < 30 or not is_webp(body):
        return None
    kind, payload = body[12:16], body[20:30]
    if kind == b"VP8X":
        width = int.from_bytes(payload[4:7], "little") + 1
        return width, int.from_bytes(payload[7:10], "little") + 1
    return frame_size(kind, payload)


def frame_size(kind: bytes, payload: bytes) -> tuple[int, int] | None:
    """The frame size at the start of a VP8 or VP8L chunk's payload; None if unclear."""
    if kind == b"VP8 " and len(payload) >= 10 and payload[3:6] == b"\x9d\x01\x2a":
        width = int.from_bytes(payload[6:8], "little") & 0x3FFF
        return width, int.from_bytes(payload[8:10], "little") & 0x3FFF
    if kind == b"VP8L" and len(payload) >= 5 and payload[0] == 0x2F:
        bits = int.from_bytes(payload[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _chunks(body: bytes) -> dict[bytes, bytes]:
    """Each chunk kind's first 10 payload bytes (enough for any header read here)."""
    chunks: dict[bytes, bytes] = {}
    offset = RIFF_HEADER
    while offset < len(body):
        if offset + CHUNK_HEADER > len(body):
            raise _invalid("it ends inside a chunk header")
        size = int.from_bytes(body[offset + 4 : offset + 8], "little")
        end = offset + CHUNK_HEADER + size
        if end > len(body):
            raise _invalid(f"chunk {body[offset : offset + 4]!r} runs past the end")
        start = offset + CHUNK_HEADER
        chunks.setdefault(body[offset : offset + 4], body[start : min(end, start + 10)])
        offset = end + (size & 1)  # chunks are padded to an even size
    return chunks


def _invalid(reason: str) -> InvalidImage:
    return InvalidImage(
        "invalid_image",
        f"the body is not a complete WebP image: {reason}; send the encoded file as the body",
    )
