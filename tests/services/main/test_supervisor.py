"""main's supervisor decisions, one rule at a time: whose exit, restart or give up, hand-off."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bus import BackendStatus, OpError
from bus.endpoints import LOOPBACK_HOST
from bus.messages import BackendState
from services.foundation.exits import EXIT_CONFIG
from services.foundation.supervision import Backoff, RestartPolicy
from services.main.decisions import (
    GiveUp,
    Misses,
    RestartIn,
    RestartPlan,
    after_crash,
    exit_kind,
    restart_plan,
)
from services.main.settings import MainSettings
from services.main.supervisor import BackendSupervisor

POLICY = RestartPolicy(initial_delay=0.1, max_delay=0.4, jitter=0.0, max_crashes=5)
CRASHED = "crashed (exit code 3)"


def test_exit_kind_tells_standby_serving_and_retired_apart() -> None:
    """A standby's exit, the active's or incoming's (unplanned), anyone else's (retired)."""
    active, incoming, standby, retired = object(), object(), object(), object()
    roles = {"active": active, "incoming": incoming, "standby": standby}
    assert exit_kind(standby, **roles) == "standby"
    assert exit_kind(active, **roles) == "serving"
    assert exit_kind(incoming, **roles) == "serving"
    assert exit_kind(retired, **roles) == "retired"
    assert exit_kind(retired, active=None, incoming=None, standby=None) == "retired"


def test_a_configuration_exit_gives_up_whatever_the_backoff_says() -> None:
    """Exit 78 (EX_CONFIG) is never restarted: giving up names the configuration."""
    assert after_crash(EXIT_CONFIG, 0.0, CRASHED, POLICY) == GiveUp(
        "the backend cannot run as configured"
    )


def test_a_crash_loop_gives_up_with_the_counts_and_the_last_reason() -> None:
    """No delay from the backoff: give up, saying how many crashes in what window, and the last."""
    decision = after_crash(3, None, CRASHED, POLICY)
    assert decision == GiveUp(f"the backend crashed more than 5 times in 60 s; last: {CRASHED}")


def test_a_restart_says_its_delay_unless_it_is_at_once() -> None:
    """Delay 0: restart now, reason as it was; a delay: the reason says when."""
    assert after_crash(3, 0.0, CRASHED, POLICY) == RestartIn(0.0, CRASHED)
    assert after_crash(-9, 0.25, "unresponsive", POLICY) == RestartIn(
        0.25, "unresponsive; restarting in 0.25 s"
    )


def test_unstable_exits_restart_at_once_then_back_off_then_give_up() -> None:
    """A backend that is never ready: at once, then doubling delays up to the cap, then give up."""
    backoff = Backoff(POLICY, rng=lambda: 0.5)
    decisions = [after_crash(3, backoff.on_exit(now, None), CRASHED, POLICY) for now in range(7)]
    delays = [d.delay for d in decisions if isinstance(d, RestartIn)]
    assert delays == pytest.approx([0.0, 0.1, 0.2, 0.4, 0.4])
    assert isinstance(decisions[5], GiveUp)
    assert isinstance(decisions[6], GiveUp)


def test_a_backend_that_ran_well_is_restarted_at_once_every_time() -> None:
    """Exits after a healthy run (a SIGKILL, an OOM kill) never back off nor give up."""
    backoff = Backoff(POLICY)
    decisions = [after_crash(-9, backoff.on_exit(now, 5.0), CRASHED, POLICY) for now in range(20)]
    assert decisions == [RestartIn(0.0, CRASHED)] * 20


@pytest.mark.parametrize(
    ("state", "replacing", "plan"),
    [
        ("stopped", False, "start"),
        ("error", False, "start"),
        ("running", False, "replace"),
        ("starting", False, "replace"),
        ("running", True, "ignore"),
        ("starting", True, "ignore"),
    ],
)
def test_restart_plan(state: BackendState, replacing: bool, plan: RestartPlan) -> None:
    """A planned restart starts a stopped backend, replaces a live one, and never twice at once."""
    assert restart_plan(state, replacing) == plan


def test_misses_in_a_row_make_a_process_unresponsive_then_count_again() -> None:
    """Three misses in a row → unresponsive; a healthy probe in between starts the count over."""
    misses = Misses(limit=3)
    assert [misses.record(7, healthy=False) for _ in range(2)] == [False, False]
    assert misses.record(7, healthy=True) is False
    assert [misses.record(7, healthy=False) for _ in range(3)] == [False, False, True]
    assert misses.record(7, healthy=False) is False, "the count starts over after a verdict"
    assert misses.record(8, healthy=False) is False, "each process has its own count"


@pytest.fixture
async def supervisor(tmp_path: Path) -> AsyncIterator[BackendSupervisor]:
    """A supervisor that has not started anything (``run`` is never called)."""

    async def publish(status: BackendStatus) -> None:
        raise AssertionError(f"nothing is started, so nothing is published: {status}")

    with socket.socket() as sock:
        sock.bind((LOOPBACK_HOST, 0))
        settings = MainSettings(
            runtime_dir=tmp_path,
            data_dir=tmp_path,
            log_dir=tmp_path,
            port=0,
            port_pinned=False,
            standby=False,
        )
        yield BackendSupervisor(settings, sock, token="t", instance="i", publish=publish)


async def test_commands_other_than_shutdown_are_refused_while_stopping(
    supervisor: BackendSupervisor,
) -> None:
    """While stopping, start/stop/restart are refused as busy; shutdown is taken."""
    supervisor.state = "stopping"
    for name in ("start", "stop", "restart"):
        with pytest.raises(OpError) as refused:
            await supervisor.command(name)
        assert refused.value.code == "busy"
    await supervisor.command("shutdown")
