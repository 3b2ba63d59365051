"""The on-disk spool: order, bounds by size and age, atomic files, surviving a restart."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from services.capture.frames import Shot, ShotMeta, new_frame_id
from services.capture.spool import Spool, SpoolError
from tests.services.capture.small_disk import small_disk

MiB = 1024 * 1024


def shot(size: int = 1000, captured_at: float | None = None) -> Shot:
    meta = ShotMeta(
        id=new_frame_id(),
        monitor=1,
        captured_at=time.time() if captured_at is None else captured_at,
        width=10,
        height=10,
        media_type="image/webp",
    )
    return Shot(meta=meta, data=os.urandom(size))


def drain(spool: Spool) -> list[Shot]:
    out = []
    while (oldest := spool.oldest()) is not None:
        out.append(oldest)
        spool.remove(oldest.id)
    return out


def test_shots_come_back_oldest_first_with_their_bytes(tmp_path: Path) -> None:
    """The spool is a FIFO that returns each shot's metadata and image intact."""
    spool = Spool(tmp_path, MiB, 3600)
    shots = [shot() for _ in range(5)]
    for item in shots:
        spool.put(item)
    out = drain(spool)
    assert [s.id for s in out] == [s.id for s in shots]
    assert [s.data for s in out] == [s.data for s in shots]
    assert out[0].meta == shots[0].meta
    assert (len(spool), spool.size_bytes) == (0, 0)


def test_oldest_stays_until_removed(tmp_path: Path) -> None:
    """Reading the oldest shot does not take it out (a failed upload leaves it first)."""
    spool = Spool(tmp_path, MiB, 3600)
    first = shot()
    spool.put(first)
    spool.put(shot())
    assert spool.oldest() is not None
    assert spool.ids()[0] == first.id
    assert len(spool) == 2


def test_spool_survives_a_restart_in_order(tmp_path: Path) -> None:
    """A new Spool on the same directory finds the shots in order and appends after them."""
    spool = Spool(tmp_path, MiB, 3600)
    before = [shot() for _ in range(3)]
    for item in before:
        spool.put(item)
    reopened = Spool(tmp_path, MiB, 3600)
    after = shot()
    reopened.put(after)
    assert [s.id for s in drain(reopened)] == [s.id for s in [*before, after]]


def test_size_bound_drops_the_oldest_with_a_warning(tmp_path: Path) -> None:
    """Past max_bytes the oldest shots go, are counted, and a warning says so."""
    spool = Spool(tmp_path, max_bytes=2 * MiB, max_age=3600)
    shots = [shot(MiB // 2) for _ in range(6)]
    with structlog.testing.capture_logs() as logs:
        dropped = [frame_id for item in shots for frame_id in spool.put(item)]
    assert dropped == [s.id for s in shots[:3]]
    assert spool.dropped == 3
    assert spool.size_bytes <= 2 * MiB
    assert spool.ids() == [s.id for s in shots[3:]]
    assert [(e["event"], e["reason"], e["frames"]) for e in logs] == [
        ("frames_dropped", "spool_full", 1)  # the first drop at once; the rest in a summary
    ]
    assert all(entry["log_level"] == "warning" for entry in logs)


def test_age_bound_drops_old_shots(tmp_path: Path) -> None:
    """Shots captured longer ago than max_age are dropped."""
    spool = Spool(tmp_path, MiB, max_age=60)
    old = shot(captured_at=time.time() - 120)
    fresh = shot()
    spool.put(old)
    spool.put(fresh)
    assert spool.ids() == [fresh.id]
    assert spool.dropped == 1


def test_leftover_temporary_files_are_removed_at_start(tmp_path: Path) -> None:
    """A half-written shot from a crash (a .tmp file) is deleted and never uploaded."""
    Spool(tmp_path, MiB, 3600).put(shot())
    (tmp_path / ".000000000009-abc.shot.tmp").write_bytes(b"half")
    reopened = Spool(tmp_path, MiB, 3600)
    assert len(reopened) == 1
    assert not list(tmp_path.glob("*.tmp"))


def test_unreadable_shot_is_skipped(tmp_path: Path) -> None:
    """A corrupt file is logged and skipped; the next shot comes out."""
    spool = Spool(tmp_path, MiB, 3600)
    spool.put(shot())
    good = shot()
    spool.put(good)
    first = sorted(tmp_path.glob("*.shot"))[0]
    first.write_bytes(b"not json\n")
    oldest = spool.oldest()
    assert oldest is not None
    assert oldest.id == good.id


@settings(max_examples=40, deadline=None)
@given(steps=st.lists(st.sampled_from(["put", "flush", "reopen"]), max_size=30))
def test_fifo_order_holds_across_any_puts_flushes_and_restarts(steps: list[str]) -> None:
    """Whatever the mix of puts, flushes and restarts, shots come out in the order they went in."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory)
        spool = Spool(path, MiB, 3600)
        expected: list[str] = []
        flushed: list[str] = []
        for step in steps:
            if step == "put":
                item = shot(100)
                spool.put(item)
                expected.append(item.id)
            elif step == "flush" and (oldest := spool.oldest()) is not None:
                spool.remove(oldest.id)
                flushed.append(oldest.id)
            elif step == "reopen":
                spool = Spool(path, MiB, 3600)
        flushed += [s.id for s in drain(spool)]
        assert flushed == expected


def test_a_write_on_a_full_disk_raises_a_disk_full_spool_error(tmp_path: Path) -> None:
    """ENOSPC is a SpoolError marked disk_full, with nothing half-written left behind."""
    with small_disk(tmp_path / "disk") as disk:
        spool = Spool(disk.path / "spool", MiB, 3600)  # a tmpfs root is 1777: not private
        spool.put(shot())
        disk.fill()
        with pytest.raises(SpoolError, match="the disk is full") as caught:
            spool.put(shot(100_000))
        assert caught.value.disk_full
        assert len(spool) == 1
        assert not list(spool.path.glob(".*.tmp"))
        disk.free()
        spool.put(shot(100_000))
        assert len(spool) == 2
