"""``python -m services.indexer``: run the indexer process in the foreground."""

from __future__ import annotations

import sys

from services.indexer.cli import main

if __name__ == "__main__":
    sys.exit(main())
