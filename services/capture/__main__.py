"""``python -m services.capture``: run the capture process in the foreground."""

from __future__ import annotations

import sys

from services.foundation.lean import skip_optional_extras

skip_optional_extras()
# httpx's command-line tool imports click before it finds rich missing: 1 MB capture has no use for
sys.modules.setdefault("click", None)  # type: ignore[arg-type]  # None is documented: import fails

from services.capture.cli import main  # noqa: E402 - after skipping the extras, on purpose

if __name__ == "__main__":
    sys.exit(main())
