"""Where benchmark figures are written: one section each of ``docs/benchmarks.md``."""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "benchmarks.md"


def write_section(heading: str, text: str, path: Path = DOCS) -> None:
    """Put ``text`` (which starts with ``heading``) in place of that section; keep the others."""
    current = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    body = text.rstrip("\n") + "\n\n"
    if pattern.search(current):
        updated = pattern.sub(lambda _: body, current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + body
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    scratch.write_text(updated.rstrip("\n") + "\n")
    scratch.replace(path)
    print(f"\nwritten to {path.relative_to(REPO)} ({heading!r})")
