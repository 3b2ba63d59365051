"""The restart policy: instant restarts for stable runs, backoff and give-up for crash loops."""

from __future__ import annotations

import pytest

from services.foundation.supervision import Backoff, RestartPolicy

POLICY = RestartPolicy(jitter=0.0)


def test_stable_crash_restarts_at_once_every_time() -> None:
    """A process that was up for min_uptime is restarted with no delay, however often."""
    backoff = Backoff(POLICY)
    delays = [backoff.on_exit(now=float(i), uptime=2.0) for i in range(20)]
    assert delays == [0.0] * 20


def test_unstable_crashes_back_off_exponentially_then_give_up() -> None:
    """Exits before min_uptime: 0, 0.1, 0.2, 0.4, 0.8 s, then None (more than 5 in 60 s)."""
    backoff = Backoff(POLICY)
    delays = [backoff.on_exit(now=float(i), uptime=None) for i in range(6)]
    assert delays[:5] == pytest.approx([0.0, 0.1, 0.2, 0.4, 0.8])
    assert delays[5] is None


def test_delay_is_capped() -> None:
    """The delay never exceeds max_delay, however long the streak."""
    backoff = Backoff(RestartPolicy(jitter=0.0, max_crashes=100))
    delays = [backoff.on_exit(now=100.0 * i, uptime=0.1) for i in range(12)]
    assert max(d for d in delays if d is not None) == POLICY.max_delay


def test_old_crashes_leave_the_window() -> None:
    """Unstable exits spread over more than the window never add up to a crash loop."""
    backoff = Backoff(POLICY)
    delays = [backoff.on_exit(now=20.0 * i, uptime=None) for i in range(10)]
    assert None not in delays


def test_long_healthy_run_resets_the_streak() -> None:
    """After reset_after seconds of health the next unstable exit starts a fresh streak."""
    backoff = Backoff(RestartPolicy(jitter=0.0, max_crashes=100))
    for i in range(4):
        backoff.on_exit(now=float(i), uptime=None)
    assert backoff.on_exit(now=10.0, uptime=POLICY.reset_after + 1) == 0.0
    assert backoff.on_exit(now=11.0, uptime=None) == 0.0


def test_jitter_stays_within_bounds() -> None:
    """Jitter moves a delay by at most ±jitter of itself."""
    low = Backoff(RestartPolicy(jitter=0.1), rng=lambda: 0.0)
    high = Backoff(RestartPolicy(jitter=0.1), rng=lambda: 1.0)
    for backoff in (low, high):
        backoff.on_exit(now=0.0, uptime=None)
    assert low.on_exit(now=1.0, uptime=None) == pytest.approx(0.09)
    assert high.on_exit(now=1.0, uptime=None) == pytest.approx(0.11)


def test_reset_forgets_everything() -> None:
    """An explicit reset (a user's start) clears the crash window and the streak."""
    backoff = Backoff(POLICY)
    for i in range(5):
        backoff.on_exit(now=float(i), uptime=None)
    backoff.reset()
    assert backoff.on_exit(now=6.0, uptime=None) == 0.0
