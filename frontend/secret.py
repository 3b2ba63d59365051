"""The dashboard's session-signing secret: one per launcher run.

``ctxbus up`` mints a fresh secret at each start (:mod:`services.foundation.dashboard`) and hands
it to its frontend in ``CTXBUS_DASHBOARD_SECRET`` (hex; the environment of a process is readable
only by its user): a frontend the launcher restarts within that run gets the same one and keeps
the browser's session valid, and a new run's frontend refuses every older session. A frontend
started alone (``python -m frontend``) falls back to a secret kept in the private runtime dir
(random, mode 0600), shared by every such frontend of that dir, like Jupyter's cookie secret.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping

import structlog

from bus import Endpoints
from services.foundation.dashboard import SECRET_BYTES, SECRET_ENV

SECRET_FILE = "frontend.secret"

log = structlog.get_logger("frontend.secret")


def run_secret(endpoints: Endpoints, env: Mapping[str, str] | None = None) -> bytes:
    """The launcher run's secret from ``env`` (``os.environ``), else :func:`load_secret`."""
    raw = (os.environ if env is None else env).get(SECRET_ENV, "")
    try:
        secret = bytes.fromhex(raw)
    except ValueError:
        secret = b""
    if len(secret) >= SECRET_BYTES:
        return secret
    if raw:
        log.warning("bad_secret_ignored", variable=SECRET_ENV)
    return load_secret(endpoints)


def load_secret(endpoints: Endpoints) -> bytes:
    """The secret of this runtime dir, created on first use."""
    path = endpoints.file(SECRET_FILE)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        secret = path.read_bytes()
        if len(secret) >= SECRET_BYTES:
            return secret
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW)  # damaged: replace it
    secret = secrets.token_bytes(SECRET_BYTES)
    with os.fdopen(fd, "wb") as stream:
        stream.write(secret)
    return secret
