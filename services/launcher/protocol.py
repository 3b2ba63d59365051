"""The launcher's side of the bus: its ops on ``Endpoints.launcher`` and their payloads.

- ``get_status`` → the latest ``component.status`` event (the Clone snapshot, with its ``seq``).
- ``get_components`` → :class:`ComponentList`: every component's latest state, and the ``seq`` of
  the newest of them.
- ``announce`` (args: a ``ComponentStatus``; the launcher fills in the state it supervises) → a
  component says it serves, e.g. the frontend with its dashboard ``url``. Answered ``accepted``.
- ``shutdown`` → ``accepted``; the launcher then stops everything in order and exits 0.

See ``docs/protocol.md`` (section "Components and the launcher").
"""

from __future__ import annotations

import msgspec

from bus import ComponentStatus, Message

GET_STATUS = "get_status"
GET_COMPONENTS = "get_components"
ANNOUNCE = "announce"
SHUTDOWN = "shutdown"

MAIN = "main"
FRONTEND = "frontend"
CAPTURE = "capture"


class ComponentList(Message, kw_only=True):
    """``get_components``: one entry per supervised component, in start order."""

    seq: int = 0
    instance: str = ""
    components: list[ComponentStatus] = msgspec.field(default_factory=list)
