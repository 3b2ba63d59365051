"""The backend's listening socket, owned by main for its whole life.

Binding once, here, and handing the socket to every backend process means there is no
probe-then-bind race, the port never changes, and connections made while no backend accepts
wait in the kernel's backlog instead of failing. Lean (main binds it before its heavy imports,
:mod:`services.main.early`): the caller logs a fallback to a free port.
"""

from __future__ import annotations

import errno
import socket

from bus import SetupError

BACKLOG = 4096


def bind_backend_socket(host: str, port: int, *, pinned: bool) -> socket.socket:
    """A listening TCP socket on ``host:port``; a free port instead if taken and not pinned."""
    try:
        return _listen(host, port)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise SetupError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
        if pinned:
            raise SetupError(
                f"port {port} on {host} is in use by another program; free it "
                f"(`ss -ltnp 'sport = :{port}'` shows who holds it) or choose another with --port"
            ) from exc
        return _listen(host, 0)


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # Lets a restarted main rebind while old connections sit in TIME_WAIT; it never lets
        # two live listeners share the port (that would need SO_REUSEPORT, which we never set).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock
