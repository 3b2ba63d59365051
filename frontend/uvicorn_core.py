"""uvicorn's server without its command line, for ``python -m frontend``.

``import uvicorn`` runs uvicorn's package ``__init__``, which imports ``uvicorn.main``: click, the
reload and multiprocess supervisors and :mod:`multiprocessing`, about 10 ms of the frontend's start
for a command line it never runs. :func:`load_uvicorn_core` registers the package without running
its ``__init__`` and imports only the two modules the frontend serves with, ``uvicorn.config`` and
``uvicorn.server``; the package then carries ``Config`` and ``Server`` as its ``__init__`` would
(uvicorn's lifespan modules import ``Config`` from it), so ``uvicorn.Config(...)`` and
``uvicorn.Server`` work as usual. ``uvicorn.run`` and ``uvicorn.main`` are not there.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

PACKAGE = "uvicorn"


def load_uvicorn_core() -> None:
    """Load uvicorn's config and server without its command line (call first thing in the
    process); a no-op once uvicorn is imported, as in a test process that imports it itself."""
    if PACKAGE in sys.modules:
        return
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None:
        return  # not installed: the ordinary import says so
    package = importlib.util.module_from_spec(spec)  # its __path__, not its __init__ run
    sys.modules[PACKAGE] = package
    try:
        config = importlib.import_module("uvicorn.config")
        server = importlib.import_module("uvicorn.server")
    except BaseException:
        del sys.modules[PACKAGE]  # the ordinary import, with its own error, is what is left
        raise
    vars(package).update(Config=config.Config, Server=server.Server)
