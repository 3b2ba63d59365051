"""Typed, versioned messages: every body that crosses a process boundary is a struct here.

Requests, replies and event envelopes are described in ``docs/protocol.md``; the per-op argument
and result structs and the per-topic event structs below are the payloads. Structs reject unknown
fields, so a typo in a client is an error, not a silently ignored option.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from bus import endpoints
from bus.errors import ErrorCode

RequestId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class Message(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of every payload struct."""


# -- envelopes -------------------------------------------------------------------------------------


class Request(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``{"v": 1, "id": "...", "op": "...", "args": {...}}``; ``args`` stays raw until dispatch."""

    v: int
    id: RequestId
    op: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    args: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b"{}"))


class ErrorInfo(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: ErrorCode
    message: str


class OkReply(msgspec.Struct, kw_only=True):
    v: int = endpoints.PROTOCOL_VERSION
    id: str | None
    ok: Literal[True] = True
    result: msgspec.Raw


class ErrorReply(msgspec.Struct, kw_only=True):
    v: int = endpoints.PROTOCOL_VERSION
    id: str | None
    ok: Literal[False] = False
    error: ErrorInfo


class AnyReply(msgspec.Struct, kw_only=True):
    """What a client decodes: either shape of reply."""

    v: int
    id: str | None
    ok: bool
    result: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    error: ErrorInfo | None = None


# -- op arguments and results ---------------------------------------------------------------------


class NoArgs(Message, kw_only=True):
    """Arguments of an op that takes none."""


class PingResult(Message, kw_only=True):
    pid: int
    instance: str
    uptime_s: float


BackendState = Literal["starting", "running", "stopping", "stopped", "error"]


class PortInfo(Message, kw_only=True):
    """``get_port``: where the backend is and how to talk to it."""

    port: int
    base_url: str
    token: str
    state: BackendState


class Accepted(Message, kw_only=True):
    accepted: bool = True


# -- events ----------------------------------------------------------------------------------------


class Event(Message, kw_only=True):
    """Fields every event carries; the publisher fills ``seq``, ``instance`` and ``ts``."""

    v: int = endpoints.PROTOCOL_VERSION
    seq: int = 0
    instance: str = ""
    ts: float = 0.0


class BackendStatus(Event, kw_only=True):
    """``backend.status``: one per transition of the backend, and ``get_status``'s snapshot."""

    state: BackendState
    port: int
    pid: int | None = None
    restarts: int = 0
    reason: str | None = None
    exit_code: int | None = None
    # While ``running``: the backend's own ``/health`` verdict and why (None: not known yet).
    health: Literal["ok", "degraded"] | None = None
    health_reason: str | None = None
    started_at: float | None = None  # while running: when this backend came up (its uptime)


class Heartbeat(Event, kw_only=True):
    """``main.heartbeat``: main is alive, and the latest ``backend.status`` seq it published."""

    backend_seq: int


class LauncherHeartbeat(Event, kw_only=True):
    """``launcher.heartbeat``: the launcher is alive, and its latest ``component.status`` seq."""

    component_seq: int


ComponentState = Literal["starting", "running", "stopping", "stopped", "error", "unavailable"]


class ComponentStatus(Event, kw_only=True):
    """``component.status``: a process the launcher supervises (frontend, capture, main)."""

    component: str
    state: ComponentState
    pid: int | None = None
    restarts: int = 0
    reason: str | None = None
    exit_code: int | None = None
    url: str | None = None
    started_at: float | None = None  # wall-clock start of its current process (its uptime)


# -- capture --------------------------------------------------------------------------------------

CaptureState = Literal[
    "starting", "running", "paused", "idle", "unavailable", "stopping", "stopped"
]
WindowReading = Literal["unknown", "available", "unavailable"]  # can capture read the windows?
CaptureTrigger = Literal["interval", "window", "manual", "resume"]  # what made a grab happen
Pattern = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]


class CaptureCounters(Message, kw_only=True):
    grabbed: int = 0
    kept: int = 0
    skipped: int = 0
    spooled: int = 0
    uploaded: int = 0
    dropped: int = 0
    excluded: int = 0  # frames of monitors showing an excluded window, never encoded


