"""Die with the parent: for processes a ctxbus supervisor starts.

Two mechanisms: on Linux the kernel's parent-death signal
(:mod:`services.foundation.parent_death`), and on every OS a pipe inherited from the parent
whose end-of-file means the parent is gone.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from services.foundation.parent_death import die_with_parent
from services.foundation.supervision.spawn import LIFELINE_FD_ENV, SUPERVISOR_PID_ENV

__all__ = [
    "LIFELINE_FD_ENV",
    "SUPERVISOR_PID_ENV",
    "die_with_parent",
    "install_from_env",
    "watch_pipe",
]


def watch_pipe(
    fd: int, on_line: Callable[[bytes], None], on_eof: Callable[[], None]
) -> Callable[[], None]:
    """Call ``on_line`` for each line read from ``fd`` and ``on_eof`` once at its end.

    Returns a function that stops the watch.
    """
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)
    pending = bytearray()

    def readable() -> None:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        if not data:
            loop.remove_reader(fd)
            on_eof()
            return
        pending.extend(data)
        while b"\n" in pending:
            line, _, rest = bytes(pending).partition(b"\n")
            pending[:] = rest
            on_line(line + b"\n")

    loop.add_reader(fd, readable)

    def stop() -> None:
        loop.remove_reader(fd)

    return stop


def install_from_env(
    on_parent_gone: Callable[[], None] | None = None, *, kernel_signal: bool = True
) -> None:
    """In a supervised child: die with the supervisor that passed a lifeline in the env.

    ``on_parent_gone`` runs when the pipe closes (default: exit at once). Call it from inside
    the running event loop. Without the variables (run by hand) it does nothing. A process that
    must stop gracefully when orphaned (main, which stops its backend first) passes
    ``kernel_signal=False`` and relies on the pipe alone.
    """
    parent = os.environ.get(SUPERVISOR_PID_ENV)
    fd = os.environ.get(LIFELINE_FD_ENV)
    if parent is None or fd is None:
        return
    if kernel_signal:
        die_with_parent(int(parent))
    watch_pipe(int(fd), lambda _line: None, on_parent_gone or (lambda: os._exit(1)))
