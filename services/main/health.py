"""Health probes of the backend: one GET /health with a short timeout."""

from __future__ import annotations

import httpx

HEALTH_PATH = "/health"


class HealthProbe:
    """GET /health on the backend's fixed URL; True when it answers 200."""

    def __init__(self, base_url: str, timeout: float) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout, trust_env=False)

    async def check(self) -> bool:
        try:
            response = await self._client.get(HEALTH_PATH)
        except httpx.HTTPError:
            return False
        return response.status_code == httpx.codes.OK

    async def aclose(self) -> None:
        await self._client.aclose()
