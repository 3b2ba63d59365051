"""Time spent per application, counted from consecutive captures (issue 9's "today by app").

Each capture in ``since <= captured_at < until`` counts the time until the next one (all monitors
and apps in one time order) toward its own ``app``; a gap longer than ``max_gap`` (the user was
away, capture was paused or stopped) counts nothing, nor does the last capture. One SQL query with
a ``LEAD`` window function over the ``captures_by_time`` index: the browser never pages through a
day of rows to draw a chart.
"""

from __future__ import annotations

import sqlite3

import msgspec

TIME_BY_APP = """
SELECT app, SUM(CASE WHEN gap <= :max_gap THEN gap ELSE 0 END) AS seconds, COUNT(*) AS frames
FROM (
    SELECT app, LEAD(captured_at) OVER (ORDER BY captured_at, id) - captured_at AS gap
    FROM captures WHERE captured_at >= :since AND captured_at < :until
)
GROUP BY app ORDER BY seconds DESC, frames DESC, app
"""


class AppTimeQuery(msgspec.Struct, frozen=True):
    """The window of time to sum over and the longest gap between frames that still counts."""

    since: float
    until: float
    max_gap: float


class AppTime(msgspec.Struct, frozen=True):
    """One application's time in the window (``app`` is None for frames whose window was not
    known) and how many of its frames fall in it."""

    app: str | None
    seconds: float
    frames: int


def time_by_app(conn: sqlite3.Connection, query: AppTimeQuery) -> list[AppTime]:
    """Seconds per app in ``query``'s window, most first (apps with frames but 0 s included)."""
    params = {"since": query.since, "until": query.until, "max_gap": query.max_gap}
    return [
        AppTime(app, float(seconds), frames)
        for app, seconds, frames in conn.execute(TIME_BY_APP, params)
    ]
