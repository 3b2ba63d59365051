"""A backend app whose ``/health`` verdict a test sets with a marker file in its data dir.

``<data_dir>/degraded`` exists: ``/health`` answers ``200`` with ``status: "degraded"`` and the
file's text as ``reason`` (as the real backend does for a damaged database or a low disk);
otherwise ``status: "ok"``. It still answers, so main keeps it ``running``.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from services.foundation.backend_contract import BackendConfig

DEGRADED = "degraded"


def create_app(config: BackendConfig) -> FastAPI:
    app = FastAPI()
    marker = config.data_dir / DEGRADED

    @app.get("/health")
    async def health() -> dict[str, object]:
        try:
            reason: str | None = marker.read_text()
        except FileNotFoundError:
            reason = None
        return {
            "status": "ok" if reason is None else "degraded",
            "reason": reason,
            "pid": os.getpid(),
            "instance": config.instance,
        }

    return app


def set_verdict(data_dir: Path, reason: str | None) -> None:
    """What the app answers from now on: degraded with ``reason``, or ok (None)."""
    marker = data_dir / DEGRADED
    if reason is None:
        marker.unlink()
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    draft = marker.with_suffix(".draft")
    draft.write_text(reason)
    draft.replace(marker)  # the app never reads half a reason
