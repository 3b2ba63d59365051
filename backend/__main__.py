"""``python -m backend``: serve the app on the listening socket main hands over.

The spawn protocol is in :mod:`services.foundation.backend_contract`. In short: die with
main; build the app (no garbage collection until serving: :mod:`services.foundation.gc_pause`);
a standby runs its startup then waits for ``serve``; then accept on the inherited socket and tell
main ``ready``.
"""

from __future__ import annotations

import os
import sys

from services.foundation import gc_pause
from services.foundation.backend_contract import PARENT_PID_ENV, BackendConfig
from services.foundation.lean import skip_optional_extras
from services.foundation.parent_death import die_with_parent

gc_pause.pause()  # until the backend serves: collecting during start-up costs ~10 ms
# Before the second of imports below: a main that dies meanwhile must still take us with it.
die_with_parent(int(os.environ.get(PARENT_PID_ENV, "0")))
skip_optional_extras()
# FastAPI imports pydantic.v1 (~10 ms) only to refuse v1 models, of which we have none; when the
# import fails it takes every model for a v2 one.
sys.modules.setdefault("pydantic.v1", None)  # type: ignore[arg-type]  # None is documented: import fails

import socket  # noqa: E402 - after the parent-death set-up, on purpose
from pathlib import Path  # noqa: E402

import structlog  # noqa: E402

from backend.server import BackendServer, ContractError  # noqa: E402
from services.foundation.exits import EXIT_CONFIG  # noqa: E402
from services.foundation.logconfig import configure_logging  # noqa: E402
from services.foundation.private_dirs import PrivateDirError, ensure_private_dir  # noqa: E402


def data_dir_problem(data_dir: Path) -> str | None:
    """Why the backend cannot keep its data in ``data_dir``, or None if it can: it must be
    the user's own, with no group or other write (another user could plant links in it)."""
    try:
        ensure_private_dir(data_dir, "the data dir", DATA_DIR_HINT)
    except PrivateDirError as exc:
        return str(exc)
    if not os.access(data_dir, os.W_OK | os.X_OK):
        return f"the data dir {data_dir} is not writable; {DATA_DIR_HINT}"
    return None


DATA_DIR_HINT = "choose another with data_dir in config.toml, CTXBUS_DATA_DIR or --data-dir"


def main() -> int:
    configure_logging("backend")
    log = structlog.get_logger("backend")
    log.info("imports_done")  # a start-up milestone (bench); the app is imported next
    try:
        config = BackendConfig.from_env()
    except (KeyError, ValueError) as exc:
        log.error("bad_spawn_environment", error=str(exc))  # noqa: TRY400 - the message is all
        return 2
    problem = data_dir_problem(config.data_dir)
    if problem is not None:
        print(f"ctxbus backend: {problem}", file=sys.stderr)  # one line: main's diagnosis
        return EXIT_CONFIG
    if config.listen_fd < 0:
        log.error("no_listening_socket", hint="the backend is started by `ctxbus main`")
        return 2
    sock = socket.socket(fileno=config.listen_fd)
    try:
        BackendServer(config, sock).run()
    except ContractError as exc:
        log.error("spawn_contract_broken", error=str(exc))  # noqa: TRY400 - the message is all
        return 2
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
