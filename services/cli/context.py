"""What every command gets: the effective configuration, the bus endpoints, and the output."""

from __future__ import annotations

import msgspec

from bus import Endpoints, Requester
from bus import endpoints as names
from services.foundation.config import Config
from services.foundation.terminal import Output

MAIN_NOT_RUNNING = "main is not running (no answer on {address}); start it with `ctxbus up`"


class Context(msgspec.Struct, frozen=True):
    config: Config
    endpoints: Endpoints
    out: Output

    def control(self) -> Requester:
        return self.requester(names.CONTROL, names.REQUEST_TIMEOUT, names.REQUEST_RETRIES)

    def launcher(self) -> Requester:
        return self.requester(names.LAUNCHER, names.OPTIONAL_PEER_TIMEOUT, 1)

    def capture(self) -> Requester:
        return self.requester(names.CAPTURE, names.REQUEST_TIMEOUT, names.REQUEST_RETRIES)

    def requester(self, name: str, timeout: float, retries: int) -> Requester:
        """A Lazy Pirate client for endpoint ``name``; one short attempt if nobody can be there."""
        if not self.may_listen(name):
            timeout, retries = names.ABSENT_PEER_TIMEOUT, 1
        return Requester(self.endpoints.address(name), timeout=timeout, retries=retries)

    def may_listen(self, name: str) -> bool:
        """False when no process can be bound to ``name``: an ipc socket file that is missing."""
        return self.endpoints.transport != "ipc" or self.endpoints.file(name).exists()
