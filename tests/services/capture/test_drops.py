"""Dropped frames are logged with their reason: the first at once, then a summary per window."""

from __future__ import annotations

import structlog

from services.capture.drops import DropLog


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_first_drop_of_each_reason_is_logged_at_once() -> None:
    """Each reason's first drop is a warning naming the reason, the count and the detail."""
    drops = DropLog(every=60.0, clock=Clock())
    with structlog.testing.capture_logs() as logs:
        drops("disk_full", 1, "no room in the spool")
        drops("rejected", 2, "the backend answered 422")
    assert [(e["event"], e["reason"], e["frames"]) for e in logs] == [
        ("frames_dropped", "disk_full", 1),
        ("frames_dropped", "rejected", 2),
    ]
    assert logs[0]["detail"] == "no room in the spool"
    assert all(e["log_level"] == "warning" for e in logs)


def test_later_drops_become_one_summary_line_per_window() -> None:
    """Drops within the window are counted, and logged once with the count when it ends."""
    clock = Clock()
    drops = DropLog(every=60.0, clock=clock)
    with structlog.testing.capture_logs() as logs:
        drops("disk_full", 1, "first")
        for second in range(1, 42):
            clock.now += 1
            drops("disk_full", 1, f"drop {second}")
        assert len(logs) == 1
        clock.now += 30
        drops("disk_full", 1, "after the window")
    summary = logs[-1]
    assert (summary["event"], summary["reason"], summary["frames"]) == (
        "frames_dropped_summary",
        "disk_full",
        42,
    )
    assert summary["detail"] == "after the window"
    assert len(logs) == 2


def test_flush_logs_what_a_quiet_window_counted() -> None:
    """Counted drops are not lost when no drop follows: flush logs them after the window."""
    clock = Clock()
    drops = DropLog(every=60.0, clock=clock)
    with structlog.testing.capture_logs() as logs:
        drops("spool_full", 1, "first")
        drops("spool_full", 3, "more")
        drops.flush()
        assert len(logs) == 1  # the window has not ended
        clock.now += 61
        drops.flush()
    assert (logs[-1]["event"], logs[-1]["frames"]) == ("frames_dropped_summary", 3)


def test_a_reason_quiet_for_a_window_is_logged_at_once_again() -> None:
    """After a whole quiet window, the next drop is a fresh first drop, not a summary."""
    clock = Clock()
    drops = DropLog(every=60.0, clock=clock)
    with structlog.testing.capture_logs() as logs:
        drops("expired", 1, "old")
        clock.now += 120
        drops("expired", 1, "old again")
    assert [e["event"] for e in logs] == ["frames_dropped", "frames_dropped"]
