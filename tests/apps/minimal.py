"""A minimal backend app: just /health and /slow, to test supervision apart from the real app."""

from __future__ import annotations

import os
import sys
import time

from fastapi import FastAPI

from services.foundation.backend_contract import BackendConfig

STARTED = time.monotonic()


def create_app(config: BackendConfig) -> FastAPI:
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, object]:
        return {"status": "ok", "pid": os.getpid(), "instance": config.instance}

    return app


def create_crashing_app(config: BackendConfig) -> FastAPI:
    """Exits at once with code 3, like a backend with a broken install."""
    print("fatal: cannot open the database (test crash)", file=sys.stderr, flush=True)
    sys.exit(3)
