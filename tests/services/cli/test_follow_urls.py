"""`ctxbus status --follow` prints a component's URL only if it is a ctxbus component's."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path

from bus import ComponentStatus, Endpoints, Replier
from bus import endpoints as names
from bus.messages import ComponentList, NoArgs
from bus.ops import LauncherOps
from tests.fixtures.processes import running_main
from tests.services.cli.conftest import cli_argv, cli_env
from tests.services.cli.test_follow import Line, Lines

FORGED = "http://evil.example/?token=stolen"
LOOPBACK = "http://127.0.0.1:1734/?token=fine"
LISTING = ComponentList(
    seq=2,
    instance="launcher-1",
    components=[
        ComponentStatus(component="frontend", state="running", url=FORGED, seq=1),
        ComponentStatus(component="capture", state="running", url=LOOPBACK, seq=2),
    ],
)


def row(name: str) -> Callable[[Line], bool]:
    def matches(line: Line) -> bool:
        event = line["event"]
        return (
            line["topic"] == names.COMPONENT_STATUS and bool(event) and event["component"] == name
        )

    return matches


async def test_follow_drops_a_foreign_url(runtime_dir: Path) -> None:
    """A component.status whose url points off the machine is printed without it; a loopback
    URL is printed."""

    async def listing(_: NoArgs) -> ComponentList:
        return LISTING

    launcher = Replier(Endpoints(runtime_dir).launcher)
    launcher.register(LauncherOps.GET_COMPONENTS, listing)
    launcher.bind()
    serving = asyncio.ensure_future(launcher.serve())
    try:
        async with running_main(runtime_dir):
            proc = await asyncio.create_subprocess_exec(
                *cli_argv("status", "--follow", "--json"),
                env=cli_env(runtime_dir),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            assert proc.stdout is not None
            lines = Lines(proc.stdout)
            frontend = await lines.wait_for(row("frontend"))
            capture = await lines.wait_for(row("capture"))
            proc.send_signal(signal.SIGINT)
            async with asyncio.timeout(10):
                assert await proc.wait() == 0
            await lines.finish()
            assert proc.stderr is not None
            notes = (await proc.stderr.read()).decode()
    finally:
        serving.cancel()
    assert frontend["event"]["url"] is None
    assert capture["event"]["url"] == LOOPBACK
    assert "frontend: dropped a url" in notes
    assert "evil.example" not in notes
