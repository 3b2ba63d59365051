"""How capture stores a shot: one idempotent ``POST /api/captures`` through the BackendClient.

The shot's id goes out as the ``Idempotency-Key``: a post that stored the shot but lost its reply
is answered, when sent again, with the same record, and nothing is stored twice.
"""

from __future__ import annotations

import httpx
import msgspec

from services.capture.frames import Shot
from services.foundation.backend_client import BackendClient, BackendUnavailable

CAPTURES_PATH = "/api/captures"
IDEMPOTENCY_HEADER = "Idempotency-Key"
STORED_CODES = frozenset({200, 201})
RETRY_CODES = frozenset({401, 403, 408, 425, 429})  # plus every 5xx


class StoredCapture(msgspec.Struct, kw_only=True):
    """The part of the backend's capture record the capture process uses."""

    id: str
    idempotency_key: str
    captured_at: float
    monitor: int
    width: int
    height: int
    bytes: int


class UploadFailed(BackendUnavailable):
    """A post did not store the shot; ``retry`` says whether sending it again can help."""

    def __init__(self, reason: str, *, retry: bool, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry
        self.code = code  # the backend's error code (e.g. ``disk_full``), when it sent one


_stored_decoder = msgspec.json.Decoder(StoredCapture)


async def post_shot(backend: BackendClient, shot: Shot) -> StoredCapture:
    """Store ``shot`` in the backend (idempotent on the shot's id); :class:`UploadFailed`."""
    try:
        response = await backend.request(
            "POST",
            CAPTURES_PATH,
            content=shot.data,
            params=_metadata(shot),
            headers={"Content-Type": shot.meta.media_type, IDEMPOTENCY_HEADER: shot.id},
        )
    except BackendUnavailable as exc:
        raise UploadFailed(str(exc), retry=True) from exc
    code = response.status_code
    if code in STORED_CODES:
        try:
            return _stored_decoder.decode(response.content)
        except msgspec.DecodeError as exc:
            raise UploadFailed(f"unreadable reply from the backend: {exc}", retry=True) from exc
    reason = f"the backend answered {code}: {response.text[:300]}"
    raise UploadFailed(reason, retry=code in RETRY_CODES or code >= 500, code=_error_code(response))


class _ErrorInfo(msgspec.Struct):
    code: str


class _ErrorEnvelope(msgspec.Struct):
    error: _ErrorInfo


_error_decoder = msgspec.json.Decoder(_ErrorEnvelope)


def _error_code(response: httpx.Response) -> str | None:
    """The ``error.code`` of the backend's error envelope; None if the body is not one."""
    try:
        return _error_decoder.decode(response.content).error.code
    except msgspec.DecodeError:
        return None


def _metadata(shot: Shot) -> dict[str, str]:
    meta = shot.meta
    params = {
        "captured_at": repr(meta.captured_at),
        "monitor": str(meta.monitor),
        "width": str(meta.width),
        "height": str(meta.height),
    }
    window = {"app": meta.app, "title": meta.title, "pid": meta.pid, "process": meta.process}
    params.update({name: str(value) for name, value in window.items() if value is not None})
    return params
