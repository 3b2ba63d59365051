"""Rebuilding a catalog row from an image file the catalog lacks (the database was deleted,
emptied or replaced, or a crash came between the file and its row). Blocking: call in a thread.

A row is rebuilt from the file: the id and format from its name ``<id>.<ext>``, the size and
SHA-256 from its bytes, width and height from its image header, and the upload's idempotency key,
capture time and monitor from the tag :func:`upload_tag` put on it at upload. Without a tag (a
file system without extended attributes, or a file from before tags) the capture time is the
id's timestamp (when the backend stored it), the monitor 0 and the key ``restored:<id>``.
"""

from __future__ import annotations

import errno
import io
import json
from pathlib import Path

import msgspec

from backend.catalog import RESTORED_KEY_PREFIX, Capture
from backend.errors import InvalidImage
from backend.ids import id_time, is_capture_id
from backend.images import DeclaredImage, check_image
from backend.storage import CONTENT_TYPES, read_tag
from backend.webp import webp_size
from services.foundation.private_dirs import read_private


class UploadTag(msgspec.Struct, frozen=True):
    """What an upload said about its image, kept on the file."""

    key: str
    captured_at: float
    monitor: int


def upload_tag(key: str, captured_at: float, monitor: int) -> bytes:
    """The tag an uploaded image's file carries."""
    fields = {"key": key, "captured_at": captured_at, "monitor": monitor}
    return json.dumps(fields, separators=(",", ":")).encode()


def parse_tag(raw: bytes | None) -> UploadTag | None:
    """The tag's fields, or None if there is none or it is not one of ours."""
    if raw is None:
        return None
    try:
        fields = json.loads(raw)
        tag = UploadTag(fields["key"], fields["captured_at"], fields["monitor"])
    except (ValueError, TypeError, KeyError):
        return None
    kinds_ok = isinstance(tag.key, str) and isinstance(tag.monitor, int)
    return tag if kinds_ok and isinstance(tag.captured_at, int | float) else None


def rebuild_capture(path: Path, max_pixels: int) -> Capture | None:
    """The row for the image file at ``path``; None if it is not an intact image named
    ``<id>.<ext>``. Raises :class:`FileNotFoundError` if the file went meanwhile."""
    capture_id, _, extension = path.name.partition(".")
    content_type = CONTENT_TYPES.get(extension)
    if content_type is None or not is_capture_id(capture_id):
        return None
    try:
        body = read_private(path)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        return None  # a symbolic link: not a file we wrote, and never followed
    size = image_size(body, content_type)
    if size is None:
        return None
    try:
        digest = check_image(body, DeclaredImage(content_type, *size), max_pixels)
    except InvalidImage:
        return None
    stored_at = id_time(capture_id)
    tag = parse_tag(read_tag(path)) or UploadTag(RESTORED_KEY_PREFIX + capture_id, stored_at, 0)
    return Capture(
        id=capture_id,
        idempotency_key=tag.key,
        captured_at=tag.captured_at,
        monitor=tag.monitor,
        width=size[0],
        height=size[1],
        content_type=content_type,
        bytes=len(body),
        sha256=digest,
        created_at=stored_at,
    )


def image_size(body: bytes, content_type: str) -> tuple[int, int] | None:
    """Width and height from the image header, without decoding; None if unreadable."""
    if content_type == "image/webp":
        return webp_size(body)
    from PIL import Image, UnidentifiedImageError  # on first use (see backend.images)

    try:
        with Image.open(io.BytesIO(body)) as image:
            return image.size
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        return None
