"""The naive supervisor of ``bench.recovery``: ``python -m bench._naive_respawn CMD ARG...``
runs ``CMD ARG...`` and starts it again each time it exits, at once, forever."""

from __future__ import annotations

import subprocess
import sys


def respawn_forever(argv: list[str]) -> None:
    while True:
        subprocess.Popen(argv).wait()


if __name__ == "__main__":
    respawn_forever(sys.argv[1:])
