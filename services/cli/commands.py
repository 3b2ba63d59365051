"""The one-shot tools: ``status``, ``port``, backend ops, ``down``, ``config``, ``capture``."""

from __future__ import annotations

import time
from typing import Any

import msgspec

from bus import (
    BackendStatus,
    BusError,
    BusTimeout,
    ComponentStatus,
    PingResult,
    RemoteError,
    Requester,
)
from bus.endpoints import OPTIONAL_PEER_TIMEOUT
from bus.messages import CaptureNowArgs, CaptureNowResult, CaptureStatus
from bus.ops import CaptureOps, LauncherOps, MainOps, Op
from services.cli.context import MAIN_NOT_RUNNING, Context
from services.cli.parser import BACKEND_OPS, CAPTURE_STATE_OPS
from services.foundation.config import KEYS, Value
from services.foundation.terminal import age, styled

DOWN_DEADLINE = 30.0  # seconds `ctxbus down` waits for main to be gone


def not_running(ctx: Context, exc: BusError) -> int:
    ctx.out.error(MAIN_NOT_RUNNING.format(address=ctx.endpoints.control))
    return 1


def components(ctx: Context) -> list[ComponentStatus]:
    """The launcher's component states; empty when no launcher runs."""
    try:
        return ctx.launcher().call(LauncherOps.GET_COMPONENTS).components
    except BusError:
        return []


def cmd_status(ctx: Context) -> int:
    try:
        ping = ctx.control().call(MainOps.PING)
        backend = ctx.control().call(MainOps.GET_STATUS)
    except BusTimeout as exc:
        return not_running(ctx, exc)
    others = components(ctx)
    if ctx.out.json_mode:
        ctx.out.data({"main": ping, "backend": backend, "components": others})
        return 0
    supervised = {comp.component: comp for comp in others}
    rows = [_main_row(ping, supervised.get("main")), _backend_row(backend)]
    rows += [_component_row(comp) for comp in others if comp.component != "main"]
    ctx.out.table(["component", "state", "pid", "uptime", "restarts", "port", "reason"], rows)
    for comp in others:
        if comp.url:
            ctx.out.say(f"{comp.component}: {comp.url}")
    return 0


def _reason(state: str, reason: str | None, exit_code: int | None) -> str:
    """Why it is in ``state``; nothing for a running one (an old exit is history)."""
    if reason is None or state == "running":
        return ""
    return f"{reason} (exit {exit_code})" if exit_code is not None else reason


def _main_row(ping: PingResult, supervised: ComponentStatus | None) -> list[str]:
    """main as it answers; its restarts as the launcher counts them ("-": no launcher)."""
    restarts = str(supervised.restarts) if supervised is not None else "-"
    started = time.time() - ping.uptime_s
    return ["main", styled("running"), str(ping.pid), age(started), restarts, "", ""]


def backend_state(backend: BackendStatus) -> str:
    """Its state, and ``(degraded)`` while it runs but its own /health says something is wrong."""
    if backend.state == "running" and backend.health == "degraded":
        return f"{styled(backend.state)} [yellow](degraded)[/yellow]"
    return styled(backend.state)


def backend_reason(backend: BackendStatus) -> str:
    """Why it is in its state; while it runs degraded, what its /health says is wrong."""
    if backend.state == "running" and backend.health == "degraded":
        return backend.health_reason or ""
    return _reason(backend.state, backend.reason, backend.exit_code)


def _backend_row(backend: BackendStatus) -> list[str]:
    running = backend.state == "running"
    return [
        "backend",
        backend_state(backend),
        str(backend.pid or "-"),
        age(backend.started_at or backend.ts) if running else "-",  # when it came up
        str(backend.restarts),
        str(backend.port),
        backend_reason(backend),
    ]


