"""The backend app as a plain uvicorn process that binds its port itself (no main, no fds).

What the respawn loop, supervisord and circus run in ``bench.recovery``:
``python -m bench._standalone_backend --port N --data-dir D --log-dir L --token T``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from backend.app import create_app
from backend.connections import connection_options
from bus.endpoints import LOOPBACK_HOST
from services.foundation.backend_contract import BackendConfig

INSTANCE = "bench-standalone"


def parse_config() -> BackendConfig:
    """The same :class:`BackendConfig` main would build, from the command line."""
    p = argparse.ArgumentParser(prog="python -m bench._standalone_backend")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--log-dir", type=Path, required=True)
    p.add_argument("--token", required=True)
    args = p.parse_args()
    return BackendConfig(
        port=args.port,
        token=args.token,
        instance=INSTANCE,
        data_dir=args.data_dir,
        log_dir=args.log_dir,
    )


def serve(config: BackendConfig) -> None:
    """Serve ``create_app(config)`` with the uvicorn settings ``backend.server`` uses."""
    uvicorn.run(
        create_app(config),
        host=LOOPBACK_HOST,
        port=config.port,
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=max(1, round(config.graceful_timeout)),
        **connection_options(),
    )


if __name__ == "__main__":
    serve(parse_config())
