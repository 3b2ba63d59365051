"""``python -m services.main``: run main (and its backend) in the foreground.

main binds the backend's port and starts the first backend before its heavy imports
(:mod:`services.main.early`), then imports the rest and adopts it.
"""

from __future__ import annotations

import sys

from services.foundation import gc_pause
from services.foundation.lean import skip_optional_extras, skip_tls

gc_pause.pause()  # until its first backend runs (MainService)
skip_optional_extras()
skip_tls()  # main never speaks TLS: no OpenSSL (4.5 MB RSS)


def run() -> int:
    """Start the first backend, then import main and run it; the exit status."""
    from services.main.early import start_early  # lean: the backend starts before the rest

    early = start_early(sys.argv[1:])
    from services.main.cli import main  # the heavy imports, overlapping with the backend's

    return main(sys.argv[1:], early)


if __name__ == "__main__":
    sys.exit(run())
