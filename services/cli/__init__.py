"""The ``ctxbus`` command: the launcher and the tools that talk to a running ctxbus over the bus.

Exit codes: 0 ok; 1 main (or the component asked) is not running, or it answered with an error;
2 usage or configuration error.
"""

from __future__ import annotations

from services.foundation.lean import lean_structlog, skip_tls

skip_tls()  # no OpenSSL (4.5 MB RSS) unless a command needs it: `ctxbus search`
lean_structlog()  # first: the launcher (`ctxbus up`) is this package too

from services.cli.entry import main  # noqa: E402 - after skipping the extras, on purpose

__all__ = ["main"]
