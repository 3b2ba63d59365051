"""The frontend process (``python -m frontend``): the live dashboard, fed by the bus.

- :mod:`.service`: the process: find the backend through main, follow the bus, serve.
- :mod:`.events`: bus events to server-sent events.
- :mod:`.gate`: the Jupyter-style login token, the dashboard's own host name, sessions that
  expire, Host and Origin checks; :mod:`.secret`: the session secret of a launcher run.
- :mod:`.app`: the routes (Starlette); :mod:`.proxy`: ``/api/*`` to the backend; :mod:`.server`:
  the socket and uvicorn; :mod:`.announce`: the URL.

The names below are imported on first use: ``python -m frontend`` runs this file first, and its
``__main__`` must import structlog and httpx lean (:mod:`services.foundation.lean`) before
anything else does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.foundation.lazy import lazy_names

if TYPE_CHECKING:
    from frontend.app import AppParts, create_app
    from frontend.events import EventHub
    from frontend.gate import GateMiddleware, TokenGate
    from frontend.service import Frontend, run_frontend
    from frontend.settings import FrontendSettings

__all__ = [
    "AppParts",
    "EventHub",
    "Frontend",
    "FrontendSettings",
    "GateMiddleware",
    "TokenGate",
    "create_app",
    "run_frontend",
]
_HOMES = {
    "AppParts": "frontend.app",
    "create_app": "frontend.app",
    "EventHub": "frontend.events",
    "GateMiddleware": "frontend.gate",
    "TokenGate": "frontend.gate",
    "Frontend": "frontend.service",
    "run_frontend": "frontend.service",
    "FrontendSettings": "frontend.settings",
}

__getattr__ = lazy_names(__name__, _HOMES)
