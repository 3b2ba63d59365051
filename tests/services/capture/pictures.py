"""Real pictures as raw frames, the way mss hands them to the capture pipeline."""

from __future__ import annotations

from PIL import Image, ImageDraw

from services.capture.frames import RawFrame, new_frame_id

SIZE = (648, 360)  # whole cells of 12 pixels


def frame_of(image: Image.Image, monitor: int = 1) -> RawFrame:
    """``image`` as a BGRA frame of ``monitor``."""
    return RawFrame(
        id=new_frame_id(),
        monitor=monitor,
        captured_at=1_700_000_000.0,
        width=image.width,
        height=image.height,
        bgra=image.convert("RGB").tobytes("raw", "BGRX"),
    )


def solid(color: str, size: tuple[int, int] = SIZE) -> Image.Image:
    return Image.new("RGB", size, color)


def with_box(base: Image.Image, box: tuple[int, int, int, int], color: str) -> Image.Image:
    """``base`` with a filled rectangle drawn on a copy."""
    image = base.copy()
    ImageDraw.Draw(image).rectangle(box, fill=color)
    return image
