"""The ``ctxbus`` command: the launcher and the tools that talk to a running ctxbus over the bus.

Exit codes: 0 ok; 1 main (or the component asked) is not running, or it answered with an error;
2 usage or configuration error.

:func:`main` reads the command line first (:mod:`.early`: ``ctxbus up`` starts main there), then
imports the CLI (:mod:`.entry`), structlog first, without the optional extras.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.foundation import gc_pause
from services.foundation.lean import lean_structlog, skip_tls

skip_tls()  # no OpenSSL (4.5 MB RSS) unless a command needs it: `ctxbus search`

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """The ``ctxbus`` console script; ``ctxbus up`` starts main before the CLI's imports."""
    gc_pause.pause()  # `ctxbus up` until its ready line
    from services.cli.early import parse_early  # lean: argparse and the configuration

    parsed = parse_early(argv)
    if parsed.args.command != "up":
        gc_pause.cancel()
    lean_structlog()  # before anything of the CLI imports structlog
    from services.cli.entry import main as run  # the CLI's imports, overlapping with main's

    return run(argv, parsed)
