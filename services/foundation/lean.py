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
"""

from __future__ import annotations

import importlib
import sys

OPTIONAL_EXTRAS = ("rich", "pygments", "greenlet")  # greenlet: only the test tools install it


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
