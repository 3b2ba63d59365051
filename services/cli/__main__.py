"""``python -m services.cli``: the same as the ``ctxbus`` console script."""

from __future__ import annotations

import sys

from services.cli import main

if __name__ == "__main__":
    sys.exit(main())