class CaptureStatus(Event, kw_only=True):
    """``capture.status``: the capture process's state and counters; also its ``get_status``."""

    state: CaptureState
    pid: int | None = None
    interval_s: float = 5.0
    counters: CaptureCounters = msgspec.field(default_factory=CaptureCounters)
    last_error: str | None = None
    spool_bytes: int = 0
    spool_frames: int = 0
    disk_full: bool = False  # a full disk (the backend's or the spool's) holds frames back
    window: WindowReading = "unknown"  # whether frames are attributed to the active window
    window_reason: str | None = None  # why the windows cannot be read, when unavailable


class CaptureFrame(Event, kw_only=True):
    """``capture.frame``: one kept frame, stored by the backend under ``id``.

    ``key`` is the capture process's frame id, sent as the upload's ``Idempotency-Key``.
    """

    id: str
    key: str = ""
    monitor: int
    captured_at: float
    width: int
    height: int
    bytes: int
    app: str | None = None  # the active window's application (WM_CLASS), if known
    title: str | None = None  # its title, at most 512 characters
    trigger: CaptureTrigger = "interval"


# -- indexer --------------------------------------------------------------------------------------

IndexerState = Literal[
    "starting", "running", "paused", "idle", "unavailable", "stopping", "stopped"
]


class IndexerStatus(Event, kw_only=True):
    """``indexer.status``: the text indexer's state and counters; also its ``get_status``.

    ``running``: reading the text of capture ``current``; ``idle``: nothing to read; ``paused``:
    waiting (on battery, capture idle or paused, ``indexer.enabled = false``, the backend away),
    ``reason`` says which; ``unavailable``: tesseract or a language's data is missing, ``reason``
    gives the command that installs it. ``per_frame_ms``: the median OCR CPU time of recent frames.
    """

    state: IndexerState
    pid: int | None = None
    queued: int = 0
    done: int = 0
    failed: int = 0
    per_frame_ms: float | None = None
    reason: str | None = None
    current: str | None = None  # the capture being read while ``running``
    engine: str | None = None  # "tesseract-<version>", once known


class ComponentList(Message, kw_only=True):
    """The launcher's ``get_components``: one entry per supervised component, in start order.

    ``seq`` and ``instance`` are those of the newest ``component.status`` event: the snapshot of
    the keyed Clone pattern.
    """

    seq: int = 0
    instance: str = ""
    components: list[ComponentStatus] = msgspec.field(default_factory=list)


class CaptureNowArgs(Message, kw_only=True):
    """``capture_now``: grab every monitor at once; ``force`` keeps the frames even if unchanged."""

    force: bool = False


class CaptureNowResult(Message, kw_only=True):
    """``capture_now``: what one immediate grab of every monitor produced."""

    kept: int
    skipped: int


class ExcludeRule(Message, kw_only=True, omit_defaults=True):
    """``add_exclude``, and one ``capture.exclude`` entry: never record a window that matches.

    Each pattern set is a shell glob (``*``, ``?``, ``[...]``), case-insensitive, matched against
    the whole value: ``app`` the window's class (WM_CLASS), ``title`` its title, ``process`` its
    process name. A rule with several patterns matches a window that matches them all.
    """

    app: Pattern | None = None
    title: Pattern | None = None
    process: Pattern | None = None

    def __post_init__(self) -> None:
        if self.app is None and self.title is None and self.process is None:
            raise ValueError("a rule needs app, title or process (a glob pattern)")


EVENT_TYPES: dict[str, type[Event]] = {
    endpoints.BACKEND_STATUS: BackendStatus,
    endpoints.MAIN_HEARTBEAT: Heartbeat,
    endpoints.LAUNCHER_HEARTBEAT: LauncherHeartbeat,
    endpoints.COMPONENT_STATUS: ComponentStatus,
    endpoints.CAPTURE_STATUS: CaptureStatus,
    endpoints.CAPTURE_FRAME: CaptureFrame,
    endpoints.INDEXER_STATUS: IndexerStatus,
}
