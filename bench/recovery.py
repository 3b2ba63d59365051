"""Recovery after SIGKILL: ctxbus against a naive respawn loop, supervisord and circus.

Every contender runs the same app (``backend.app:create_app``, data and logs in a temp dir of its
own, fixed token, a free port of its own). Once it serves, a steady stream of ``GET /health``
starts (one every 5 ms, each retried once on failure: see :mod:`bench._request_stream`), and the
process that serves is SIGKILLed ``KILLS`` times. After each kill a probe repeats ``GET /health``
on fresh connections until a process other than the killed one answers 200: that is the
recovery time. The next kill waits until the replacement has served a while (for ctxbus: past
main's ``min_uptime``, with a warm standby behind it), so every kill meets a settled contender.

Reported per contender: median, p95 and worst recovery; failed requests of the stream per kill,
raw and with one retry (idempotent GETs); and the slowest request, its retry included.
Goals (issue 3): ctxbus median <= 25 ms, 0 failed requests with the retry, worst request
<= 100 ms. The table is printed and written into ``docs/benchmarks.md``.

``BENCH_KEEP_DIRS=1`` keeps each contender's temp dir (logs included) and prints where it is.
"""

from __future__ import annotations

import bisect
import math
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench._contenders import CONTENDERS, Contender, Ctxbus, Site
from bench._report import write_section
from bench._request_stream import INTERVAL, RequestStream, Sample
from bus.endpoints import LOOPBACK_HOST
from services.foundation.backend_contract import HEALTH_PATH

KILLS = 20
START_TIMEOUT = 60.0  # seconds for a contender to serve (and, for ctxbus, warm a standby)
DEADLINE = 120.0  # seconds for one contender's kills, from its first kill on
STREAM_WARMUP = 0.3  # seconds of steady stream before the first kill
PROBE_PAUSE = 0.002  # seconds between recovery probes that found nobody serving
PROBE_TIMEOUT = 5.0  # seconds per probe request
POLL = 0.05  # seconds between looks at whether a contender is ready for the next kill
GOAL_MEDIAN = 0.025
GOAL_WORST = 0.100
GOAL_FAILED = 0

HEADING = "## Recovery after SIGKILL"
KEEP_ENV = "BENCH_KEEP_DIRS"


@dataclass(slots=True)
class Outcome:
    """What one contender did under the kills."""

    name: str
    recoveries: list[float] = field(default_factory=list)  # seconds, kill → next good /health
    killed_at: list[float] = field(default_factory=list)  # Unix time of each kill
    outages: list[tuple[float, float]] = field(default_factory=list)  # monotonic kill, recovery
    promotions: list[float] = field(default_factory=list)  # ctxbus: Unix time of each promotion
    load: float = field(default_factory=lambda: os.getloadavg()[0])  # at the start, 1 min
    samples: list[Sample] = field(default_factory=list)
    error: str | None = None

    @property
    def kills(self) -> int:
        return len(self.recoveries)

    @property
    def median(self) -> float:
        return statistics.median(self.recoveries)

    @property
    def p95(self) -> float:
        ordered = sorted(self.recoveries)
        return ordered[math.ceil(0.95 * len(ordered)) - 1]  # nearest rank

    @property
    def failed_raw(self) -> int:
        return sum(not sample.first_ok for sample in self.samples)

    @property
    def failed_retried(self) -> int:
        return sum(not sample.ok for sample in self.samples)

    @property
    def request_rate(self) -> float:
        """Requests per second the stream managed."""
        starts = [sample.started for sample in self.samples]
        span = max(starts) - min(starts)
        return (len(self.samples) - 1) / span if span > 0 else math.nan

    @property
    def worst_request(self) -> float:
        return max((sample.seconds for sample in self.samples), default=math.nan)

    @property
    def worst_away_from_kills(self) -> float:
        """The slowest request that was not under way during a kill's outage: the noise floor."""
        return max(
            (sample.seconds for sample in self.samples if not self._meets_outage(sample)),
            default=math.nan,
        )

    def _meets_outage(self, sample: Sample) -> bool:
        ended = sample.started + sample.seconds
        return any(sample.started <= back and ended >= kill for kill, back in self.outages)


# -- measuring ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(ready: Callable[[], bool], deadline: float) -> bool:
    """Poll ``ready`` until it holds (True) or ``deadline`` (monotonic) passes (False)."""
    while not ready():
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL)
    return True


