"""The fingerprint store: saved only for safe frames, round trip, bad files start empty."""

from __future__ import annotations

from pathlib import Path

import structlog

from services.capture.change import ChangeDetector, Fingerprint
from services.capture.fingerprints import FILE_NAME, FingerprintStore
from tests.services.capture.pictures import frame_of, solid, with_box
from tests.services.capture.small_disk import small_disk


def kept_print(color: str, monitor: int = 1) -> Fingerprint:
    """The fingerprint a detector keeps for a ``color`` screen."""
    detector = ChangeDetector(0.01)
    detector.check(frame_of(solid(color), monitor))
    fingerprint = detector.kept(monitor)
    assert fingerprint is not None
    return fingerprint


def test_committed_fingerprints_come_back_in_a_new_store(tmp_path: Path) -> None:
    """What was committed per monitor is what a later process loads, byte for byte."""
    store = FingerprintStore(tmp_path)
    prints = {1: kept_print("white", 1), 2: kept_print("navy", 2)}
    for monitor, fingerprint in prints.items():
        store.expect(f"frame-{monitor}", monitor, fingerprint)
        store.commit(f"frame-{monitor}")
    assert FingerprintStore(tmp_path).load() == prints
    assert not list(tmp_path.glob("*.tmp"))


def test_only_a_committed_frame_is_saved(tmp_path: Path) -> None:
    """A kept frame not yet safe, or dropped, leaves the saved fingerprint as it was."""
    store = FingerprintStore(tmp_path)
    store.expect("safe", 1, kept_print("white"))
    store.commit("safe")
    store.expect("on-its-way", 1, kept_print("black"))
    store.expect("dropped", 1, kept_print("red"))
    store.discard(["dropped"])
    store.commit("dropped")
    assert FingerprintStore(tmp_path).load() == {1: kept_print("white")}


def test_a_corrupt_file_means_start_empty_with_one_warning(tmp_path: Path) -> None:
    """A damaged fingerprint file is ignored with a warning, and the next commit replaces it."""
    (tmp_path / FILE_NAME).write_bytes(b'{"version": 1, "monitors": [{"monitor"')
    store = FingerprintStore(tmp_path)
    with structlog.testing.capture_logs() as logs:
        assert store.load() == {}
    assert [(e["event"], e["log_level"]) for e in logs] == [("fingerprints_ignored", "warning")]
    store.expect("next", 1, kept_print("white"))
    store.commit("next")
    assert FingerprintStore(tmp_path).load() == {1: kept_print("white")}


def test_another_version_or_a_missing_file_means_start_empty(tmp_path: Path) -> None:
    """A file of another version, or none at all, loads as no fingerprints."""
    assert FingerprintStore(tmp_path).load() == {}
    (tmp_path / FILE_NAME).write_bytes(b'{"version": 99, "cells": "whatever"}')
    with structlog.testing.capture_logs() as logs:
        assert FingerprintStore(tmp_path).load() == {}
    assert "version 99" in logs[0]["reason"]


def test_a_seeded_detector_skips_the_same_screen_and_keeps_a_change() -> None:
    """Seeded with a kept frame's fingerprint, the first frame is judged against it."""
    base = solid("white")
    detector = ChangeDetector(0.01, {1: kept_print("white")})
    assert not detector.check(frame_of(base)).keep
    assert detector.check(frame_of(with_box(base, (0, 0, 200, 200), "black"))).keep


def test_a_save_on_a_full_disk_is_logged_once_and_does_not_raise(tmp_path: Path) -> None:
    """No room for the file: one warning for the failing stretch; the old file stays whole."""
    with small_disk(tmp_path / "disk") as disk:
        store = FingerprintStore(disk.path)
        store.expect("first", 1, kept_print("white"))
        store.commit("first")
        disk.fill()
        with structlog.testing.capture_logs() as logs:
            for n in range(3):
                store.expect(f"full-{n}", 1, kept_print("black"))
                store.commit(f"full-{n}")
        assert [e["event"] for e in logs] == ["fingerprints_not_saved"]
        assert FingerprintStore(disk.path).load() == {1: kept_print("white")}
