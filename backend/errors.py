"""The backend's one error tree and the JSON shape every error response has.

::

    ApiError                      {"error": {"code": ..., "message": ...}}, status per class
     ├── BadRequest               400  a parameter, header, id or cursor is malformed
     ├── Unauthorized             401  missing or wrong bearer token
     ├── NotFound                 404  no such capture (or route)
     ├── Conflict                 409  an Idempotency-Key reused for a different image
     ├── PayloadTooLarge          413  body over the upload limit
     ├── UnsupportedMediaType     415  Content-Type is not an accepted image type
     ├── InvalidImage             422  body is not a valid image as declared
     ├── StorageDamaged           500  ``storage_damaged``: the stored file is not what was
     │                                 stored (cut short or changed); never cached
     ├── ServiceUnavailable       503  the database is busy or failing (``database_error``), or
     │                                 damaged (``database_damaged``); retry
     └── InsufficientStorage      507  ``disk_full``: the data dir's disk is full; the error
                                       carries ``free_bytes``

Some errors carry fields beside ``code`` and ``message`` (:attr:`ApiError.extra`), e.g.
``{"error": {"code": "disk_full", "message": ..., "free_bytes": 4096}}``.

Foreign errors (FastAPI validation, Starlette's HTTP errors, anything unexpected) are mapped to the
same shape at the boundary by :func:`backend.error_handlers.install_error_handlers`.
"""

from __future__ import annotations

import json

from backend.ids import is_capture_id


class ApiError(Exception):
    """An error a client can meet; ``message`` says what to do about it."""

    status = 500

    def __init__(self, code: str, message: str, **extra: int | str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class NotFound(ApiError):
    status = 404


def check_capture_id(capture_id: str) -> None:
    """:class:`BadRequest` unless ``capture_id`` is a capture id."""
    if not is_capture_id(capture_id):
        raise BadRequest(
            "invalid_id",
            f"{capture_id[:40]!r} is not a capture id; ids are 26-character ULIDs "
            "as returned by POST /api/captures",
        )


def capture_not_found(capture_id: str) -> NotFound:
    """The 404 for a capture that is not (or no longer) stored."""
    return NotFound(
        "not_found",
        f"no capture {capture_id}; it was deleted or removed by retention (list /api/captures)",
    )


class Conflict(ApiError):
    status = 409


class PayloadTooLarge(ApiError):
    status = 413


class UnsupportedMediaType(ApiError):
    status = 415


class InvalidImage(ApiError):
    status = 422


class StorageDamaged(ApiError):
    status = 500


class ServiceUnavailable(ApiError):
    status = 503


class InsufficientStorage(ApiError):
    status = 507


def disk_full(free_bytes: int, what: str) -> InsufficientStorage:
    """The 507 for a write that found the data dir's disk full."""
    return InsufficientStorage(
        "disk_full",
        f"the disk of the backend's data dir is full ({free_bytes} bytes free), so {what} "
        "failed; delete captures (DELETE /api/captures/{id} works on a full disk), lower "
        "CTXBUS_BACKEND_RETENTION_BYTES or free disk space, then retry",
        free_bytes=free_bytes,
    )


def error_body(code: str, message: str, **extra: int | str) -> bytes:
    """The JSON bytes of an error response."""
    return json.dumps({"error": {"code": code, "message": message, **extra}}).encode()
