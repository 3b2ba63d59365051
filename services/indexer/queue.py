"""The captures waiting to be read, newest first, each one once.

Work arrives from ``capture.frame`` events and from the backend's backlog; the same capture may
come from both. A capture is known from the moment it is queued until the end of the run: it is
read once per run, and the backend's idempotent ``PUT`` makes a second run's reading harmless.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, order=True)
class Job:
    """One capture to read; ordered newest first."""

    order: float = field(init=False, repr=False)
    id: str = field(compare=False)
    captured_at: float = field(compare=False)
    monitor: int = field(compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "order", -self.captured_at)


class WorkQueue:
    """A priority queue of :class:`Job` by ``captured_at``, newest first, without repeats."""

    def __init__(self) -> None:
        self._heap: list[Job] = []
        self._known: set[str] = set()

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, job: Job) -> bool:
        """Queue ``job`` unless its capture was queued before in this run; whether it was."""
        if job.id in self._known:
            return False
        self._known.add(job.id)
        heapq.heappush(self._heap, job)
        return True

    def pop(self) -> Job | None:
        """The newest queued job, or None."""
        return heapq.heappop(self._heap) if self._heap else None

    def put_back(self, job: Job) -> None:
        """Queue a job taken out again (its reading must be retried)."""
        heapq.heappush(self._heap, job)
