"""main: the supervisor of the FastAPI backend and the hub of the bus."""

from __future__ import annotations

from services.main.service import MainService
from services.main.settings import MainSettings

__all__ = ["MainService", "MainSettings"]
