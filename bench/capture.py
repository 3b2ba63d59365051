"""Capture cost per frame under Xvfb 1920x1080 with real content, against a bare mss grab.

In one run, on one private Xvfb showing desktop-like pictures through ``xwud`` (a real X client),
with a real main and backend (``backend.app:create_app``):

- the floor: a bare ``mss`` grab of the screen;
- an unchanged frame: the capture pipeline's grab plus change check (skipped);
- a kept frame: grab, change check, encode (default settings: WebP q80, method 0), upload and
  store (``POST /api/captures`` until the 201); "stored after grab" is check + encode + upload;
- the same, end to end through a running ``python -m services.capture``: the ``capture.frame``
  event's time minus the frame's ``captured_at``;
- bytes per kept frame against PNG at Pillow's default level.

Goals (issue 5): unchanged <= 3x a bare grab; kept frame stored <= 80 ms after its grab; bytes per
kept frame <= PNG. The table is printed and written into ``docs/benchmarks.md`` ("Capture").
"""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import mss
from PIL import Image

from bench._report import write_section
from bench.processes import CaptureProcess, MainProcess, running_capture, running_main
from bench.scenery import XServer, desktop_image, running_xvfb, stop_process
from bus.ops import CaptureOps
from services.capture.change import ChangeDetector
from services.capture.encoder import Encoder
from services.capture.frames import RawFrame, Shot
from services.capture.grabber import Grabber
from services.capture.posting import post_shot
from services.capture.settings import CaptureSettings
from services.foundation.backend_client import BackendClient

REPO = Path(__file__).resolve().parents[1]
HEADING = "## Capture"
BACKEND_APP = "backend.app:create_app"
GRABS = 200
KEPT_FRAMES = 12
PROCESS_FRAMES = 10
SMALLER = 1280  # the max_dimension shown as an option
PAINT_TIMEOUT = 10.0
GOAL_UNCHANGED_RATIO = 3.0
GOAL_STORED_MS = 80.0


@dataclass
class Samples:
    """Milliseconds (or bytes) per frame, by row name, in insertion order."""

    rows: dict[str, list[float]] = field(default_factory=dict)
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at the start and the end

    def add(self, name: str, value: float) -> None:
        self.rows.setdefault(name, []).append(value)

    def median(self, name: str) -> float:
        return statistics.median(self.rows[name])

    def p95(self, name: str) -> float:
        values = sorted(self.rows[name])
        return values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]


def ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def grab_one(grabber: Grabber) -> RawFrame:
    return grabber.grab_all()[0]


def wait_painted(grabber: Grabber, picture: Image.Image) -> None:
    """Grab until the screen shows exactly ``picture`` (xwud has painted all of it)."""
    expected = picture.convert("RGB").tobytes()
    deadline = time.monotonic() + PAINT_TIMEOUT
    while time.monotonic() < deadline:
        frame = grab_one(grabber)
        shown = Image.frombuffer("RGB", frame.size, frame.bgra, "raw", "BGRX", 0, 1)
        if shown.tobytes() == expected:
            return
    raise RuntimeError("the picture never appeared whole on the screen")


def show(server: XServer, grabber: Grabber, seed: int) -> None:
    """Put desktop picture ``seed`` on the screen and wait for it; close the previous window."""
    old = list(server.clients)
    picture = desktop_image(server.size, seed)
    server.show(picture, name=f"bench-{seed}")
    wait_painted(grabber, picture)
    for client in old:
        stop_process(client)
        server.clients.remove(client)


def unchanged_frames(grabber: Grabber, detector: ChangeDetector, samples: Samples) -> None:
    """A still screen, alternating a bare ``mss`` grab (the floor) with the pipeline's grab and
    check (skipped every time), so both see the same conditions."""
    detector.check(grab_one(grabber))
    with mss.MSS(display=grabber.display) as screen:
        monitor = screen.monitors[1]
        screen.grab(monitor)
        for _ in range(GRABS):
            start = time.perf_counter()
            screen.grab(monitor)
            samples.add("bare mss grab", ms_since(start))
            start = time.perf_counter()
            frame = grab_one(grabber)
            grabbed = time.perf_counter()
            verdict = detector.check(frame)
            samples.add("unchanged: grab", (grabbed - start) * 1000)
            samples.add("unchanged: check", ms_since(grabbed))
            samples.add("unchanged: grab + check", ms_since(start))
            assert not verdict.keep, "a still screen was judged changed"


