"""``python -m services.capture``: run the capture process in the foreground."""

from __future__ import annotations

import sys

from services.capture.cli import main

if __name__ == "__main__":
    sys.exit(main())
