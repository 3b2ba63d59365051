"""``ctxbus logs [component] [-f]``: the log files of the components, from the log dir.

Each component has ``<name>.log`` (its structlog events, JSON lines) and, when a supervisor started
it, ``<name>.output.log`` (its stdout/stderr). Without a component, every component's files.
"""

from __future__ import annotations

import asyncio
import signal
from collections import deque
from pathlib import Path

from services.cli.context import Context

FOLLOW_INTERVAL = 0.25  # seconds between looks at a followed file (files offer no event here)
LOG_SUFFIXES = (".log", ".output.log")


def log_files(log_dir: Path, component: str | None) -> list[Path]:
    """The component's log files that exist (all components' when ``component`` is None)."""
    if component is not None:
        names = [f"{component}{suffix}" for suffix in LOG_SUFFIXES]
        return [log_dir / name for name in names if (log_dir / name).is_file()]
    return sorted(path for path in log_dir.glob("*.log") if path.is_file())


def tail(path: Path, lines: int) -> list[str]:
    with path.open(errors="replace") as stream:
        return list(deque((line.rstrip("\n") for line in stream), maxlen=lines))


def show(ctx: Context, path: Path, line: str) -> None:
    if ctx.out.json_mode:
        ctx.out.data({"file": path.name, "line": line})
    else:
        from rich.markup import escape  # here: `ctxbus up` shares the parser and never prints logs

        ctx.out.console.print(f"[dim]{path.name}[/dim] {escape(line)}", soft_wrap=True)


def cmd_logs(ctx: Context, component: str | None, follow: bool, lines: int) -> int:
    files = log_files(ctx.config.log_dir, component)
    if not files:
        what = f"for {component} " if component else ""
        ctx.out.error(f"no log files {what}in {ctx.config.log_dir}")
        return 1
    for path in files:
        for line in tail(path, lines):
            show(ctx, path, line)
    if follow:
        asyncio.run(_follow(ctx, files))
    return 0


async def _follow(ctx: Context, files: list[Path]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    offsets = {path: path.stat().st_size for path in files}
    while not stop.is_set():
        for path in files:
            offsets[path] = _print_new(ctx, path, offsets[path])
        try:
            async with asyncio.timeout(FOLLOW_INTERVAL):
                await stop.wait()
        except TimeoutError:
            continue


def _print_new(ctx: Context, path: Path, offset: int) -> int:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    if size < offset:  # rotated
        offset = 0
    if size == offset:
        return offset
    with path.open("rb") as stream:
        stream.seek(offset)
        data = stream.read(size - offset)
    complete, _, _ = data.rpartition(b"\n")
    for line in complete.decode(errors="replace").splitlines():
        show(ctx, path, line)
    return offset + len(complete) + (1 if complete else 0)
