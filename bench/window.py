"""What knowing the active window costs capture (issue 9), against a bare grab in the same run.

On one private Xvfb (1920x1080) with a real EWMH window manager (openbox) and a real X client
window (``xlogo`` with a known class and title):

- the floor: a bare ``mss`` grab of every monitor (capture's :class:`Grabber`);
- a grab with the active window read just before and just after it, as capture attributes
  frames (two :meth:`WindowReader.read` calls); the goal is <= 1 ms added, median per grab;
- capture idle-paused: a running ``python -m services.capture`` with ``idle_after`` 1 s, once its
  ``capture.status`` says ``idle``, uses <= 0.5% of a core (CPU time over ``IDLE_SECONDS``).

The table is printed and written into ``docs/benchmarks.md`` ("Window context").
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from bench._report import write_section
from bench.processes import running_capture, running_main
from bench.scenery import XServer, running_xvfb, stop_process
from services.capture.grabber import Grabber
from services.capture.windows import WindowReader, open_reader

GRABS = 60
IDLE_SECONDS = 30.0
IDLE_DEADLINE = 60.0
WINDOW_DEADLINE = 20.0
BACKEND_APP = "backend.app:create_app"
HEADING = "## Window context"


@contextmanager
def desktop(server: XServer) -> Iterator[WindowReader]:
    """openbox and one xlogo window on ``server``; a reader that sees it active."""
    env = {**os.environ, "DISPLAY": server.display}
    wm = subprocess.Popen(
        ["openbox", "--sm-disable"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    client = subprocess.Popen(["xlogo", "-name", "benchlogo", "-title", "bench window"], env=env)
    reader = open_reader(server.display)
    try:
        found = subprocess.run(
            ["xdotool", "search", "--sync", "--onlyvisible", "--classname", "^benchlogo$"],
            env=env, check=True, capture_output=True, text=True, timeout=WINDOW_DEADLINE,
        )  # fmt: skip
        window = found.stdout.split()[0]
        deadline = time.monotonic() + WINDOW_DEADLINE
        while (info := reader.read()) is None or info.title != "bench window":
            if time.monotonic() > deadline:
                raise RuntimeError(f"xlogo never became the active window (last: {info})")
            # It fails until openbox runs and claims _NET_ACTIVE_WINDOW: try again until then.
            with contextlib.suppress(subprocess.CalledProcessError):
                server.run("xdotool", "windowactivate", "--sync", window)
        yield reader
    finally:
        reader.close()
        stop_process(client)
        stop_process(wm)


def per_grab_ms(grabber: Grabber, reader: WindowReader | None) -> list[float]:
    """Milliseconds per grab, with the two window reads around it when ``reader`` is given."""
    samples = []
    for _ in range(GRABS):
        start = time.perf_counter()
        if reader is not None:
            reader.read()
        grabber.grab_all()
        if reader is not None:
            reader.read()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


async def idle_cpu_share(server: XServer) -> float:
    """The share of one core a capture process uses once idle-paused."""
    runtime_dir = Path(tempfile.mkdtemp(prefix="cbw-", dir="/tmp"))  # mkdtemp makes it 0700
    try:
        async with (
            running_main(runtime_dir, app=BACKEND_APP),
            running_capture(
                runtime_dir, ("--idle-after", "1", "--interval", "1"), display=server.display
            ) as capture,
        ):
            async with asyncio.timeout(IDLE_DEADLINE):
                await capture.wait_status(lambda status: status.state == "idle")
            proc = psutil.Process(capture.child.pid)
            before = sum(proc.cpu_times()[:2])
            start = time.monotonic()
            await asyncio.sleep(IDLE_SECONDS)  # sleep-ok: the measured period
            used = sum(proc.cpu_times()[:2]) - before
            assert (await capture.get_status()).state == "idle", "input woke capture up"
            return used / (time.monotonic() - start)
    finally:
        shutil.rmtree(runtime_dir, ignore_errors=True)


def report(bare: list[float], attributed: list[float], idle_share: float) -> str:
    added = statistics.median(attributed) - statistics.median(bare)
    rows = [
        f"| bare grab (floor) | {statistics.median(bare):.2f} ms | - |",
        f"| grab + two window reads | {statistics.median(attributed):.2f} ms | - |",
        f"| added by the window reads | {added:.2f} ms "
        f"| <= 1 ms: {'met' if added <= 1 else 'missed'} |",
        f"| capture idle-paused, CPU | {idle_share * 100:.2f}% of a core over {IDLE_SECONDS:g} s "
        f"| <= 0.5%: {'met' if idle_share <= 0.005 else 'missed'} |",
    ]
    return "\n".join(
        [
            HEADING,
            "",
            f"`python -m bench window`, {GRABS} grabs each on Xvfb 1920x1080 with openbox and one "
            "xlogo window (medians), load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.",
            "",
            "| measure | figure | goal |",
            "|---|---|---|",
            *rows,
        ]
    )


def main() -> None:
    with running_xvfb() as server, desktop(server) as reader:
        grabber = Grabber(server.display)
        try:
            per_grab_ms(grabber, reader)  # warm both paths
            bare = per_grab_ms(grabber, None)
            attributed = per_grab_ms(grabber, reader)
        finally:
            grabber.close()
        idle_share = asyncio.run(idle_cpu_share(server))
    text = report(bare, attributed, idle_share)
    print(text)
    write_section(HEADING, text)


if __name__ == "__main__":
    main()
