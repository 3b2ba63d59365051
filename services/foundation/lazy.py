"""Package names imported on first use (PEP 562), so that ``python -m <package>`` stays lean.

``python -m services.main`` runs the package's ``__init__`` before its ``__main__``; if the
``__init__`` imported its public names at once, structlog (and rich) would load before
``__main__`` could skip the optional extras (:mod:`.lean`). A package's ``__init__`` instead
sets ``__getattr__ = lazy_names(__name__, {name: home module})``. Imports nothing heavy.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports each of ``homes``' names from its module on use."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(home), name)

    return __getattr__