def probe_recovery(client: httpx.Client, url: str, killed: int, deadline: float) -> float | None:
    """When (monotonic) a process other than ``killed`` first answered 200; None: not in time."""
    while time.monotonic() < deadline:
        try:
            response = client.get(url)
            if response.status_code == 200 and response.json().get("pid") != killed:
                return time.monotonic()
        except httpx.HTTPError:
            pass
        time.sleep(PROBE_PAUSE)
    return None


def kill_repeatedly(contender: Contender, outcome: Outcome) -> None:
    """SIGKILL the serving process ``KILLS`` times, recording each recovery in ``outcome``."""
    deadline = time.monotonic() + DEADLINE
    no_keepalive = httpx.Limits(max_keepalive_connections=0)  # every probe on a new connection
    with httpx.Client(timeout=PROBE_TIMEOUT, limits=no_keepalive) as client:
        for _ in range(KILLS):
            pid = contender.serving_pid()
            if pid is None or time.monotonic() >= deadline:
                outcome.error = "no process serving" if pid is None else "out of time"
                return
            killed_at = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            outcome.killed_at.append(time.time())
            recovered_at = probe_recovery(client, contender.site.health_url, pid, deadline)
            if recovered_at is None:
                outcome.error = f"no recovery within the {DEADLINE:g} s deadline"
                return
            outcome.recoveries.append(recovered_at - killed_at)
            outcome.outages.append((killed_at, recovered_at))
            settled = recovered_at + contender.settle

            def ready(killed: int = pid, settled: float = settled) -> bool:
                return time.monotonic() >= settled and contender.ready_for_kill(killed)

            if not wait_until(ready, deadline):
                outcome.error = "out of time"
                return


def measure(contender: Contender, outcome: Outcome) -> None:
    """Start ``contender``, kill its serving process repeatedly under the request stream."""
    contender.start()
    if not wait_until(lambda: contender.ready_for_kill(None), time.monotonic() + START_TIMEOUT):
        outcome.error = f"not serving within {START_TIMEOUT:g} s"
        return
    with RequestStream(LOOPBACK_HOST, contender.site.port, HEALTH_PATH) as stream:
        time.sleep(STREAM_WARMUP)  # a baseline of good requests before the first kill
        try:
            kill_repeatedly(contender, outcome)
        finally:
            outcome.samples = stream.stop()


def run_contender(kind: type[Contender]) -> Outcome:
    """One contender from start to clean-up, in a temp dir of its own (short: ipc paths)."""
    root = Path(tempfile.mkdtemp(prefix="cb-", dir="/tmp"))
    contender = kind(Site(root, free_port(), secrets.token_urlsafe(32)))
    print(f"  {contender.name}: port {contender.site.port}, dir {root}", flush=True)
    outcome = Outcome(contender.name)
    try:
        measure(contender, outcome)
    except Exception as exc:  # noqa: BLE001 - one contender's failure must not hide the others
        outcome.error = f"{type(exc).__name__}: {exc}"
    finally:
        if isinstance(contender, Ctxbus):
            outcome.promotions = contender.promotions()
        contender.stop()
        if os.environ.get(KEEP_ENV) == "1":
            print(f"  kept {root}", flush=True)
        else:
            shutil.rmtree(root, ignore_errors=True)
    return outcome


# -- reporting ------------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.1 else f"{seconds * 1000:.1f} ms"


