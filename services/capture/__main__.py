"""``python -m services.capture``: run the capture process in the foreground."""

from __future__ import annotations

import sys

from services.foundation.lean import skip_optional_extras

skip_optional_extras()

from services.capture.cli import main  # noqa: E402 - after skipping the extras, on purpose

if __name__ == "__main__":
    sys.exit(main())
