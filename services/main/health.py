"""Health probes of the backend: one ``GET /health`` with a short timeout.

A probe is one small request every two seconds on loopback, so it speaks HTTP/1.1 over an
asyncio stream itself instead of importing an HTTP client library: main stays small in memory.
"""

from __future__ import annotations

import asyncio

from services.foundation.backend_contract import HEALTH_PATH

OK_STATUS_LINE = b"HTTP/1.1 200 "


class HealthProbe:
    """GET /health on the backend's fixed address; True when it answers 200 in time."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._request = (
            f"GET {HEALTH_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Connection: close\r\nUser-Agent: ctxbus-main\r\n\r\n"
        ).encode()

    async def check(self) -> bool:
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(self.timeout):
                reader, writer = await asyncio.open_connection(self.host, self.port)
                writer.write(self._request)
                status_line = await reader.readline()
        except (OSError, TimeoutError):
            return False
        finally:
            if writer is not None:
                writer.close()
        return status_line.startswith(OK_STATUS_LINE)

    async def aclose(self) -> None:
        """Nothing is kept open between probes."""
