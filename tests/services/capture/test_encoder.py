"""Encoding kept frames: WebP by default, PNG lossless, JPEG, an optional maximum dimension."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops

from services.capture.encoder import Encoder
from services.capture.settings import CaptureSettings
from tests.fixtures.display import desktop_image
from tests.fixtures.processes import python_output
from tests.services.capture.pictures import frame_of, solid, with_box


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_default_is_lossy_webp_with_the_frame_metadata() -> None:
    """The default shot is a WebP of the frame's size carrying the frame's id and monitor."""
    frame = frame_of(desktop_image((800, 600)), monitor=2)
    shot = Encoder(CaptureSettings()).encode(frame)
    image = decode(shot.data)
    assert (image.format, image.size) == ("WEBP", (800, 600))
    assert (shot.id, shot.meta.monitor, shot.meta.media_type) == (frame.id, 2, "image/webp")
    assert (shot.meta.width, shot.meta.height) == (800, 600)


@pytest.mark.parametrize(
    "settings",
    [CaptureSettings(format="png"), CaptureSettings(format="webp", lossless=True)],
    ids=["png", "webp-lossless"],
)
def test_lossless_formats_keep_every_pixel(settings: CaptureSettings) -> None:
    """PNG and lossless WebP decode to exactly the grabbed pixels."""
    original = with_box(desktop_image((640, 400), seed=3), (10, 10, 60, 60), "#ff00ff")
    image = decode(Encoder(settings).encode(frame_of(original)).data).convert("RGB")
    assert ImageChops.difference(image, original).getbbox() is None


def test_bgra_channels_come_out_in_the_right_order() -> None:
    """A red screen stays red (mss gives BGRA; the encoder must not swap channels)."""
    shot = Encoder(CaptureSettings(format="png")).encode(frame_of(solid("#ff0000")))
    assert decode(shot.data).convert("RGB").getpixel((5, 5)) == (255, 0, 0)


def test_max_dimension_shrinks_and_keeps_the_aspect_ratio() -> None:
    """A 1920x1080 frame with max_dimension 960 becomes 960x540."""
    shot = Encoder(CaptureSettings(max_dimension=960)).encode(
        frame_of(solid("white", (1920, 1080)))
    )
    assert decode(shot.data).size == (960, 540)
    assert (shot.meta.width, shot.meta.height) == (960, 540)


def test_jpeg_is_available() -> None:
    """JPEG is an accepted format with its own media type."""
    shot = Encoder(CaptureSettings(format="jpeg", quality=70)).encode(frame_of(solid("white")))
    assert (decode(shot.data).format, shot.meta.media_type) == ("JPEG", "image/jpeg")


def test_higher_webp_method_is_not_larger_on_real_content() -> None:
    """WebP effort 6 spends time to save bytes compared with effort 0."""
    frame = frame_of(desktop_image((960, 540), seed=1))
    fast = Encoder(CaptureSettings(method=0)).encode(frame)
    small = Encoder(CaptureSettings(method=6)).encode(frame)
    assert len(small.data) <= len(fast.data)


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"interval": 0.1}, "capture.interval"),
        ({"method": 7}, "capture.method"),
        ({"quality": 0}, "capture.quality"),
        ({"threshold": 1.5}, "capture.threshold"),
        ({"max_dimension": 10}, "capture.max_dimension"),
        ({"format": "gif"}, "capture.format"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(changes: dict[str, object], key: str) -> None:
    """Settings out of range fail at construction with a message naming the key."""
    with pytest.raises(ValueError, match=key):
        CaptureSettings(**changes)  # type: ignore[arg-type]  # wrong types are the point


def test_encoding_loads_only_the_plugin_it_writes_with() -> None:
    """Encoding a WebP frame loads Pillow's WebP plugin and its preinit set, not every plugin."""
    probe = (
        "import sys\n"
        "from PIL import Image\n"
        "from services.capture.encoder import Encoder\n"
        "from services.capture.settings import CaptureSettings\n"
        "from tests.services.capture.pictures import frame_of\n"
        "Encoder(CaptureSettings()).encode(frame_of(Image.new('RGB', (64, 48), 'red')))\n"
        "print(' '.join(m for m in sys.modules if m.endswith('ImagePlugin')))\n"
    )
    output = python_output(probe)
    preinit = {f"PIL.{name}ImagePlugin" for name in ("Bmp", "Gif", "Jpeg", "Ppm", "Png")}
    loaded = set(output.split())
    assert "PIL.WebPImagePlugin" in loaded
    assert loaded <= {*preinit, "PIL.WebPImagePlugin"}
