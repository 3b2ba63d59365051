"""The frontend process (``python -m frontend``): the live dashboard, fed by the bus.

- :mod:`.service`: the process: find the backend through main, follow the bus, serve.
- :mod:`.events`: bus events to server-sent events.
- :mod:`.gate`: the Jupyter-style login token, session cookie, Host and Origin checks.
- :mod:`.app`: the routes; :mod:`.server`: the socket and uvicorn; :mod:`.announce`: the URL.
"""

from __future__ import annotations

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
