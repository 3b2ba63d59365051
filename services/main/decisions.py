"""The backend supervisor's decisions, as pure functions of what it knows.

:class:`services.main.supervisor.BackendSupervisor` acts (spawns, kills, publishes); what to do
is decided here, from its state and the facts of an event, so that each rule can be tested alone.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from bus.messages import BackendState
from services.foundation.supervision import RestartPolicy, is_permanent

ExitKind = Literal["standby", "serving", "retired"]
RestartPlan = Literal["start", "replace", "ignore"]


class GiveUp(msgspec.Struct, frozen=True):
    headline: str


class RestartIn(msgspec.Struct, frozen=True):
    delay: float
    reason: str


def exit_kind(proc: object, *, active: object, incoming: object, standby: object) -> ExitKind:
    """Whose exit it is: the standby's, a serving or starting process's (unplanned), or neither."""
    if proc is standby:
        return "standby"
    if proc is active or proc is incoming:
        return "serving"
    return "retired"  # retired or stopped on purpose


def after_crash(
    code: int, delay: float | None, reason: str, policy: RestartPolicy
) -> GiveUp | RestartIn:
    """After an unplanned exit with ``code``: give up, or restart after the backoff's ``delay``."""
    if is_permanent(code):
        return GiveUp("the backend cannot run as configured")
    if delay is None:
        crashes, window = policy.max_crashes, policy.crash_window
        return GiveUp(
            f"the backend crashed more than {crashes} times in {window:g} s; last: {reason}"
        )
    return RestartIn(delay, f"{reason}; restarting in {delay:.2f} s" if delay > 0 else reason)


def restart_plan(state: BackendState, replacing: bool) -> RestartPlan:
    """A planned restart: a start when nothing runs; nothing new while a replacement is coming."""
    if state in ("stopped", "error"):
        return "start"
    return "ignore" if replacing else "replace"


class Misses(msgspec.Struct):
    """Liveness probes missed in a row, per process; ``limit`` in a row means unresponsive."""

    limit: int
    counts: dict[int, int] = msgspec.field(default_factory=dict)

    def record(self, pid: int, healthy: bool) -> bool:
        """Count one probe of ``pid``; True when it makes ``limit`` misses (the count restarts)."""
        count = 0 if healthy else self.counts.get(pid, 0) + 1
        self.counts[pid] = 0 if count >= self.limit else count
        return count >= self.limit
