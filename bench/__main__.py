"""Run every benchmark module of this package that has a ``main()``, in name order.

A new ``bench/<name>.py`` with a ``main()`` is picked up without registering it anywhere.
``python -m bench bus recovery`` runs only the named ones.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback
from collections.abc import Callable

import bench


def discover() -> dict[str, Callable[[], object]]:
    """``{module name: main}`` for every benchmark module that defines ``main``."""
    found: dict[str, Callable[[], object]] = {}
    for info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda info: info.name):
        if info.ispkg or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        entry = getattr(module, "main", None)
        if callable(entry):
            found[info.name] = entry
    return found


def run(names: list[str]) -> int:
    """Run the chosen benchmarks (all when ``names`` is empty); the exit status."""
    available = discover()
    unknown = sorted(set(names) - set(available))
    if unknown:
        print(f"no benchmark named {', '.join(unknown)}; choose from {', '.join(available)}")
        return 2
    failed: list[str] = []
    for name, entry in available.items():
        if names and name not in names:
            continue
        print(f"== bench.{name}", flush=True)
        started = time.monotonic()
        try:
            entry()
        except Exception as exc:  # noqa: BLE001 - one failing benchmark must not hide the others
            traceback.print_exc()
            print(f"bench.{name} failed: {type(exc).__name__}: {exc}", flush=True)
            failed.append(name)
        print(f"== bench.{name}: {time.monotonic() - started:.1f}s\n", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
