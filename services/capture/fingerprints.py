"""The last kept frame's fingerprint per monitor, kept across restarts in the spool directory.

Without it a restarted capture process keeps its first frame even when the screen has not changed,
and the timeline shows the same picture twice in a row. ``fingerprints.json`` in the spool dir::

    {"version": 1, "monitors": [{"monitor": 1, "width": 160, "height": 90, "cells": "<base64>"}]}

``cells`` is the zlib-compressed grey cells of :class:`~services.capture.change.Fingerprint`
(a few KiB per monitor). The file is replaced atomically (temp file, fsync, rename). A missing,
unreadable or other-version file means "start empty", logged once at load.

A fingerprint is saved only once its frame is safe (uploaded or spooled): :meth:`expect` holds it
while the shot is on its way, :meth:`commit` saves it. A crash between keep and save therefore at
worst keeps one unchanged frame again; it never makes a changed frame look unchanged.
:meth:`commit` blocks (a small write and an fsync); it never raises: a failed save is logged.
"""

from __future__ import annotations

import os
import threading
import zlib
from collections.abc import Iterable
from pathlib import Path

import msgspec
import structlog

from services.capture.change import Fingerprint

log = structlog.get_logger("capture.fingerprints")

FILE_NAME = "fingerprints.json"
VERSION = 1  # bump when the layout or the cell size (change.CELL) changes


class _Monitor(msgspec.Struct, kw_only=True):
    monitor: int
    width: int
    height: int
    cells: bytes  # zlib-compressed, one grey byte per cell


class _File(msgspec.Struct, kw_only=True):
    version: int
    monitors: list[_Monitor]


class _Version(msgspec.Struct):
    version: int


class FingerprintStore:
    """``fingerprints.json`` in ``directory``: load at start, commit each safely kept frame."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE_NAME
        self._lock = threading.Lock()
        self._saved: dict[int, Fingerprint] = {}
        self._pending: dict[str, tuple[int, Fingerprint]] = {}
        self._save_failing = False

    def load(self) -> dict[int, Fingerprint]:
        """The saved fingerprints by monitor; empty (logged) when the file is missing or bad."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            log.info("fingerprints_none", path=str(self.path))
            return {}
        except OSError as exc:
            return self._start_empty(f"cannot read it: {exc.strerror}")
        try:
            version = msgspec.json.decode(raw, type=_Version).version
            if version != VERSION:
                return self._start_empty(f"version {version}, not {VERSION}")
            stored = msgspec.json.decode(raw, type=_File)
            prints = {m.monitor: _fingerprint(m) for m in stored.monitors}
        except (msgspec.DecodeError, zlib.error, ValueError) as exc:
            return self._start_empty(f"unreadable: {exc}")
        with self._lock:
            self._saved = dict(prints)
        log.info("fingerprints_loaded", monitors=sorted(prints), path=str(self.path))
        return prints

    def expect(self, frame_id: str, monitor: int, fingerprint: Fingerprint) -> None:
        """Hold ``fingerprint`` of a kept frame until :meth:`commit` or :meth:`discard`."""
        with self._lock:
            self._pending[frame_id] = (monitor, fingerprint)

    def discard(self, frame_ids: Iterable[str]) -> None:
        """Forget the fingerprints of frames that were dropped, not kept."""
        with self._lock:
            for frame_id in frame_ids:
                self._pending.pop(frame_id, None)

    def commit(self, frame_id: str) -> None:
        """``frame_id`` is safe (uploaded or spooled): save its fingerprint, if one is held."""
        with self._lock:
            entry = self._pending.pop(frame_id, None)
            if entry is None:
                return
            monitor, fingerprint = entry
            self._saved[monitor] = fingerprint
            self._save(_encode(self._saved))

    def _save(self, body: bytes) -> None:
        tmp = self.path.with_name(f".{FILE_NAME}.tmp")
        try:
            with tmp.open("wb") as stream:
                stream.write(body)
                stream.flush()
                os.fsync(stream.fileno())
            tmp.replace(self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if not self._save_failing:  # once per failing stretch, not once per kept frame
                log.warning("fingerprints_not_saved", path=str(self.path), error=exc.strerror)
            self._save_failing = True
            return
        if self._save_failing:
            log.info("fingerprints_saved_again", path=str(self.path))
        self._save_failing = False

    def _start_empty(self, why: str) -> dict[int, Fingerprint]:
        log.warning("fingerprints_ignored", path=str(self.path), reason=why)
        return {}


def _fingerprint(stored: _Monitor) -> Fingerprint:
    cells = zlib.decompress(stored.cells)
    if len(cells) != stored.width * stored.height:
        raise ValueError(f"monitor {stored.monitor}: {len(cells)} cells, not width x height")
    return Fingerprint(stored.width, stored.height, cells)


def _encode(prints: dict[int, Fingerprint]) -> bytes:
    monitors = [
        _Monitor(monitor=m, width=f.width, height=f.height, cells=zlib.compress(f.cells))
        for m, f in sorted(prints.items())
    ]
    return msgspec.json.encode(_File(version=VERSION, monitors=monitors))
