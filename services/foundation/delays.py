"""Capped exponential delays with jitter: the one "double the delay, cap, jitter" rule.

Used wherever ctxbus waits before trying again: capture's grab and upload retries, and the
restart policy's backoff (:mod:`.supervision.policy`). A small class rather than ``tenacity`` or
``backoff``: those wrap a function call in a retry decorator, while our loops wait on an event
that may cut the delay short (a resume, a change of the backend's state) and keep going forever;
all they would contribute is this arithmetic.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import msgspec


class DelayRule(msgspec.Struct, frozen=True):
    """``initial`` seconds, times ``multiplier`` after each failure, at most ``maximum``."""

    initial: float
    maximum: float
    multiplier: float = 2.0
    jitter: float = 0.0  # ± this fraction of each delay, so that peers do not retry in step

    def delay(self, failures: int, rng: Callable[[], float] = random.random) -> float:
        """The delay after ``failures`` failures in a row (1 → ``initial``)."""
        base = min(self.maximum, self.initial * self.multiplier ** max(0, failures - 1))
        return base * (1 + self.jitter * (2 * rng() - 1)) if self.jitter else base


class Delays:
    """The next delay of a retry loop: :meth:`next` after a failure, :meth:`reset` on success."""

    def __init__(self, rule: DelayRule, *, rng: Callable[[], float] = random.random) -> None:
        self.rule = rule
        self.failures = 0
        self._rng = rng

    def next(self) -> float:
        """Count one more failure; the delay to wait before the next try."""
        self.failures += 1
        return self.rule.delay(self.failures, self._rng)

    def reset(self) -> None:
        self.failures = 0
