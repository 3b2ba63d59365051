"""Restart policy: capped exponential backoff with jitter, and crash-loop detection.

As pm2's ``min_uptime`` and supervisord's ``startsecs`` have it, a run that ends before it was
up for ``min_uptime`` is *unstable*. The first unstable end restarts at once; further ones back
off, from ``initial_delay`` doubling to ``max_delay`` with jitter, and more than ``max_crashes``
of them within ``crash_window`` is a crash loop: the supervisor gives up with a diagnosis.
``reset_after`` seconds of health forget the streak. A process that ran well and then died (a
SIGKILL, an OOM kill) cannot spin the CPU, so it is restarted at once, every time.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable

import msgspec

from services.foundation.delays import DelayRule
from services.foundation.exits import EXIT_CONFIG, is_permanent

__all__ = ["EXIT_CONFIG", "Backoff", "RestartPolicy", "is_permanent"]


class RestartPolicy(msgspec.Struct, frozen=True):
    initial_delay: float = 0.1
    max_delay: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.1
    reset_after: float = 30.0
    min_uptime: float = 1.0
    max_crashes: int = 5
    crash_window: float = 60.0


class Backoff:
    """Decides the delay before each restart, or that there should be none."""

    def __init__(self, policy: RestartPolicy, *, rng: Callable[[], float] = random.random) -> None:
        self.policy = policy
        self.streak = 0
        self._rng = rng
        self._unstable: deque[float] = deque()

    def reset(self) -> None:
        """Forget every past crash (an explicit start or restart by the user)."""
        self.streak = 0
        self._unstable.clear()

    def crashes_in_window(self, now: float) -> int:
        while self._unstable and now - self._unstable[0] > self.policy.crash_window:
            self._unstable.popleft()
        return len(self._unstable)

    def on_exit(self, now: float, uptime: float | None) -> float | None:
        """Delay before the next start after an unplanned end, or None to give up.

        ``uptime`` is how long the process had been up (ready), None if it never was.
        """
        policy = self.policy
        if uptime is not None and uptime >= policy.reset_after:
            self.streak = 0
        if uptime is not None and uptime >= policy.min_uptime:
            return 0.0
        self._unstable.append(now)
        if self.crashes_in_window(now) > policy.max_crashes:
            return None
        self.streak += 1
        if self.streak == 1:
            return 0.0  # a first failure may be a fluke: no reason to keep the user waiting
        rule = DelayRule(policy.initial_delay, policy.max_delay, policy.multiplier, policy.jitter)
        return rule.delay(self.streak - 1, self._rng)
