"""main's own answer on the backend's port while no backend serves: ``503 backend_unavailable``.

main holds the listening socket, so a request that arrives while no backend accepts waits in the
kernel's backlog. That is right while a backend is on its way, and wrong once none is: after a
crash-loop give-up (``error``) or ``stop_backend`` (``stopped``) it would wait until the client's
own timeout. So the supervisor tells :class:`UnavailableResponder` each state it publishes
(:meth:`~UnavailableResponder.follow`), and the responder

- answers at once while no backend serves and none is starting (``stopped``, ``error``);
- lets requests wait while a backend is ``starting``, for at most ``start_hold`` seconds, then
  answers them too (until the backend runs);
- stops accepting the moment a backend may accept (``starting`` anew, ``running``, ``stopping``),
  so it never takes a connection a backend would serve.

Each answer: read the request head (at most :data:`HEAD_LIMIT` bytes within
:data:`HEAD_TIMEOUT`), reply ``503`` with ``Retry-After`` and the backend's error envelope
``{"error": {"code": "backend_unavailable", "message", "state", "reason"}}``, half-close, discard
what the client still sends for at most :data:`LINGER_TIMEOUT` (so that closing with unread bytes
does not reset the connection before the client has read the answer), close.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket

import msgspec
import structlog

from bus.messages import BackendState

log = structlog.get_logger(__name__)

ERROR_CODE = "backend_unavailable"
HEAD_LIMIT = 16 * 1024  # bytes of request head read at most
HEAD_TIMEOUT = 2.0  # seconds a client has to send its request head
LINGER_TIMEOUT = 1.0  # seconds spent discarding a request body after the answer
LINGER_LIMIT = 8 * 1024 * 1024  # bytes discarded at most
MAX_CONNECTIONS = 64  # answered at once; beyond that, connections wait in the backlog
RETRY_AFTER = {"starting": 1, "stopped": 5, "error": 5}  # seconds, per state
UNAVAILABLE_STATES = ("stopped", "error")


class Unavailable(msgspec.Struct, frozen=True):
    """Why no backend answers: the supervisor's state and its reason."""

    state: BackendState
    reason: str | None
    start_hold: float = 0.0

    def message(self) -> str:
        if self.state == "stopped":
            return "the backend is stopped; start it with `ctxbus start backend`"
        if self.state == "error":
            return (
                "main gave up on the backend (see reason); fix the cause, then "
                "`ctxbus start backend`"
            )
        return (
            f"the backend is starting and was not ready within {self.start_hold:g} s; "
            "retry in a moment"
        )

    def response(self, *, with_body: bool = True) -> bytes:
        """The whole HTTP response: status line, headers and (unless HEAD) the JSON body."""
        error = {"code": ERROR_CODE, "message": self.message(), "state": self.state}
        body = json.dumps({"error": {**error, "reason": self.reason}}).encode()
        head = (
            "HTTP/1.1 503 Service Unavailable\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"Retry-After: {RETRY_AFTER.get(self.state, 1)}\r\n"
            "Cache-Control: no-store\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        return head + body if with_body else head


class UnavailableResponder:
    """Accept on the backend's listening socket and answer 503 while no backend serves."""

    def __init__(self, sock: socket.socket, *, start_hold: float) -> None:
        self._sock = sock
        self._start_hold = start_hold
        self._answering: Unavailable | None = None
        self._reading = False
        self._hold: asyncio.TimerHandle | None = None
        self._held_out = False  # the current ``starting`` has outlasted ``start_hold``
        self._latest: Unavailable | None = None
        self._answers: set[asyncio.Task[None]] = set()
        self.answered = 0

    @property
    def answering(self) -> Unavailable | None:
        """What is answered now; None while main leaves the port to the backend."""
        return self._answering

    def follow(self, state: BackendState, reason: str | None, *, serving: bool) -> None:
        """Act on the supervisor's new ``state``; ``serving``: a backend process accepts."""
        self._latest = Unavailable(state, reason, self._start_hold)
        if serving or state not in (*UNAVAILABLE_STATES, "starting"):
            self.leave_to_backend()
        elif state in UNAVAILABLE_STATES:
            self._end_hold()
            self.start(self._latest)
        elif self._held_out:
            self.start(self._latest)
        else:
            self.stop()
            if self._hold is None:
                loop = asyncio.get_running_loop()
                self._hold = loop.call_later(self._start_hold, self._hold_over)

    def start(self, why: Unavailable) -> None:
        """Answer every request with ``why`` from now on (accepting as they come)."""
        if self._answering is None:
            log.info("answering_unavailable", state=why.state, reason=why.reason)
        self._answering = why
        self._resume()

    def leave_to_backend(self) -> None:
        """A backend accepts (or is about to be probed): stop, and forget any hold under way."""
        self._end_hold()
        self.stop()

    def stop(self) -> None:
        """Accept nothing more, at once; answers under way finish on their own."""
        if self._answering is not None:
            log.info("leaving_port_to_backend", answered=self.answered)
        self._answering = None
        self._pause()

    async def aclose(self) -> None:
        """Stop, and end the answers under way (main is exiting)."""
        self.leave_to_backend()
        for task in self._answers:
            task.cancel()
        await asyncio.gather(*self._answers, return_exceptions=True)

    def _hold_over(self) -> None:
        self._hold = None
        self._held_out = True
        if self._latest is not None and self._latest.state == "starting":
            self.start(self._latest)

    def _end_hold(self) -> None:
        if self._hold is not None:
            self._hold.cancel()
            self._hold = None
        self._held_out = False

    def _resume(self) -> None:
        if not self._reading and len(self._answers) < MAX_CONNECTIONS:
            self._sock.setblocking(False)  # backends may take a connection first: never block
            asyncio.get_running_loop().add_reader(self._sock.fileno(), self._accept)
            self._reading = True

    def _pause(self) -> None:
        if self._reading:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._reading = False

    def _accept(self) -> None:
        """The socket is readable: take the waiting connections (some may be a backend's)."""
        while self._answering is not None and len(self._answers) < MAX_CONNECTIONS:
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return  # none left (or another process took it)
            except OSError as exc:  # out of file descriptors, say: retry on the next wake-up
                log.warning("accept_failed", error=str(exc))
                return
            task = asyncio.ensure_future(answer(conn, self._answering))
            self._answers.add(task)
            task.add_done_callback(self._answered)
        self._pause()  # full: the rest wait in the backlog until an answer is done

    def _answered(self, task: asyncio.Task[None]) -> None:
        self._answers.discard(task)
        self.answered += 1
        if self._answering is not None:
            self._resume()


async def answer(conn: socket.socket, why: Unavailable) -> None:
    """Read the head of one request, answer ``why``, let the client finish sending, close."""
    try:
        reader, writer = await asyncio.open_connection(sock=conn)
    except OSError:
        conn.close()
        return
    try:
        head = await read_head(reader)
        if head:  # nothing sent (a pre-connect that gave up): nothing to answer
            writer.write(why.response(with_body=not head.startswith(b"HEAD ")))
            await writer.drain()
            writer.write_eof()
            await discard(reader)
    except OSError:
        pass  # the client went away: nothing left to do
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def read_head(reader: asyncio.StreamReader) -> bytes:
    """The request's bytes up to its blank line, at most :data:`HEAD_LIMIT`, within the timeout."""
    head = b""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(HEAD_TIMEOUT):
            while b"\r\n\r\n" not in head and len(head) < HEAD_LIMIT:
                chunk = await reader.read(HEAD_LIMIT - len(head))
                if not chunk:
                    break
                head += chunk
    return head


async def discard(reader: asyncio.StreamReader) -> None:
    """Read and drop what the client still sends until it closes, within the linger bounds."""
    dropped = 0
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(LINGER_TIMEOUT):
            while dropped < LINGER_LIMIT:
                chunk = await reader.read(64 * 1024)
                if not chunk:
                    return
                dropped += len(chunk)