async def kept_frames(server: XServer, backend: BackendClient, samples: Samples) -> None:
    """New content each time: grab, check, encode, upload + store; PNG for comparison."""
    grabber = Grabber(server.display)
    detector = ChangeDetector(CaptureSettings().threshold)
    encoder = Encoder(CaptureSettings())
    png = Encoder(CaptureSettings(format="png"))
    smaller = Encoder(CaptureSettings(max_dimension=SMALLER))
    detector.check(grab_one(grabber))
    for seed in range(1, KEPT_FRAMES + 1):
        await asyncio.to_thread(show, server, grabber, seed)
        start = time.perf_counter()
        frame = grab_one(grabber)
        grabbed = time.perf_counter()
        assert detector.check(frame).keep, "new content was judged unchanged"
        checked = time.perf_counter()
        shot = encoder.encode(frame)
        encoded = time.perf_counter()
        await post_shot(backend, shot)
        stored = time.perf_counter()
        for name, begin, end in (
            ("kept: grab", start, grabbed),
            ("kept: check", grabbed, checked),
            ("kept: encode (WebP q80 m0)", checked, encoded),
            ("kept: upload + store", encoded, stored),
            ("kept: stored after grab", grabbed, stored),
        ):
            samples.add(name, (end - begin) * 1000)
        before_png = time.perf_counter()
        samples.add("bytes: PNG (default level)", len(png.encode(frame).data))
        samples.add("kept: encode PNG (for reference)", ms_since(before_png))
        samples.add("bytes: WebP (default)", len(shot.data))
        await smaller_option(smaller, frame, backend, samples, checked - grabbed)
    grabber.close()


async def smaller_option(
    encoder: Encoder, frame: RawFrame, backend: BackendClient, samples: Samples, check_s: float
) -> None:
    """The ``max_dimension`` option on the same frame: encode, upload + store (its own key)."""
    start = time.perf_counter()
    small = encoder.encode(frame)
    encoded = time.perf_counter()
    await post_shot(
        backend, Shot(meta=msgspec.structs.replace(small.meta, id=f"{small.id}s"), data=small.data)
    )
    option = f"max_dimension {SMALLER} (option)"
    samples.add(f"kept, {option}: encode", (encoded - start) * 1000)
    samples.add(f"kept, {option}: stored after grab", check_s * 1000 + ms_since(start))
    samples.add(f"bytes: WebP, {option}", len(small.data))


async def process_frames(server: XServer, capture: CaptureProcess, samples: Samples) -> None:
    """The running capture process, paused while each picture is put up (so the bench's own
    screen polling does not compete), then ``capture_now``: grab start → capture.frame (stored)."""
    grabber = Grabber(server.display)
    await capture.op(CaptureOps.PAUSE)
    for seed in range(100, 100 + PROCESS_FRAMES):
        await asyncio.to_thread(show, server, grabber, seed)
        seen = len(capture.frames.events)
        assert (await capture.capture_now()).kept == 1, "new content was judged unchanged"
        frame = await capture.frames.wait_for(lambda _: True, after=seen)
        samples.add("process: grab start → stored", (frame.ts - frame.captured_at) * 1000)
    grabber.close()


async def measure(server: XServer, runtime_dir: Path) -> Samples:
    samples = Samples()
    start_load = os.getloadavg()[0]
    grabber = Grabber(server.display)
    await asyncio.to_thread(show, server, grabber, 0)
    await asyncio.to_thread(
        unchanged_frames, grabber, ChangeDetector(CaptureSettings().threshold), samples
    )
    grabber.close()
    async with running_main(runtime_dir, app=BACKEND_APP) as main:
        await kept_in_process(server, main, samples)
        args = ("--interval", "0.2", "--display", server.display)
        async with running_capture(runtime_dir, args, display=server.display) as capture:
            await capture.wait_status(lambda s: s.counters.uploaded >= 1)
            await process_frames(server, capture, samples)
    samples.load = (start_load, os.getloadavg()[0])
    return samples


