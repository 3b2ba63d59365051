"""The dashboard's session-signing secret, kept in the private runtime dir across restarts.

Like Jupyter's cookie secret: created once (random, mode 0600) and reused by every frontend of
this runtime dir, so a restarted frontend keeps the browser's session valid.
"""

from __future__ import annotations

import os
import secrets

from bus import Endpoints

SECRET_FILE = "frontend.secret"
SECRET_BYTES = 32


def load_secret(endpoints: Endpoints) -> bytes:
    """The secret of this runtime dir, created on first use."""
    path = endpoints.file(SECRET_FILE)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_bytes()
        if len(secret) >= SECRET_BYTES:
            return secret
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)  # damaged: replace it
    secret = secrets.token_bytes(SECRET_BYTES)
    with os.fdopen(fd, "wb") as stream:
        stream.write(secret)
    return secret
