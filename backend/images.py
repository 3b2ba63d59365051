"""Image checks and thumbnails with Pillow. Blocking and CPU-bound: call through a thread.

An upload is accepted only if its body decodes completely as the declared type, with the declared
dimensions, and the pixel count is checked before anything is decoded (decompression bombs).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from backend.errors import InvalidImage, UnsupportedMediaType

FORMATS = {"image/webp": "WEBP", "image/png": "PNG", "image/jpeg": "JPEG"}
THUMBNAIL_SIZE = (320, 320)
THUMBNAIL_QUALITY = 75


@dataclass(frozen=True, slots=True)
class DeclaredImage:
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


def check_image(body: bytes, declared: DeclaredImage, max_pixels: int) -> str:
    """Decode ``body`` fully as ``declared``; returns its SHA-256 (hex) if it is valid."""
    expected = FORMATS[declared.content_type]
    try:
        with Image.open(io.BytesIO(body), formats=list(FORMATS.values())) as image:
            _check_header(image.format or "?", image.size, declared, expected, max_pixels)
            image.load()
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
    return hashlib.sha256(body).hexdigest()


def make_thumbnail(data: bytes) -> bytes:
    """A WebP at most :data:`THUMBNAIL_SIZE`, keeping the aspect ratio."""
    with Image.open(io.BytesIO(data), formats=list(FORMATS.values())) as image:
        image.draft("RGB", THUMBNAIL_SIZE)  # JPEG: decode at a reduced scale
        image.thumbnail(THUMBNAIL_SIZE)
        small = image if image.mode in ("RGB", "RGBA") else image.convert("RGBA")
        out = io.BytesIO()
        small.save(out, format="WEBP", quality=THUMBNAIL_QUALITY)
    return out.getvalue()


def _check_header(
    found: str, size: tuple[int, int], declared: DeclaredImage, expected: str, max_pixels: int
) -> None:
    if found != expected:
        raise InvalidImage(
            "content_type_mismatch",
            f"Content-Type says {declared.content_type} but the body is {found}; "
            "send the Content-Type of the encoded format",
        )
    check_pixels(size[0], size[1], max_pixels)
    if size != (declared.width, declared.height):
        raise InvalidImage(
            "dimension_mismatch",
            f"the image is {size[0]}x{size[1]} but width={declared.width} "
            f"height={declared.height} was declared; send the encoded image's dimensions",
        )
