"""What every command gets: the effective configuration, the bus endpoints, and the output."""

from __future__ import annotations

from dataclasses import dataclass

from bus import Endpoints, Requester
from services.cli.output import Output
from services.config import Config

REQUEST_TIMEOUT = 1.0  # per Lazy Pirate attempt, for a person waiting at a prompt
REQUEST_RETRIES = 2
OPTIONAL_TIMEOUT = 0.3  # for peers that may well be absent (the launcher, capture)

MAIN_NOT_RUNNING = "main is not running (no answer on {address}); start it with `ctxbus up`"


@dataclass(frozen=True, slots=True)
class Context:
    config: Config
    endpoints: Endpoints
    out: Output

    def control(self) -> Requester:
        return Requester(self.endpoints.control, timeout=REQUEST_TIMEOUT, retries=REQUEST_RETRIES)

    def launcher(self) -> Requester:
        return Requester(self.endpoints.launcher, timeout=OPTIONAL_TIMEOUT, retries=1)

    def capture(self) -> Requester:
        return Requester(self.endpoints.capture, timeout=REQUEST_TIMEOUT, retries=REQUEST_RETRIES)
