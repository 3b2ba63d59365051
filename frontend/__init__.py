"""The frontend process (``python -m frontend``): the live dashboard, fed by the bus.

- :mod:`.service`: the process: find the backend through main, follow the bus, serve.
- :mod:`.events`: bus events to server-sent events.
- :mod:`.gate`: the Jupyter-style login token, the dashboard's own host name, sessions that
  expire, Host and Origin checks; :mod:`.secret`: the session secret of a launcher run.
- :mod:`.app`: the routes; :mod:`.proxy`: ``/api/*`` to the backend; :mod:`.server`: the socket
  and uvicorn; :mod:`.announce`: the URL.
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
