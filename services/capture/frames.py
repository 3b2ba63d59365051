"""What flows through the capture pipeline: a raw grabbed frame, then an encoded shot."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import msgspec


def new_frame_id() -> str:
    """A fresh frame id: sortable by time, unique; it is also the upload's idempotency key."""
    return f"{time.time_ns():x}{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True, slots=True, eq=False)
class RawFrame:
    """One monitor's pixels as mss returns them: BGRA rows, ``width * height * 4`` bytes."""

    id: str
    monitor: int
    captured_at: float
    width: int
    height: int
    bgra: bytes | bytearray

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height


class ShotMeta(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The metadata of an encoded frame: what the backend is told beside the image body."""

    id: str
    monitor: int
    captured_at: float
    width: int
    height: int
    media_type: str


@dataclass(frozen=True, slots=True, eq=False)
class Shot:
    """A kept frame, encoded and ready to upload or spool."""

    meta: ShotMeta
    data: bytes

    @property
    def id(self) -> str:
        return self.meta.id
