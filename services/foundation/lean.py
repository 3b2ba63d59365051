"""Keep background processes lean: no optional extras they have no use for.

structlog pretty-prints tracebacks with rich whenever rich can be imported, and rich costs a
background process about 0.3 s of start-up and 4 MB of memory. main, the backend, the frontend
and capture write their logs to files, where plain tracebacks are what we want; only the CLI
draws tables with rich. Each of those processes calls :func:`skip_optional_extras` first thing,
before anything imports structlog. (A ``None`` in ``sys.modules`` makes ``import rich`` raise
``ImportError``, which structlog handles by falling back to plain tracebacks.)
"""

from __future__ import annotations

import sys

OPTIONAL_EXTRAS = ("rich",)


def skip_optional_extras() -> None:
    """Make the optional extras unimportable in this process (call before importing structlog)."""
    for name in OPTIONAL_EXTRAS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None is documented: import fails