def table(outcomes: list[Outcome]) -> str:
    """The results as a Markdown table, ratios against ctxbus's median."""
    base = next((o for o in outcomes if o.name == "ctxbus" and o.kills), None)
    lines = [
        "| contender | kills | recovery median | p95 | max | median vs ctxbus "
        "| failed/kill (raw) | failed/kill (1 retry) | worst request | worst away from kills |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for o in outcomes:
        if not o.kills:
            lines.append(f"| {o.name} | 0 | {o.error} | | | | | | | |")
            continue
        ratio = f"{o.median / base.median:.1f}x" if base is not None else "n/a"
        lines.append(
            f"| {o.name} | {o.kills} | {_ms(o.median)} | {_ms(o.p95)} "
            f"| {_ms(max(o.recoveries))} | {ratio} | {o.failed_raw / o.kills:.2f} "
            f"| {o.failed_retried / o.kills:.2f} | {_ms(o.worst_request)} "
            f"| {_ms(o.worst_away_from_kills)} |"
        )
    return "\n".join(lines)


def goals(outcomes: list[Outcome]) -> list[str]:
    """One line per ctxbus goal: met or missed, with the figure."""
    o = next((o for o in outcomes if o.name == "ctxbus"), None)
    if o is None or not o.kills:
        return ["ctxbus goals: not measured" + (f" ({o.error})" if o and o.error else "")]

    def line(label: str, value: str, met: bool) -> str:
        return f"- {label}: {value} — {'met' if met else 'MISSED'}"

    return [
        line(f"median recovery <= {_ms(GOAL_MEDIAN)}", _ms(o.median), o.median <= GOAL_MEDIAN),
        line(
            "failed requests with one retry = 0",
            f"{o.failed_retried} (raw {o.failed_raw}, of {len(o.samples)})",
            o.failed_retried <= GOAL_FAILED,
        ),
        line(
            f"worst request <= {_ms(GOAL_WORST)}",
            f"{_ms(o.worst_request)} (away from kills: {_ms(o.worst_away_from_kills)})",
            o.worst_request <= GOAL_WORST,
        ),
    ]


def promotion_split(o: Outcome) -> tuple[list[float], list[float]]:
    """Per kill: seconds from the kill to the standby's promotion, then on to the first 200."""
    to_promotion: list[float] = []
    to_response: list[float] = []
    for killed, recovery in zip(o.killed_at, o.recoveries, strict=True):
        i = bisect.bisect_left(o.promotions, killed)
        if i < len(o.promotions) and o.promotions[i] - killed <= recovery:
            to_promotion.append(o.promotions[i] - killed)
            to_response.append(recovery - to_promotion[-1])
    return to_promotion, to_response


def breakdown(o: Outcome) -> str | None:
    """Where ctxbus's recovery time goes, from the backends' ``promoted`` log lines."""
    to_promotion, to_response = promotion_split(o)
    if not to_promotion:
        return None
    return (
        f"- {o.name}: kill → standby promoted: median {_ms(statistics.median(to_promotion))}, "
        f"max {_ms(max(to_promotion))}; promoted → first 200: median "
        f"{_ms(statistics.median(to_response))}, max {_ms(max(to_response))}"
    )


def stream_note(o: Outcome) -> str:
    """How many requests the stream made, and whether it kept its pace."""
    asked = 1 / INTERVAL
    line = f"- {o.name}: {len(o.samples)} requests, {o.request_rate:.0f}/s of {asked:.0f}/s asked"
    if o.request_rate < 0.9 * asked:
        line += " (the client process was short of CPU)"
    return line


def notes(outcomes: list[Outcome]) -> list[str]:
    """Requests per contender, ctxbus's time split, and why a contender stopped short."""
    lines = [stream_note(o) for o in outcomes if len(o.samples) > 1]
    lines += [line for o in outcomes if o.promotions and (line := breakdown(o))]
    lines += [f"- {o.name} stopped early: {o.error}" for o in outcomes if o.error and o.kills]
    loads = ", ".join(f"{o.name} {o.load:.1f}" for o in outcomes)
    lines.append(f"- load average (1 min) as each contender started: {loads}")
    return lines


def section(outcomes: list[Outcome]) -> str:
    """The ``docs/benchmarks.md`` section: how it was measured, the table, the goals."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    return "\n".join(
        [
            HEADING,
            "",
            f"`python -m bench recovery` ({when}, {machine}, Python {platform.python_version()}). "
            f"The same app (`backend.app:create_app`) under each supervisor, its serving process "
            f"SIGKILLed {KILLS} times; recovery is the time from the kill to the next 200 from "
            "`GET /health` at the same URL on a new connection. Meanwhile a steady stream of "
            "`GET /health` (one every 5 ms from another process, keep-alive, 5 s timeout) "
            "counts failed requests (an error or a non-200), raw and with one immediate retry "
            "of the idempotent GET on a new connection; the worst request includes its retry, "
            "and the worst away from kills (requests not under way between a kill and its "
            "recovery) is the machine's noise floor for it. "
            "A kill comes only once the previous replacement has served a while (ctxbus: 1.2 s, "
            "past main's crash-loop threshold, and a warm standby is ready again). supervisord "
            "and circus run with their defaults; they and the naive loop run the app as a plain "
            "uvicorn process binding the port (`bench/_standalone_backend.py`).",
            "",
            table(outcomes),
            "",
            "ctxbus goals (issue 3):",
            "",
            *goals(outcomes),
            *(["", *notes(outcomes)] if notes(outcomes) else []),
            "",
        ]
    )


def main() -> None:
    """Measure every contender, print the table and ratios, update ``docs/benchmarks.md``."""
    print(f"recovery after SIGKILL: {KILLS} kills per contender, GET /health every 5 ms")
    outcomes = [run_contender(kind) for kind in CONTENDERS]
    print()
    print(table(outcomes))
    print()
    print("\n".join(["ctxbus goals:", *goals(outcomes), *notes(outcomes)]))
    write_section(HEADING, section(outcomes))
