"""Which window a grab shows, and which of its monitors must not be kept.

The active window is read just before and just after the grab. A frame is attributed to the
window when both reads agree; otherwise to the one after, flagged ``window_changed``. A window
that matches a privacy rule at either read has the monitors it covers dropped (all of them when
its place is unknown or off every monitor: a rule never fails open).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from bus.messages import CaptureTrigger
from services.capture.frames import FrameTags, RawFrame
from services.capture.privacy import Rules
from services.capture.windows import Rect, WindowInfo


class Attribution(msgspec.Struct, frozen=True):
    """The window a grab is attributed to, and the monitors to drop unencoded."""

    window: WindowInfo | None
    changed: bool
    excluded: frozenset[int]

    def tags(self, trigger: CaptureTrigger) -> FrameTags:
        """The tags of a kept frame of this grab."""
        window = self.window
        if window is None:
            return FrameTags(window_changed=self.changed, trigger=trigger)
        return FrameTags(
            app=window.app,
            title=window.title,
            pid=window.pid,
            process=window.process,
            window_changed=self.changed,
            trigger=trigger,
        )


def attribute(
    before: WindowInfo | None,
    after: WindowInfo | None,
    frames: Sequence[RawFrame],
    rules: Rules,
) -> Attribution:
    """Attribute a grab of ``frames`` read between ``before`` and ``after``."""
    changed = not (before is None and after is None) and not (
        before is not None and before.same_as(after)
    )
    excluded: set[int] = set()
    for window in (before, after):
        if window is not None and rules.match(window) is not None:
            excluded |= covered(window, frames)
    return Attribution(window=after, changed=changed, excluded=frozenset(excluded))


def covered(window: WindowInfo, frames: Sequence[RawFrame]) -> set[int]:
    """The monitors of ``frames`` that ``window`` covers; all of them if that is unknown."""
    every = {frame.monitor for frame in frames}
    if window.rect is None:
        return every
    hit = {frame.monitor for frame in frames if window.rect.overlaps(_monitor_rect(frame))}
    return hit or every


def _monitor_rect(frame: RawFrame) -> Rect:
    return Rect(frame.left, frame.top, frame.width, frame.height)
