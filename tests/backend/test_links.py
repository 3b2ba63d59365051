"""The image store never follows a symbolic link it did not create (issue 12 §4)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from backend.recovery import rebuild_capture
from backend.storage import ImageStore
from tests.backend.conftest import encode_image

CAPTURE_ID = "01M8PG9R0JMG52VBP53VQAWGPK"
SECRET = b"root only\n"


@pytest.fixture
def planted(tmp_path: Path) -> tuple[ImageStore, Path, Path]:
    """A store whose image path for CAPTURE_ID is a link to a private file elsewhere."""
    secret = tmp_path / "secret"
    secret.write_bytes(SECRET)
    store = ImageStore(tmp_path / "data")
    path = store.image_path(CAPTURE_ID, "image/png")
    path.parent.mkdir(parents=True)
    path.symlink_to(secret)
    return store, path, secret


def test_reading_a_planted_link_is_refused(planted: tuple[ImageStore, Path, Path]) -> None:
    """Reading an image or thumbnail path that is a link fails (ELOOP) instead of reading it."""
    store, path, _ = planted
    with pytest.raises(OSError, match="Too many levels of symbolic links") as caught:
        store.read(path)
    assert caught.value.errno == errno.ELOOP


def test_writing_over_a_planted_link_replaces_the_link(
    planted: tuple[ImageStore, Path, Path],
) -> None:
    """A write to a path holding a link replaces the link; the link's target is untouched."""
    store, path, secret = planted
    store.write(path, b"an image")
    assert not path.is_symlink()
    assert path.read_bytes() == b"an image"
    assert secret.read_bytes() == SECRET


def test_the_sweep_does_not_read_a_planted_link(planted: tuple[ImageStore, Path, Path]) -> None:
    """A link in a shard to a real image is not rebuilt into a capture: it is never read."""
    _, path, secret = planted
    secret.write_bytes(encode_image("PNG"))
    assert rebuild_capture(path, 1_000_000) is None
