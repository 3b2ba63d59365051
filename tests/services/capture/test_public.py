"""The capture package's public surface."""

from __future__ import annotations

import services.capture


def test_public_names() -> None:
    """services.capture exports the service and its settings, nothing else."""
    assert sorted(services.capture.__all__) == ["CaptureService", "CaptureSettings"]
    for name in services.capture.__all__:
        assert getattr(services.capture, name).__module__.startswith("services.capture.")
