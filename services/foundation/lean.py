"""Keep processes lean: no optional extras they have no use for.

structlog pretty-prints tracebacks with rich whenever rich can be imported, and httpx imports its
command-line tool (click, pygments, rich) whenever those can: together about 0.3 s of start-up and
4-5 MB of memory per process. Our processes write their logs to files, where plain tracebacks are
what we want, and none runs httpx's tool; only the CLI draws with rich, and only when it prints.

- main, the backend, the frontend and capture call :func:`skip_optional_extras` first thing,
  before anything imports structlog or httpx: the extras stay unimportable in that process.
- The CLI (and the launcher, ``ctxbus up``, which is the CLI) calls :func:`lean_structlog`:
  structlog is imported with the extras hidden, and rich is importable again afterwards for
  :mod:`services.foundation.terminal`.

A ``None`` in ``sys.modules`` makes ``import rich`` raise ``ImportError``, which structlog and
httpx handle by falling back to plain tracebacks and a stub tool.

main and the launcher never speak TLS (main probes the backend over plain HTTP on loopback; the
bus's CURVE is libzmq's own, with libsodium), yet asyncio imports :mod:`ssl` whenever it can, and
``secrets``, ``hmac`` and ``hashlib`` load OpenSSL's ``_hashlib``: 4.5 MB RSS (1.1 MB USS), most
of it OpenSSL's shared pages. :func:`skip_tls`, first thing in those two processes, keeps OpenSSL
out: asyncio does without ssl (``try: import ssl``), and hashlib and hmac fall back to CPython's
own digests (blake2b, the one ctxbus uses, is always CPython's). A rare path that needs TLS, such
as ``ctxbus search`` (httpx imports ssl), calls :func:`allow_tls` before importing it.
"""

from __future__ import annotations

import importlib
import sys

OPTIONAL_EXTRAS = ("rich", "pygments", "greenlet")  # greenlet: only the test tools install it
TLS_MODULES = ("ssl", "_ssl", "_hashlib")  # _hashlib: OpenSSL's digests, behind hashlib and hmac


def skip_optional_extras() -> None:
    """Make the optional extras unimportable in this process (call before importing structlog)."""
    for name in OPTIONAL_EXTRAS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None is documented: import fails


def lean_structlog() -> None:
    """Import structlog without the optional extras, which stay importable for later use."""
    hidden = [name for name in OPTIONAL_EXTRAS if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # None is documented: import fails
    try:
        importlib.import_module("structlog")
    finally:
        for name in hidden:
            del sys.modules[name]


def skip_tls() -> None:
    """Keep OpenSSL out of this process (call before anything imports asyncio or hashlib).

    A no-op once OpenSSL is loaded (nothing left to save), so that a process importing a ctxbus
    package late, such as pytest's, keeps the ssl and hashlib it may rely on.
    """
    if any(name in sys.modules for name in (*TLS_MODULES, "hashlib")):
        return
    for name in TLS_MODULES:
        sys.modules[name] = None  # type: ignore[assignment]  # None is documented: import fails


def allow_tls() -> None:
    """Undo :func:`skip_tls`: ssl is importable again (modules already imported stay without it)."""
    for name in TLS_MODULES:
        if name in sys.modules and sys.modules[name] is None:
            del sys.modules[name]
