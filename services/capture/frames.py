"""What flows through the capture pipeline: a raw grabbed frame, then an encoded shot.

A shot's metadata carries what was on screen (the active window's app, title and process) and
what made the grab happen (its trigger).
"""

from __future__ import annotations

import time
import uuid

import msgspec

from bus.messages import CaptureTrigger


def new_frame_id() -> str:
    """A fresh frame id: sortable by time, unique; it is also the upload's idempotency key."""
    return f"{time.time_ns():x}{uuid.uuid4().hex[:12]}"


class RawFrame(msgspec.Struct, frozen=True, eq=False):
    """One monitor's pixels as mss returns them: BGRA rows, ``width * height * 4`` bytes."""

    id: str
    monitor: int
    captured_at: float
    width: int
    height: int
    bgra: bytes | bytearray
    left: int = 0  # the monitor's place on the virtual screen
    top: int = 0

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height


class FrameTags(msgspec.Struct, frozen=True):
    """What a frame is attributed to: the active window and the grab's trigger."""

    app: str | None = None
    title: str | None = None
    pid: int | None = None
    process: str | None = None
    window_changed: bool = False
    trigger: CaptureTrigger = "interval"


class ShotMeta(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The metadata of an encoded frame: what the backend is told beside the image body."""

    id: str
    monitor: int
    captured_at: float
    width: int
    height: int
    media_type: str
    app: str | None = None  # the active window's, when the frame was grabbed
    title: str | None = None
    pid: int | None = None
    process: str | None = None
    window_changed: bool = False  # the active window changed during the grab
    trigger: CaptureTrigger = "interval"


class Shot(msgspec.Struct, frozen=True, eq=False):
    """A kept frame, encoded and ready to upload or spool."""

    meta: ShotMeta
    data: bytes

    @property
    def id(self) -> str:
        return self.meta.id
