"""Image checks and thumbnails. Blocking and CPU-bound: call through a thread.

An upload is accepted only if it is the declared type (by its magic bytes) with the declared
dimensions, under the pixel limit (read from the header, before anything is decoded or
allocated: decompression bombs), and intact: PNG chunk CRCs through IEND (Pillow's verify), a
JPEG decoded in full by Pillow (cheap, ~7 ms at 1080p), WebP's RIFF chunk framing (see
:mod:`backend.webp`). Decoding WebP and PNG in full costs ~30 ms a 1080p frame here, more than
the whole budget for storing one, so they are not; a deliberately crafted bitstream with valid
framing and checksums is caught when its thumbnail is made (422).

Every decode here runs through :class:`backend.image_work.ImageWork` (one per core at a time).
A thumbnail decodes JPEG at a reduced scale (``draft``); PNG and WebP have no reduced decode, so
they are decoded once in full (bounded by the pixel limit) and shrunk with ``reduce`` first
(``thumbnail``'s ``reducing_gap``), then resampled.

Pillow is imported by the functions that decode, on first use (~20 ms, as much again for its
format plugins, which it loads on the first open anyway): not at the backend's start-up, which
needs it only when the start-up sweep meets a file the catalog lacks.
"""

from __future__ import annotations

import hashlib
import io

import msgspec

from backend.errors import InvalidImage, UnsupportedMediaType
from backend.webp import check_webp, is_webp

FORMATS = {"image/webp": "WEBP", "image/png": "PNG", "image/jpeg": "JPEG"}
THUMBNAIL_SIZE = (320, 320)
THUMBNAIL_QUALITY = 75
REDUCING_GAP = 2.0  # reduce() by an integer factor to within 2x of the size, then resample
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


class DeclaredImage(msgspec.Struct, frozen=True):
    """What the uploader says the body is."""

    content_type: str
    width: int
    height: int


def check_media_type(content_type: str | None) -> str:
    """The bare media type of a Content-Type header, if it is one we store."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in FORMATS:
        accepted = ", ".join(FORMATS)
        raise UnsupportedMediaType(
            "unsupported_media_type",
            f"Content-Type {media_type or '(none)'!r} is not accepted; send one of {accepted}",
        )
    return media_type


def check_pixels(width: int, height: int, max_pixels: int) -> None:
    """Refuse dimensions over the pixel limit."""
    if width * height > max_pixels:
        raise InvalidImage(
            "too_many_pixels",
            f"{width}x{height} is {width * height} pixels, over the limit of {max_pixels}; "
            "downscale the image before uploading",
        )


def sniff_format(body: bytes) -> str | None:
    """PNG, JPEG or WEBP by the magic bytes, or None."""
    if body.startswith(PNG_MAGIC):
        return "PNG"
    if body.startswith(JPEG_MAGIC):
        return "JPEG"
    return "WEBP" if is_webp(body) else None


def check_image(body: bytes, declared: DeclaredImage, max_pixels: int) -> str:
    """Check ``body`` is an intact image as ``declared``; returns its SHA-256 (hex)."""
    found = sniff_format(body)
    if found is None:
        raise InvalidImage(
            "invalid_image",
            "the body is not a PNG, JPEG or WebP image; send the encoded file as the request body",
        )
    if found != FORMATS[declared.content_type]:
        raise InvalidImage(
            "content_type_mismatch",
            f"Content-Type says {declared.content_type} but the body is {found}; "
            "send the Content-Type of the encoded format",
        )
    if found == "WEBP":
        _check_size(check_webp(body), declared, max_pixels)
    else:
        _check_with_pillow(body, declared, max_pixels)
    return hashlib.sha256(body).hexdigest()


def _check_with_pillow(body: bytes, declared: DeclaredImage, max_pixels: int) -> None:
    from PIL import Image, UnidentifiedImageError  # on first use (module doc)

    try:
        with Image.open(io.BytesIO(body), formats=[FORMATS[declared.content_type]]) as image:
            _check_size(image.size, declared, max_pixels)
            if image.format == "JPEG":
                image.load()
            else:
                image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImage(
            "too_many_pixels", f"the image has more than {max_pixels} pixels; downscale it"
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidImage(
            "invalid_image",
            f"the body is not a complete {declared.content_type} image ({exc}); "
            "send the encoded file as the request body",
        ) from exc


def make_thumbnail(data: bytes) -> bytes:
    """A WebP at most :data:`THUMBNAIL_SIZE`, keeping the aspect ratio."""
    from PIL import Image  # on first use (module doc)

    try:
        with Image.open(io.BytesIO(data), formats=list(FORMATS.values())) as image:
            image.draft("RGB", THUMBNAIL_SIZE)  # JPEG: decode at a reduced scale
            image.thumbnail(THUMBNAIL_SIZE, reducing_gap=REDUCING_GAP)
            small = image if image.mode in ("RGB", "RGBA") else image.convert("RGBA")
            out = io.BytesIO()
            small.save(out, format="WEBP", quality=THUMBNAIL_QUALITY)
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidImage(
            "undecodable_image",
            f"the stored image cannot be decoded ({exc}); delete this capture",
        ) from exc
    return out.getvalue()


def _check_size(size: tuple[int, int], declared: DeclaredImage, max_pixels: int) -> None:
    check_pixels(size[0], size[1], max_pixels)
    if size != (declared.width, declared.height):
        raise InvalidImage(
            "dimension_mismatch",
            f"the image is {size[0]}x{size[1]} but width={declared.width} "
            f"height={declared.height} was declared; send the encoded image's dimensions",
        )
