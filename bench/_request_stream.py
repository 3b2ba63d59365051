"""A steady stream of ``GET /health``, in a process of its own, for ``bench.recovery``.

One request starts every ``INTERVAL`` whatever the earlier ones are doing (an asyncio task each,
over a keep-alive pool, as a real client would). A request that errors or gets a non-200 is
retried once at once, on a new connection, as browsers retry an idempotent request whose reused
connection failed (the other pooled connections may lead to the same dead process, and the
kernel closes them one by one as it tears that process down). Each :class:`Sample` says whether
the first attempt succeeded, whether the request did in the end, and how long it took in all.
The stream runs in its own process so that it never holds the GIL while the benchmark's recovery
probe is timing a restart.

The client is a few lines of asyncio rather than httpx: at 200 requests a second httpx's
``AsyncClient`` takes about half a CPU, which on a small machine starves the very servers being
measured and stretches the latencies it reports; this one takes about a seventh. Like httpx it
drops a pooled connection the server has closed before reusing it, and never retries by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import queue
import select
import time
from multiprocessing.context import SpawnProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as MpEvent
from typing import NamedTuple

INTERVAL = 0.005  # seconds between request starts
TIMEOUT = 5.0  # seconds per attempt
START_TIMEOUT = 30.0  # seconds for the stream's process to come up
RESULT_TIMEOUT = 2 * TIMEOUT + 10.0  # seconds for the samples to arrive after stop()

_CTX = mp.get_context("spawn")
_FAILURES = (OSError, EOFError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError)


class Sample(NamedTuple):
    """One request of the stream."""

    started: float  # time.monotonic() (system-wide on Linux, so comparable across processes)
    seconds: float  # until its final outcome, the retry included
    first_ok: bool  # the first attempt got a 200
    ok: bool  # the first attempt or the one retry got a 200


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class KeepAliveClient:
    """HTTP/1.1 GETs of one URL over a pool of keep-alive connections."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.host = host
        self.port = port
        self.request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
        self._idle: list[Connection] = []

    async def get_ok(self, *, fresh: bool = False) -> bool:
        """One attempt (``fresh``: on a new connection): True on a 200 within ``TIMEOUT``."""
        conn: Connection | None = None
        try:
            async with asyncio.timeout(TIMEOUT):
                pooled = None if fresh else self._pooled()
                conn = pooled or await asyncio.open_connection(self.host, self.port)
                status = await self._exchange(*conn)
        except (*_FAILURES, TimeoutError):
            if conn is not None:
                conn[1].close()
            return False
        self._idle.append(conn)
        return status == 200

    def _pooled(self) -> Connection | None:
        while self._idle:
            reader, writer = self._idle.pop()
            if not _readable(writer) and not reader.at_eof() and not writer.is_closing():
                return reader, writer
            writer.close()  # the server closed it while it sat in the pool
        return None

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
        writer.write(self.request)
        head = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
        length = next(
            (int(line[15:]) for line in head if line.lower().startswith(b"content-length:")), None
        )
        if length is None:
            raise EOFError("a response without Content-Length")
        await reader.readexactly(length)
        return int(head[0].split()[1])

    def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


def _readable(writer: asyncio.StreamWriter) -> bool:
    """An idle connection with something to read has been closed by the server (EOF or reset);
    asked of the socket itself, as httpcore does, since the event loop may not have looked yet."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return True
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


async def _request(client: KeepAliveClient, samples: list[Sample]) -> None:
    started = time.monotonic()
    first_ok = await client.get_ok()
    ok = first_ok or await client.get_ok(fresh=True)
    samples.append(Sample(started, time.monotonic() - started, first_ok, ok))


async def _stream(client: KeepAliveClient, started: MpEvent, stop: MpEvent) -> list[Sample]:
    samples: list[Sample] = []
    running: set[asyncio.Task[None]] = set()
    started.set()
    next_at = time.monotonic()
    while not stop.is_set():
        task = asyncio.create_task(_request(client, samples))
        running.add(task)
        task.add_done_callback(running.discard)
        now = time.monotonic()
        next_at = max(next_at + INTERVAL, now)  # a late tick is not made up with a burst
        await asyncio.sleep(next_at - now)
    await asyncio.gather(*running)
    client.close()
    return samples


def _run(
    client: KeepAliveClient, started: MpEvent, stop: MpEvent, out: Queue[list[Sample]]
) -> None:
    out.put(asyncio.run(_stream(client, started, stop)))


class RequestStream:
    """``with RequestStream(host, port, "/health") as stream: ...; samples = stream.stop()``."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self._started = _CTX.Event()
        self._stop = _CTX.Event()
        self._out: Queue[list[Sample]] = _CTX.Queue()
        self._process: SpawnProcess = _CTX.Process(
            target=_run,
            args=(KeepAliveClient(host, port, path), self._started, self._stop, self._out),
            name="request-stream",
            daemon=True,
        )
        self._samples: list[Sample] | None = None

    def __enter__(self) -> RequestStream:
        self._process.start()
        if not self._started.wait(START_TIMEOUT):
            self._end()
            raise TimeoutError(f"the request stream did not start within {START_TIMEOUT:g} s")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._samples is None:
            with contextlib.suppress(queue.Empty):  # its samples must be read for it to exit
                self.stop()
        self._end()

    def stop(self) -> list[Sample]:
        """End the stream; every request it made (those in flight are waited for)."""
        self._stop.set()
        self._samples = self._out.get(timeout=RESULT_TIMEOUT)
        return self._samples

    def _end(self) -> None:
        self._stop.set()
        self._process.join(timeout=1.0)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
