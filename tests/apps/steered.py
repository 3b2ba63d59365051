"""A backend app a test steers with marker files in its data dir: broken, or held at start-up.

- ``<data_dir>/broken`` exists: the backend exits at once with code 3 (a crash loop, until the
  test removes the file and asks for a start);
- ``<data_dir>/gate`` exists: its start-up waits until the test removes the file (a backend that
  stays ``starting`` for as long as the test wants).

Otherwise it is :func:`tests.apps.minimal.create_app`.
"""

from __future__ import annotations

import sys
import time

from fastapi import FastAPI

from services.foundation.backend_contract import BackendConfig
from tests.apps import minimal

BROKEN = "broken"
GATE = "gate"
GATE_POLL = 0.01  # seconds between looks at the gate file (the app's start-up, not a test)


def create_app(config: BackendConfig) -> FastAPI:
    if (config.data_dir / BROKEN).exists():
        print("fatal: marked broken by the test", file=sys.stderr, flush=True)
        sys.exit(3)
    while (config.data_dir / GATE).exists():
        time.sleep(GATE_POLL)  # sleep-ok: a test app held at start-up by a marker file
    return minimal.create_app(config)
