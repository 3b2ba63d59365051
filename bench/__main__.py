"""Run every benchmark module of this package that has a ``main()``, in name order.

A new ``bench/<name>.py`` with a ``main()`` is picked up without registering it anywhere. Each
runs in a process of its own: what one measures of its own process (its RSS, the peak RSS of the
children it reaped) never includes what an earlier one left.
``python -m bench bus recovery`` runs only the named ones.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import time
from collections.abc import Callable

import bench

RUN_ONE = "import bench.{name} as benchmark; benchmark.main()"  # in a fresh python


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
    for name in available:
        if names and name not in names:
            continue
        print(f"== bench.{name}", flush=True)
        started = time.monotonic()
        code = subprocess.run([sys.executable, "-c", RUN_ONE.format(name=name)], check=False)
        if code.returncode != 0:  # one failing benchmark must not hide the others
            print(f"bench.{name} failed: exit status {code.returncode}", flush=True)
            failed.append(name)
        print(f"== bench.{name}: {time.monotonic() - started:.1f}s\n", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
