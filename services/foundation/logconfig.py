"""structlog set-up, called once at the start of every ctxbus process.

Events go to a rotating JSON-lines file (when a log dir is given) and, as readable lines, to
stderr. Every event carries ``service`` and ``pid``. The log dir must be the user's own and not
writable by others (:func:`~services.foundation.private_dirs.ensure_private_dir`), and log files
are opened with ``O_NOFOLLOW``: a ``main.log`` someone planted as a symbolic link is refused
(:class:`~services.foundation.private_dirs.PrivateDirError`, exit 78), not written through.
"""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import cast

import structlog

from services.foundation.private_dirs import (
    PRIVATE_UMASK,
    PrivateDirError,
    ensure_private_dir,
    open_private,
)

LOG_FILE_BYTES = 5 * 1024 * 1024
LOG_FILE_BACKUPS = 3
QUIET_LOGGERS = ("httpx", "httpcore")  # one INFO line per request drowns everything else
LOG_DIR_HINT = "choose another with log_dir in config.toml, CTXBUS_LOG_DIR or --log-dir"


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
    starts, which inherits the umask) creates is private to the user. A log dir or file another
    user could have prepared raises :class:`PrivateDirError` (a ``SetupError``: exit 78) before
    anything is configured.
    """
    os.umask(PRIVATE_UMASK)
    to_file = _file_handler(log_dir / f"{service}.log") if log_dir is not None else None
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
    if to_file is not None:
        root.addHandler(to_file)
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


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log file that is never opened through a symbolic link (rotation renames
    names in the private log dir, which moves a link itself, never its target)."""

    def _open(self) -> io.TextIOWrapper:
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in self.mode else os.O_TRUNC)
        fd = open_private(Path(self.baseFilename), flags)
        stream = os.fdopen(fd, self.mode, encoding=self.encoding, errors=self.errors)
        return cast(io.TextIOWrapper, stream)  # a text mode: fdopen gives a TextIOWrapper


def _file_handler(path: Path) -> logging.Handler:
    """JSON lines in a rotating file in a private log dir."""
    ensure_private_dir(path.parent, "the log dir", LOG_DIR_HINT)
    try:
        to_file = PrivateRotatingFileHandler(
            path, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8"
        )
    except OSError as exc:
        raise PrivateDirError(
            f"cannot open the log file {path}: {exc.strerror} (a symbolic link is never "
            f"followed); remove it, or {LOG_DIR_HINT}"
        ) from exc
    to_file.setFormatter(
        _formatter(structlog.processors.format_exc_info, structlog.processors.JSONRenderer())
    )
    return to_file
