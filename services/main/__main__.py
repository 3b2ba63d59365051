"""``python -m services.main``: run main (and its backend) in the foreground."""

from __future__ import annotations

import sys

from services.main.cli import main

if __name__ == "__main__":
    sys.exit(main())
