"""The capture process on its own (bus proxy, no main): states, ops, skipping, spool, no display."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bus import Endpoints, RemoteError, ensure_runtime_dir
from bus.ops import CaptureOps
from services.foundation.exits import EXIT_CONFIG
from services.foundation.supervision import Child, ChildSpec
from tests.fixtures.display import XServer, running_xvfb, unused_display_number
from tests.services.capture.harness import REPO, capture_argv, event_proxy, running_capture
from tests.services.capture.small_disk import small_disk

pytestmark = pytest.mark.display

FAST = ("--interval", "0.2")
ON_DEMAND = ("--interval", "3600")  # one grab at start, then only capture_now


@pytest.fixture
async def proxy(endpoints: Endpoints) -> AsyncIterator[None]:
    """main's event forwarder, without main."""
    async with event_proxy(endpoints):
        yield


@pytest.mark.usefixtures("proxy")
async def test_no_display_is_unavailable_and_the_process_stays_up(runtime_dir: Path) -> None:
    """Without DISPLAY: capture.status unavailable with the reason; ops still answered."""
    async with running_capture(runtime_dir, FAST) as capture:
        status = await capture.wait_status(lambda s: s.state == "unavailable")
        assert status.last_error is not None
        assert "DISPLAY is not set" in status.last_error
        with pytest.raises(RemoteError, match="DISPLAY is not set"):
            await capture.capture_now()
        assert (await capture.get_status()).state == "unavailable"
        assert capture.child.running


@pytest.mark.usefixtures("proxy")
async def test_recovers_when_the_display_appears(runtime_dir: Path) -> None:
    """A display that is not there yet → unavailable; once an X server runs there → running."""
    number = unused_display_number()
    async with running_capture(runtime_dir, (*FAST, "--display", f":{number}")) as capture:
        await capture.wait_status(lambda s: s.state == "unavailable")
        with running_xvfb(number=number) as server:
            server.fill("#102030")
            seen = len(capture.status.events)
            await capture.status.wait_for(lambda s: s.state == "running", after=seen)
            await capture.status.wait_for(lambda s: s.counters.kept >= 1, after=seen)
        await capture.status.wait_for(lambda s: s.state == "unavailable", after=seen)
        assert capture.child.running


@pytest.mark.usefixtures("proxy")
async def test_unchanged_screen_frames_are_skipped(runtime_dir: Path, xvfb: XServer) -> None:
    """On a still screen only the first frame is kept; every later grab is skipped."""
    xvfb.fill("#445566")
    async with running_capture(runtime_dir, FAST, display=xvfb.display) as capture:
        status = await capture.wait_status(lambda s: s.counters.grabbed >= 6)
        assert status.counters.kept == 1
        assert status.counters.skipped == status.counters.grabbed - 1


@pytest.mark.usefixtures("proxy")
async def test_a_change_on_screen_is_kept(runtime_dir: Path, xvfb: XServer) -> None:
    """Painting the screen another colour makes the next grab a kept frame."""
    xvfb.fill("white")
    async with running_capture(runtime_dir, FAST, display=xvfb.display) as capture:
        await capture.wait_status(lambda s: s.counters.kept == 1)
        xvfb.fill("black")
        status = await capture.wait_status(lambda s: s.counters.kept == 2)
        assert status.counters.dropped == 0


@pytest.fixture
def control_dir(runtime_dir: Path) -> Path:
    """A second runtime dir (own bus, own spool), for a capture process run as a control."""
    return ensure_runtime_dir(runtime_dir / "control")


@pytest.mark.usefixtures("proxy")
async def test_pause_stops_the_interval_grabs(
    runtime_dir: Path, control_dir: Path, xvfb: XServer
) -> None:
    """Paused, `grabbed` stays put while an unpaused control on the same screen grabs 5 times."""
    async with (
        event_proxy(Endpoints(control_dir)),
        running_capture(runtime_dir, FAST, display=xvfb.display) as capture,
        running_capture(control_dir, FAST, display=xvfb.display) as control,
    ):
        await capture.wait_status(lambda s: s.state == "running")
        paused = await capture.op(CaptureOps.PAUSE)  # answered once a grab in progress is done
        assert paused.state == "paused"
        start = (await control.get_status()).counters.grabbed
        await control.wait_status(lambda s: s.counters.grabbed >= start + 5)  # >= 4 intervals
        held = await capture.get_status()  # published first if a counter moved
        assert held.counters.grabbed == paused.counters.grabbed
        assert all(
            s.counters.grabbed == paused.counters.grabbed
            for s in capture.status.events
            if s.seq >= paused.seq
        )


