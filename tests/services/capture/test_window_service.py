"""The capture process with windows on a real X desktop (openbox): attribution status, privacy
rules (configured and added at run time, kept across restarts), window-switch triggers, idle."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bench.scenery import XServer, running_xvfb
from bus import Endpoints, RemoteError
from bus.messages import CaptureStatus, ExcludeRule, Message
from bus.ops import CaptureOps, Op
from services.capture.settings import RULE_FILE_NAME
from services.foundation.exits import EXIT_CONFIG
from services.foundation.supervision import Child, ChildSpec
from tests.services.capture.desktop import activate, open_window, start_openbox
from tests.services.capture.harness import REPO, capture_argv, event_proxy, running_capture

pytestmark = pytest.mark.display

SIZE = (640, 480)
ON_DEMAND = ("--interval", "3600")  # one grab at start, then only triggers and capture_now


class Misspelt(Message, kw_only=True):
    """A malformed rule: ``tilte`` is no rule field."""

    tilte: str


MISSPELT_ADD = Op(CaptureOps.ADD_EXCLUDE.name, Misspelt, CaptureStatus)


@pytest.fixture
async def proxy(endpoints: Endpoints) -> AsyncIterator[None]:
    async with event_proxy(endpoints):
        yield


@pytest.fixture
def desktop() -> Iterator[XServer]:
    """A 640x480 Xvfb managed by openbox."""
    with running_xvfb(SIZE) as server:
        start_openbox(server)
        yield server


def _config(runtime_dir: Path, text: str) -> tuple[str, str]:
    path = runtime_dir / "config.toml"
    path.write_text(text)
    return ("--config", str(path))


@pytest.mark.usefixtures("proxy")
async def test_an_excluded_app_is_never_kept_nor_spooled(
    runtime_dir: Path, desktop: XServer
) -> None:
    """A window matching capture.exclude fills the screen: its frames are counted excluded only."""
    secret = open_window(desktop, "SecretVault", "vault", "640x480+0+0")
    activate(desktop, secret)
    config = _config(runtime_dir, '[capture]\nexclude = [{app = "secret*"}]\n')
    async with running_capture(runtime_dir, (*ON_DEMAND, *config), desktop.display) as capture:
        status = await capture.wait_status(lambda s: s.counters.excluded >= 1)
        assert status.window == "available"
        await capture.capture_now(force=True)
        status = await capture.get_status()
        assert status.counters.excluded == 2
        assert (status.counters.kept, status.counters.spooled, status.spool_frames) == (0, 0, 0)
        assert status.counters.grabbed == 2


@pytest.mark.usefixtures("proxy")
async def test_a_rule_added_at_run_time_applies_at_once_and_persists(
    runtime_dir: Path, desktop: XServer
) -> None:
    """add_exclude: the next grab is excluded; a malformed rule is bad_request; kept on restart."""
    app = open_window(desktop, "Diary", "dear diary", "640x480+0+0")
    activate(desktop, app)
    async with running_capture(runtime_dir, ON_DEMAND, desktop.display) as capture:
        await capture.wait_status(lambda s: s.counters.grabbed >= 1)
        with pytest.raises(RemoteError) as refused:
            await capture.requester.call(MISSPELT_ADD, Misspelt(tilte="*"))
        assert refused.value.code == "bad_request"
        await capture.requester.call(CaptureOps.ADD_EXCLUDE, ExcludeRule(app="diary"))
        await capture.capture_now(force=True)
        assert (await capture.get_status()).counters.excluded == 1
    saved = json.loads((runtime_dir / "capture-data" / RULE_FILE_NAME).read_text())
    assert saved == [{"app": "diary"}]
    async with running_capture(runtime_dir, ON_DEMAND, desktop.display) as again:
        status = await again.wait_status(lambda s: s.counters.grabbed >= 1)
        assert status.counters.excluded == 1
        assert status.counters.kept == 0


@pytest.mark.usefixtures("proxy")
async def test_a_window_switch_triggers_a_grab_after_the_settle_delay(
    runtime_dir: Path, desktop: XServer
) -> None:
    """With no interval grab due, activating another window makes one grab."""
    first = open_window(desktop, "First", "one", "320x480+0+0")
    second = open_window(desktop, "Second", "two", "320x480+320+0")
    activate(desktop, first)
    extra = ("--settle", "0.3")
    async with running_capture(runtime_dir, (*ON_DEMAND, *extra), desktop.display) as capture:
        await capture.wait_status(lambda s: s.counters.grabbed == 1)
        seen = len(capture.status.events)
        activate(desktop, second)
        status = await capture.status.wait_for(lambda s: s.counters.grabbed == 2, after=seen)
        assert status.state == "running"


@pytest.mark.usefixtures("proxy")
async def test_idle_pauses_and_input_resumes_with_a_frame(
    runtime_dir: Path, desktop: XServer
) -> None:
    """No input for idle_after → state idle; xdotool input → running and a kept (resume) frame."""
    extra = ("--interval", "0.5", "--idle-after", "1")
    async with running_capture(runtime_dir, extra, desktop.display) as capture:
        idle = await capture.wait_status(lambda s: s.state == "idle")
        desktop.run("xdotool", "mousemove", "100", "100")
        seen = len(capture.status.events)
        running = await capture.status.wait_for(lambda s: s.state == "running", after=seen)
        assert running.seq > idle.seq
        resumed = await capture.status.wait_for(
            lambda s: s.counters.kept > idle.counters.kept, after=seen
        )
        assert resumed.counters.kept == idle.counters.kept + 1  # unchanged screen, forced once


async def test_a_malformed_rule_in_the_file_exits_78_naming_it(runtime_dir: Path) -> None:
    """capture.exclude with a misspelt key: exit 78, the message names the rule."""
    config = _config(runtime_dir, '[capture]\nexclude = [{app = "a"}, {tilte = "x"}]\n')
    spec = ChildSpec(
        name="capture",
        argv=capture_argv(runtime_dir, config),
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        log_dir=runtime_dir / "log",
    )
    child = await Child.spawn(spec)
    code = await child.reaped()  # reaped, its output read: nothing left for the GC to warn of
    assert code == EXIT_CONFIG
    tail = "\n".join(child.tail())
    assert "rule 2" in tail
    assert "tilte" in tail
