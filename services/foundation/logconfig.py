"""structlog set-up, called once at the start of every ctxbus process.

Events go to a rotating JSON-lines file (when a log dir is given) and, as readable lines, to
stderr. Every event carries ``service`` and ``pid``.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

import structlog

LOG_FILE_BYTES = 5 * 1024 * 1024
LOG_FILE_BACKUPS = 3
PRIVATE_UMASK = 0o077
QUIET_LOGGERS = ("httpx", "httpcore")  # one INFO line per request drowns everything else


SHARED_PROCESSORS: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
]


def configure_logging(
    service: str, log_dir: Path | None = None, *, level: int = logging.INFO
) -> None:
    """Route structlog and stdlib logging to stderr (readable) and ``<log_dir>/<service>.log``.

    Every ctxbus process calls this once at start, and it also sets the umask to 077: logs hold
    login URLs and the data dir holds screenshots, so whatever the process (and every child it
    starts, which inherits the umask) creates is private to the user.
    """
    os.umask(PRIVATE_UMASK)
    structlog.configure(
        processors=[*SHARED_PROCESSORS, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(level)
    for chatty in QUIET_LOGGERS:
        logging.getLogger(chatty).setLevel(logging.WARNING)
    root.addHandler(_console_handler())
    if log_dir is not None:
        root.addHandler(_file_handler(log_dir / f"{service}.log"))
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service, pid=os.getpid())


def _formatter(*renderers: structlog.types.Processor) -> structlog.stdlib.ProcessorFormatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=SHARED_PROCESSORS,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderers],
    )


def _console_handler() -> logging.Handler:
    """Readable lines on stderr; colours only on a terminal."""
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(_formatter(structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())))
    return console


def _file_handler(path: Path) -> logging.Handler:
    """JSON lines in a rotating file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    to_file = logging.handlers.RotatingFileHandler(
        path, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS
    )
    to_file.setFormatter(
        _formatter(structlog.processors.format_exc_info, structlog.processors.JSONRenderer())
    )
    return to_file
