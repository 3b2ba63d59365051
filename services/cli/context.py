"""What every command gets: the effective configuration, the bus endpoints, and the output."""

from __future__ import annotations

from dataclasses import dataclass

from bus import Endpoints, Requester
from bus import endpoints as names
from services.foundation.config import Config
from services.foundation.terminal import Output

REQUEST_TIMEOUT = 1.0  # per Lazy Pirate attempt, for a person waiting at a prompt
REQUEST_RETRIES = 2
OPTIONAL_TIMEOUT = 0.3  # for peers that may well be absent (the launcher, capture)
ABSENT_TIMEOUT = 0.05  # one attempt at an ipc endpoint with no socket file: nobody is there

MAIN_NOT_RUNNING = "main is not running (no answer on {address}); start it with `ctxbus up`"


@dataclass(frozen=True, slots=True)
class Context:
    config: Config
    endpoints: Endpoints
    out: Output

    def control(self) -> Requester:
        return self.requester(names.CONTROL, REQUEST_TIMEOUT, REQUEST_RETRIES)

    def launcher(self) -> Requester:
        return self.requester(names.LAUNCHER, OPTIONAL_TIMEOUT, 1)

    def capture(self) -> Requester:
        return self.requester(names.CAPTURE, REQUEST_TIMEOUT, REQUEST_RETRIES)

    def requester(self, name: str, timeout: float, retries: int) -> Requester:
        """A Lazy Pirate client for endpoint ``name``; one short attempt if nobody can be there."""
        if not self.may_listen(name):
            timeout, retries = ABSENT_TIMEOUT, 1
        return Requester(self.endpoints.address(name), timeout=timeout, retries=retries)

    def may_listen(self, name: str) -> bool:
        """False when no process can be bound to ``name``: an ipc socket file that is missing."""
        return self.endpoints.transport != "ipc" or self.endpoints.file(name).exists()
