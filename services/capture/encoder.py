"""Encode a kept frame with Pillow: WebP (lossy or lossless), PNG or JPEG, optionally downscaled."""

from __future__ import annotations

import importlib
import io
from typing import Any

from PIL import Image

from services.capture.frames import FrameTags, RawFrame, Shot, ShotMeta
from services.capture.settings import CaptureSettings

NO_TAGS = FrameTags()
MEDIA_TYPES = {"webp": "image/webp", "png": "image/png", "jpeg": "image/jpeg"}
# The plugin that saves each format. Imported up front, it registers its saver, so that
# ``Image.save`` does not fall back to ``Image.init()``: that imports every plugin Pillow has
# (43 more modules and libavif), about 2.5 MB of RSS for formats capture never writes.
PLUGINS = {
    "webp": "PIL.WebPImagePlugin",
    "png": "PIL.PngImagePlugin",
    "jpeg": "PIL.JpegImagePlugin",
}


class Encoder:
    """Turn raw BGRA frames into image files as the settings say."""

    def __init__(self, settings: CaptureSettings) -> None:
        self.settings = settings
        self.media_type = MEDIA_TYPES[settings.format]
        importlib.import_module(PLUGINS[settings.format])

    def _options(self) -> dict[str, Any]:
        s = self.settings
        if s.format == "webp":
            return {
                "format": "WEBP",
                "quality": s.quality,
                "method": s.method,
                "lossless": s.lossless,
            }
        if s.format == "png":
            return {"format": "PNG"}
        return {"format": "JPEG", "quality": s.quality}

    def image(self, frame: RawFrame) -> Image.Image:
        """The frame as an RGB image, shrunk to fit ``max_dimension`` if set."""
        image = Image.frombuffer("RGB", frame.size, frame.bgra, "raw", "BGRX", 0, 1)
        limit = self.settings.max_dimension
        if limit is not None and max(image.size) > limit:
            scale = limit / max(image.size)
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
        return image

    def encode(self, frame: RawFrame, tags: FrameTags = NO_TAGS) -> Shot:
        """The encoded shot of ``frame``, tagged; blocking (tens of milliseconds for 1080p)."""
        image = self.image(frame)
        buffer = io.BytesIO()
        image.save(buffer, **self._options())
        meta = ShotMeta(
            id=frame.id,
            monitor=frame.monitor,
            captured_at=frame.captured_at,
            width=image.width,
            height=image.height,
            media_type=self.media_type,
            app=tags.app,
            title=tags.title,
            pid=tags.pid,
            process=tags.process,
            window_changed=tags.window_changed,
            trigger=tags.trigger,
        )
        return Shot(meta=meta, data=buffer.getvalue())