async def kept_in_process(server: XServer, main: MainProcess, samples: Samples) -> None:
    backend = BackendClient(main.endpoints, timeout=10.0)
    await backend.refresh()
    try:
        await kept_frames(server, backend, samples)
    finally:
        await backend.aclose()


# -- report ----------------------------------------------------------------------------------------


def table(samples: Samples) -> str:
    lines = ["| per frame | median | p95 |", "|---|---:|---:|"]
    for name in samples.rows:
        if name.startswith("bytes"):
            lines.append(f"| {name} | {samples.median(name) / 1024:.0f} KiB | |")
        else:
            lines.append(f"| {name} | {samples.median(name):.1f} ms | {samples.p95(name):.1f} ms |")
    return "\n".join(lines)


def goals(samples: Samples) -> list[str]:
    bare = samples.median("bare mss grab")
    unchanged = samples.median("unchanged: grab + check")
    stored = samples.median("kept: stored after grab")
    stored_p95 = samples.p95("kept: stored after grab")
    process = samples.median("process: grab start → stored")
    webp, png = (
        samples.median("bytes: WebP (default)"),
        samples.median("bytes: PNG (default level)"),
    )
    option = samples.median(f"kept, max_dimension {SMALLER} (option): stored after grab")

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    return [
        f"- unchanged frame / bare grab: {unchanged / bare:.2f}x "
        f"(goal <= {GOAL_UNCHANGED_RATIO:g}x: {verdict(unchanged / bare <= GOAL_UNCHANGED_RATIO)})",
        f"- kept frame stored after its grab: median {stored:.1f} ms, p95 {stored_p95:.1f} ms; "
        f"through the capture process (from grab start) median {process:.1f} ms "
        f"(goal <= {GOAL_STORED_MS:g} ms: {verdict(max(stored, process) <= GOAL_STORED_MS)})",
        f"- with `--max-dimension {SMALLER}`: a kept frame is stored {option:.1f} ms after its "
        f"grab (median; {verdict(option <= GOAL_STORED_MS)} for that setting)",
        f"- bytes per kept frame / PNG: {webp / png:.2f} (goal <= 1: {verdict(webp <= png)})",
    ]


def section(samples: Samples) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    load = f"load average {samples.load[0]:.1f} at the start, {samples.load[1]:.1f} at the end"
    return "\n".join(
        [
            HEADING,
            "",
            f"`python -m bench capture` ({when}, {machine}, Python {platform.python_version()}, "
            f"{load}). "
            "Xvfb 1920x1080x24 showing desktop-like pictures (windows of text, a gradient "
            "wallpaper, a fractal, a photo-like picture) through `xwud`; a real main and backend. "
            f"Bare grab and unchanged: {GRABS} grabs of a still screen each, alternating a bare "
            "`mss` grab with the pipeline's grab and change check (skipped by the exact-equality "
            "path). Kept: "
            f"{KEPT_FRAMES} new pictures, each grabbed, checked, encoded with the default "
            "settings (WebP quality 80, method 0) and posted until the backend's 201; "
            f"process: {PROCESS_FRAMES} new pictures captured by a running `python -m "
            "services.capture` (paused, `capture_now` once each picture is up), from the grab's "
            "start to the stored frame's `capture.frame` event.",
            "",
            table(samples),
            "",
            "Goals (issue 5):",
            "",
            *goals(samples),
            "",
        ]
    )


def with_runtime_dir(run: Callable[[Path], Samples]) -> Samples:
    path = Path(tempfile.mkdtemp(prefix="cb-", dir="/tmp"))
    path.chmod(0o700)
    try:
        return run(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def main() -> None:
    """Measure, print the table and the ratios, update ``docs/benchmarks.md``."""
    print("capture cost per frame, Xvfb 1920x1080, real main + backend")
    with running_xvfb() as server:
        samples = with_runtime_dir(lambda path: asyncio.run(measure(server, path)))
    print(f"\nload average: {samples.load[0]:.1f} at the start, {samples.load[1]:.1f} at the end")
    print(table(samples))
    print()
    print("\n".join(["goals:", *goals(samples)]))
    write_section(HEADING, section(samples))
