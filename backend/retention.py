"""Retention: captures older than N days go, then the oldest until the images fit in M bytes.

Rows are deleted first (in small transactions, so uploads interleave; each delete journals its
ids), then their files, then the journal entries; a crash in between leaves journaled files,
which the next start's sweep removes. Several processes may enforce at once: each removes only
the files of rows its own ``DELETE`` returned. See :class:`backend.deletion.Deleter`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from sqlite3 import Connection

import msgspec

from backend.catalog import Capture, delete_older_than, delete_over_budget
from backend.deletion import Deleter
from services.foundation.backend_contract import BackendConfig

RETENTION_BATCH = 500
DAY_S = 86_400.0


class RetentionPolicy(msgspec.Struct, frozen=True):
    """How long and how much to keep."""

    max_age_s: float
    max_bytes: int
    batch: int = RETENTION_BATCH

    @classmethod
    def from_config(cls, config: BackendConfig) -> RetentionPolicy:
        """The policy the backend's config asks for."""
        return cls(max_age_s=config.retention_days * DAY_S, max_bytes=config.retention_bytes)


class RetentionResult(msgspec.Struct, frozen=True):
    """What one enforcement pass removed."""

    by_age: int
    by_size: int
    bytes_freed: int

    @property
    def removed(self) -> int:
        """Captures removed in all."""
        return self.by_age + self.by_size


async def enforce_retention(
    deleter: Deleter, policy: RetentionPolicy, now: float
) -> RetentionResult:
    """Apply ``policy`` as of ``now`` (unix seconds)."""
    cutoff = now - policy.max_age_s
    aged = await _drain(deleter, partial(delete_older_than, cutoff=cutoff, limit=policy.batch))
    budget = partial(delete_over_budget, max_bytes=policy.max_bytes, limit=policy.batch)
    oversize = await _drain(deleter, budget)
    freed = sum(capture.bytes for capture in (*aged, *oversize))
    return RetentionResult(by_age=len(aged), by_size=len(oversize), bytes_freed=freed)


async def _drain(deleter: Deleter, delete: Callable[[Connection], list[Capture]]) -> list[Capture]:
    removed: list[Capture] = []
    while batch := await deleter.delete(delete):
        removed.extend(batch)
    return removed
