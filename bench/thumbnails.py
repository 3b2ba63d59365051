"""Thumbnails of big screens at once: the backend's peak memory and ``/health`` meanwhile.

The issue 12 §6 probe: 30 concurrent thumbnails of 7000x7000 PNGs took a backend to 2.3 GB RSS
and ``/health`` to 1.15 s (main's liveness timeout is 1 s). Here a standalone backend process
(``bench._standalone_backend``, the production app and uvicorn settings) stores PNGs at the pixel
limit (7680x4320, an 8K screen), then 30 thumbnails are asked for at once while ``/health`` is
timed and the process's RSS sampled with psutil.

Goals: ``/health`` under 100 ms throughout; peak RSS under 1 GB.
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
from PIL import Image

from services.foundation.backend_contract import BackendConfig

WIDTH, HEIGHT = 7680, 4320  # the default pixel limit
IMAGES = 3
REQUESTS = 30
TOKEN = "bench-thumbnails-token"
READY_TIMEOUT = 30.0
SAMPLE_S = 0.02  # the RSS sampling period
HEALTH_GOAL_MS = 100.0
RSS_GOAL_MB = 1024.0
REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _png(shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (WIDTH, HEIGHT), (shade, 40, 40)).save(out, "PNG")
    return out.getvalue()


async def _ready(client: httpx.AsyncClient) -> None:
    async with asyncio.timeout(READY_TIMEOUT):
        while True:
            try:
                if (await client.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                await asyncio.sleep(0.05)  # the process is still starting: poll its port


async def _upload(client: httpx.AsyncClient) -> list[str]:
    ids = []
    for n in range(IMAGES):
        params = {"captured_at": time.time(), "monitor": 1, "width": WIDTH, "height": HEIGHT}
        headers = {"Idempotency-Key": f"bench-{n}", "Content-Type": "image/png"}
        response = await client.post(
            "/api/captures", params=params, headers=headers, content=_png(n * 50)
        )
        response.raise_for_status()
        ids.append(response.json()["id"])
    return ids


async def _measure(client: httpx.AsyncClient, process: psutil.Process) -> tuple[float, float]:
    """(peak RSS in MB, slowest /health in ms) while 30 thumbnails are made."""
    ids = await _upload(client)
    gets = [client.get(f"/api/captures/{ids[n % IMAGES]}/thumbnail") for n in range(REQUESTS)]
    work = asyncio.ensure_future(asyncio.gather(*gets))
    peak = slowest = 0.0
    while not work.done():
        peak = max(peak, process.memory_info().rss / 1024**2)
        started = time.perf_counter()
        await client.get("/health", headers={"Authorization": ""})
        slowest = max(slowest, (time.perf_counter() - started) * 1000)
        await asyncio.sleep(SAMPLE_S)  # the sampling period
    for response in await work:
        response.raise_for_status()
    return peak, slowest


def main() -> int:
    """Run the measurement once; 0 when both goals are met."""
    with tempfile.TemporaryDirectory(prefix="ctxbus-bench-thumbs-") as root:
        config = BackendConfig(
            port=_free_port(),
            token=TOKEN,
            instance="bench",
            data_dir=Path(root) / "data",
            log_dir=Path(root) / "log",
        )
        argv = [sys.executable, "-m", "bench._standalone_backend", "--port", str(config.port)]
        argv += ["--data-dir", str(config.data_dir), "--log-dir", str(config.log_dir)]
        argv += ["--token", TOKEN]
        child = subprocess.Popen(argv, cwd=REPO, stderr=subprocess.DEVNULL, env=os.environ)
        try:
            peak, slowest = asyncio.run(_run(config.port, psutil.Process(child.pid)))
        finally:
            child.terminate()
            child.wait(timeout=READY_TIMEOUT)
    print(f"thumbnails: {REQUESTS} at once of {IMAGES} {WIDTH}x{HEIGHT} PNGs")
    print(
        f"  peak RSS {peak:.0f} MB (goal < {RSS_GOAL_MB:.0f}), "
        f"slowest /health {slowest:.1f} ms (goal < {HEALTH_GOAL_MS:.0f})"
    )
    return 0 if peak < RSS_GOAL_MB and slowest < HEALTH_GOAL_MS else 1


async def _run(port: int, process: psutil.Process) -> tuple[float, float]:
    base_url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=300.0) as client:
        await _ready(client)
        return await _measure(client, process)


if __name__ == "__main__":
    sys.exit(main())
