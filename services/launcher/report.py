"""What ``ctxbus up`` tells the person (or script) that started it.

Human mode: one line ``ctxbus is up: <dashboard URL>`` once ready, one short line when a component
is restarted or given up, a few lines on the way down (the structured log goes to the log file).
``--json`` mode, one object per line::

    {"ctxbus": "ready", "url": "http://127.0.0.1:1734/?token=...", "backend": "http://127.0.0.1:1733",
     "pids": {"main": 10, "frontend": 11, "backend": 12}}
    {"ctxbus": "restarting", "component": "frontend", "reason": "killed by signal 9", "restarts": 1}
    {"ctxbus": "gave_up", "component": "capture", "reason": "crash loop, gave up: ..."}
    {"ctxbus": "stopping"}   {"ctxbus": "forcing"}
    {"ctxbus": "stopped"}    {"ctxbus": "stopped", "unclean": {"main": -9}}
    {"ctxbus": "failed", "reason": "...", "components": [...]}
"""

from __future__ import annotations

from collections.abc import Mapping

from bus import BackendStatus, ComponentStatus
from bus.endpoints import LOOPBACK_HOST
from services.foundation.supervision import describe_exit
from services.foundation.terminal import Output, plain


class Report:
    """Prints the launcher's milestones through an :class:`Output`."""

    def __init__(self, out: Output) -> None:
        self.out = out

    def ready(
        self, url: str, backend: BackendStatus | None, components: Mapping[str, ComponentStatus]
    ) -> None:
        pids = {name: status.pid for name, status in components.items() if status.pid}
        backend_url = f"http://{LOOPBACK_HOST}:{backend.port}" if backend is not None else None
        if backend is not None and backend.pid:
            pids["backend"] = backend.pid
        self.out.result(
            {"ctxbus": "ready", "url": url, "backend": backend_url, "pids": pids},
            f"ctxbus is up: [bold]{url}[/bold]  (Ctrl-C to stop)",
        )

    def restarting(self, status: ComponentStatus) -> None:
        self.out.result(
            {
                "ctxbus": "restarting",
                "component": status.component,
                "reason": status.reason,
                "restarts": status.restarts,
            },
            lambda: f"{status.component} ended ({plain(status.reason)}); restarting it",
        )

    def gave_up(self, status: ComponentStatus) -> None:
        reason = status.reason or "gave up"
        self.out.result(
            {"ctxbus": "gave_up", "component": status.component, "reason": reason},
            lambda: (
                f"{status.component}: {plain(reason.splitlines()[0])}; "
                f"see `ctxbus logs {status.component}`"
            ),
        )

    def stopping(self) -> None:
        self.out.result({"ctxbus": "stopping"}, "stopping ctxbus… (Ctrl-C again to force)")

    def forcing(self) -> None:
        self.out.result({"ctxbus": "forcing"}, "forcing: killing every ctxbus process")

    def stopped(self, unclean: Mapping[str, int]) -> None:
        """Everything ended; ``unclean``: components that did not exit with status 0."""
        if not unclean:
            self.out.result({"ctxbus": "stopped"}, "ctxbus stopped")
            return
        how = ", ".join(f"{name} ({describe_exit(code)})" for name, code in unclean.items())
        self.out.result(
            {"ctxbus": "stopped", "unclean": dict(unclean)},
            f"ctxbus stopped, but not in order: {how}; see `ctxbus logs`",
        )

    def failed(
        self, components: list[ComponentStatus], backend: BackendStatus | None, deadline: float
    ) -> None:
        broken = [c for c in components if c.state == "error"]
        if broken:
            reason = "; ".join(f"{c.component}: {c.reason}" for c in broken)
        elif backend is not None and backend.state == "error":
            reason = f"backend: {backend.reason}"
        else:
            reason = f"not ready within {deadline:g} s"
        if self.out.json_mode:
            self.out.data({"ctxbus": "failed", "reason": reason, "components": components})
        else:
            self.out.error(f"ctxbus did not start: {plain(reason)}; see `ctxbus logs`")