def _component_row(comp: ComponentStatus) -> list[str]:
    """A supervised process; uptime from its process's start, not from its latest event."""
    uptime = age(comp.started_at) if comp.state == "running" else "-"
    return [
        comp.component,
        styled(comp.state),
        str(comp.pid or "-"),
        uptime,
        str(comp.restarts),
        "",
        _reason(comp.state, comp.reason, comp.exit_code),
    ]


def cmd_port(ctx: Context) -> int:
    try:
        info = ctx.control().call(MainOps.GET_PORT)
    except BusTimeout as exc:
        return not_running(ctx, exc)
    ctx.out.result(info, info.base_url)
    return 0


def cmd_backend(ctx: Context, verb: str) -> int:
    op = BACKEND_OPS[verb]
    try:
        ctx.control().call(op)
    except BusTimeout as exc:
        return not_running(ctx, exc)
    except RemoteError as exc:
        ctx.out.error(f"main refused {op.name}: {exc.message}")
        return 1
    ctx.out.result({"ok": True, "op": op.name, "accepted": True}, f"{op.name}: accepted")
    return 0


def cmd_down(ctx: Context) -> int:
    """Ask the launcher (or main alone) to shut down, then wait until main is gone."""
    try:
        ctx.launcher().call(LauncherOps.SHUTDOWN)
        who = "launcher"
    except BusError:
        try:
            ctx.control().call(MainOps.SHUTDOWN)
        except BusTimeout as exc:
            return not_running(ctx, exc)
        who = "main"
    gone = _wait_main_gone(ctx)
    if not gone:
        ctx.out.error(f"asked the {who} to shut down, but main still answers")
        return 1
    ctx.out.result({"ok": True, "stopped": who}, "ctxbus is down")
    return 0


def _wait_main_gone(ctx: Context) -> bool:
    # A short timeout: each unanswered ping is one step of the wait.
    probe = Requester(ctx.endpoints.control, timeout=OPTIONAL_PEER_TIMEOUT, retries=1)
    deadline = time.monotonic() + DOWN_DEADLINE
    while time.monotonic() < deadline:
        try:
            probe.call(MainOps.PING)
        except BusTimeout:
            return True
        except BusError:
            continue
    return False


def _shown(value: Value) -> str:
    return "(none)" if value is None else str(value)


def cmd_config(ctx: Context) -> int:
    config = ctx.config
    if ctx.out.json_mode:
        values = {
            key.name: {
                "value": config.value(key.name),
                "source": config.sources[key.name],
                "env": key.env,
            }
            for key in KEYS
        }
        ctx.out.data({"file": config.file, "keys": values})
        return 0
    rows = [
        [key.name, _shown(config.value(key.name)), config.sources[key.name], key.env]
        for key in KEYS
    ]
    ctx.out.table(["key", "value", "source", "environment"], rows)
    ctx.out.say(f"config file: {config.file or '(none)'}")
    return 0


def cmd_capture(ctx: Context, verb: str) -> int:
    op: Op[Any, Any] = CaptureOps.CAPTURE_NOW if verb == "now" else CAPTURE_STATE_OPS[verb]
    try:
        result: msgspec.Struct = ctx.capture().call(op, CaptureNowArgs() if verb == "now" else None)
    except BusTimeout:
        ctx.out.error(f"capture is not running (no answer on {ctx.endpoints.capture})")
        return 1
    except RemoteError as exc:
        ctx.out.error(f"capture refused {op.name}: {exc.message}")
        return 1
    ctx.out.result(result, _capture_text(verb, result))
    return 0


def _capture_text(verb: str, result: msgspec.Struct) -> str:
    if isinstance(result, CaptureStatus):
        counters = result.counters
        return (
            f"capture {verb}: {styled(result.state)} every {result.interval_s:g}s: "
            f"kept {counters.kept}, skipped {counters.skipped}, dropped {counters.dropped}"
            + (f"; last error: {result.last_error}" if result.last_error else "")
        )
    if isinstance(result, CaptureNowResult):
        return f"captured: kept {result.kept}, skipped {result.skipped}"
    return f"capture {verb}: done"
