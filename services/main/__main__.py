"""``python -m services.main``: run main (and its backend) in the foreground."""

from __future__ import annotations

import sys

from services.foundation.lean import skip_optional_extras, skip_tls

skip_optional_extras()
skip_tls()  # main never speaks TLS: no OpenSSL (4.5 MB RSS)

from services.main.cli import main  # noqa: E402 - after skipping the extras, on purpose

if __name__ == "__main__":
    sys.exit(main())
