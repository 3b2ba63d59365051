"""Run a real capture process and watch its events: shared by the capture and integration tests.

:func:`running_capture` (from :mod:`bench.processes`, which the capture benchmark uses too) spawns
``python -m services.capture`` through the production spawn code with its ``capture.status`` and
``capture.frame`` events recorded from before its start, so a test waits on a condition with a
deadline instead of sleeping; at the end it asserts a clean exit (the spawn code kills its process
group after it, so nothing is left). :func:`event_proxy` stands in for main's event forwarder.
"""

from __future__ import annotations

from bench.processes import REPO, CaptureProcess, capture_argv, running_capture
from tests.fixtures.processes import event_proxy

__all__ = ["REPO", "CaptureProcess", "capture_argv", "event_proxy", "running_capture"]