@pytest.mark.usefixtures("proxy")
async def test_capture_now_while_paused_and_resume(runtime_dir: Path, xvfb: XServer) -> None:
    """Paused, capture_now still grabs (forced: kept); resume restarts the interval grabs."""
    xvfb.fill("white")
    async with running_capture(runtime_dir, FAST, display=xvfb.display) as capture:
        await capture.wait_status(lambda s: s.state == "running")
        paused = await capture.op(CaptureOps.PAUSE)
        assert paused.state == "paused"
        result = await capture.capture_now()
        assert (result.kept, result.skipped) in ((0, 1), (1, 0))
        forced = await capture.capture_now(force=True)
        assert (forced.kept, forced.skipped) == (1, 0)
        before = (await capture.get_status()).counters.grabbed
        assert before == paused.counters.grabbed + 2, "only the two capture_now grabs"
        assert (await capture.op(CaptureOps.RESUME)).state == "running"
        await capture.wait_status(lambda s: s.counters.grabbed >= before + 3)


@pytest.mark.usefixtures("proxy")
async def test_kept_frames_wait_in_the_spool_across_a_restart(
    runtime_dir: Path, xvfb: XServer
) -> None:
    """With no main to upload to, kept frames are spooled and still there after a restart."""
    args = ("--interval", "3600")
    xvfb.fill("white")
    async with running_capture(runtime_dir, args, display=xvfb.display) as capture:
        await capture.wait_status(lambda s: s.counters.kept == 1)  # the grab at start
        for color in ("red", "green", "blue"):
            xvfb.fill(color)
            assert (await capture.capture_now()).kept == 1
        status = await capture.wait_status(lambda s: s.spool_frames == 4)
        assert status.counters.spooled == 4
    async with running_capture(runtime_dir, args, display=xvfb.display) as capture:
        status = await capture.wait_status(lambda s: s.state == "running")
        assert status.spool_frames == 4


@pytest.mark.usefixtures("proxy")
async def test_a_second_capture_on_the_same_runtime_dir_is_refused(
    runtime_dir: Path, xvfb: XServer
) -> None:
    """Only one capture process per runtime dir (and spool): the second exits 78 and says why."""
    async with running_capture(runtime_dir, FAST, display=xvfb.display) as capture:
        await capture.wait_status(lambda s: s.state == "running")
        spec = ChildSpec(
            name="capture-2",
            argv=capture_argv(runtime_dir, ("--display", xvfb.display)),
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        second = await Child.spawn(spec)
        async with asyncio.timeout(30):
            assert await second.reaped() == EXIT_CONFIG  # set-up error: not to be restarted
        assert any("another ctxbus capture" in line for line in second.tail())
        assert (await capture.get_status()).state == "running"


@pytest.mark.usefixtures("proxy")
async def test_a_restart_does_not_keep_the_unchanged_screen_again(
    runtime_dir: Path, xvfb: XServer
) -> None:
    """Killed after keeping a frame, a restarted capture skips the same screen, keeps a change."""
    xvfb.fill("#336699")
    async with running_capture(runtime_dir, ON_DEMAND, display=xvfb.display) as capture:
        await capture.wait_status(lambda s: s.counters.spooled == 1)  # kept and safe in the spool
        await capture.kill()
    async with running_capture(runtime_dir, ON_DEMAND, display=xvfb.display) as capture:
        first = await capture.wait_status(lambda s: s.counters.grabbed == 1)  # the grab at start
        assert (first.counters.kept, first.counters.skipped) == (0, 1)
        assert (await capture.capture_now()).kept == 0
        status = await capture.get_status()
        assert (status.counters.kept, status.counters.skipped) == (0, 2)
        assert status.spool_frames == 1  # only the frame of the killed process
        xvfb.fill("#993366")
        assert (await capture.capture_now()).kept == 1
        status = await capture.wait_status(lambda s: s.counters.spooled == 1)
        assert status.spool_frames == 2


def logged_events(runtime_dir: Path, event: str) -> list[dict[str, object]]:
    """The capture log file's JSON entries named ``event``."""
    lines = (runtime_dir / "log" / "capture.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    return [entry for entry in entries if entry.get("event") == event]


@pytest.mark.usefixtures("proxy")
async def test_a_full_disk_is_logged_and_shown_in_the_status_until_there_is_room(
    runtime_dir: Path, xvfb: XServer
) -> None:
    """A spool write on a full disk: a logged drop, disk_full in capture.status; room clears it."""
    xvfb.fill("white")
    with small_disk(runtime_dir / "capture-data") as disk:
        async with running_capture(runtime_dir, ON_DEMAND, display=xvfb.display) as capture:
            await capture.wait_status(lambda s: s.counters.spooled == 1)
            disk.fill()
            assert (await capture.capture_now(force=True)).kept == 1
            full = await capture.wait_status(lambda s: s.disk_full)
            assert (full.counters.dropped, full.spool_frames) == (1, 1)
            assert full.last_error is not None
            assert "the disk is full" in full.last_error
            disk.free()
            assert (await capture.capture_now(force=True)).kept == 1
            status = await capture.wait_status(lambda s: s.counters.spooled == 2)
            assert not status.disk_full
            assert (status.counters.dropped, status.spool_frames) == (1, 2)
    drops = logged_events(runtime_dir, "frames_dropped")
    assert [(d["reason"], d["frames"], d["level"]) for d in drops] == [("disk_full", 1, "warning")]
