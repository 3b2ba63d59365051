"""What other processes share with the dashboard: its host name, its run secret, trusted URLs.

Browsers do not scope cookies by port: a cookie set by ``http://127.0.0.1:1734`` goes to every
server on 127.0.0.1. So the dashboard is served on a host name of its own,
``ctxbus-<10 random letters and digits>.localhost`` (Chromium and Firefox resolve every
``*.localhost`` name to loopback themselves), and its host-only session cookie goes nowhere else.
The name is made once per runtime dir and kept there (``dashboard.host``, mode 0600, in the 0700
dir), so that only this user knows it.

Its session-signing secret lives as long as one launcher run: ``ctxbus up`` mints one
(:func:`new_secret`) and hands it to the frontend in ``CTXBUS_DASHBOARD_SECRET`` (see
:mod:`frontend.secret`).

A URL read from an event (``component.status``) is a hint anyone on the bus could forge:
:func:`is_component_url` says whether it is a loopback URL of a ctxbus component (``http``, host
127.0.0.1, localhost or the dashboard's name, a port), the only kind ctxbus shows or prints.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import string
from collections.abc import Callable
from urllib.parse import urlsplit

import msgspec

from bus import ComponentStatus, Endpoints
from bus.endpoints import LOOPBACK_NAMES

SECRET_ENV = "CTXBUS_DASHBOARD_SECRET"  # hex; the environment is readable only by its user
SECRET_BYTES = 32
HOST_FILE = "dashboard.host"
HOST_PATTERN = re.compile(r"^ctxbus-[a-z0-9]{10}\.localhost$")
ALPHABET = string.ascii_lowercase + string.digits
NAME_LENGTH = 10


def new_secret() -> str:
    """A fresh session-signing secret, as ``CTXBUS_DASHBOARD_SECRET`` carries it."""
    return secrets.token_hex(SECRET_BYTES)


def new_host() -> str:
    """A fresh random dashboard host name."""
    return "ctxbus-" + "".join(secrets.choice(ALPHABET) for _ in range(NAME_LENGTH)) + ".localhost"


def read_host(bus: Endpoints) -> str | None:
    """The dashboard host name kept in the runtime dir, or None if there is none (or it is bad)."""
    try:
        text = bus.file(HOST_FILE).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if HOST_PATTERN.match(text) else None


def dashboard_host(bus: Endpoints) -> str:
    """This runtime dir's dashboard host name, made on first use (a damaged one is replaced)."""
    found = read_host(bus)
    if found is not None:
        return found
    path = bus.file(HOST_FILE)
    draft = path.with_name(f".{HOST_FILE}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as stream:
        stream.write(new_host() + "\n")
    try:
        os.link(draft, path)  # atomic: two frontends starting at once agree on one name
    except FileExistsError:
        if read_host(bus) is None:  # damaged: replace it
            os.replace(draft, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            draft.unlink()
    host = read_host(bus)
    assert host is not None  # just written, or a valid one written by another frontend
    return host


def is_component_url(url: str | None, dashboard: str | None) -> bool:
    """Whether ``url`` is ``http://`` on 127.0.0.1, localhost or ``dashboard``, with a port."""
    if not url:
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    names = {*LOOPBACK_NAMES, *((dashboard,) if dashboard else ())}
    return (
        parts.scheme == "http"
        and parts.hostname in names
        and port is not None
        and port > 0
        and parts.username is None
        and parts.password is None
        and not any(ch in url for ch in "\\\r\n\t ")
    )


def without_foreign_url(
    status: ComponentStatus, dashboard: str | None, report: Callable[[str], None] | None = None
) -> ComponentStatus:
    """``status`` as it may be shown: its ``url`` dropped unless a component's.

    The drop is logged (``foreign_url_dropped``), or told to ``report`` (a command's stderr).
    """
    if status.url is None or is_component_url(status.url, dashboard):
        return status
    if report is None:
        import structlog  # here: `ctxbus up` reads SECRET_ENV before its logging's imports

        log = structlog.get_logger(__name__)
        log.warning("foreign_url_dropped", component=status.component, seq=status.seq)
    else:
        report(f"{status.component}: dropped a url that is not a ctxbus component's")
    return msgspec.structs.replace(status, url=None)
