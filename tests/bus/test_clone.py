"""The Clone pattern end to end: a burst through the proxy to subscriber processes, one late."""

from __future__ import annotations

import asyncio
import itertools
from multiprocessing.queues import Queue

from bus import Endpoints, Proxy
from tests.bus.children import FollowSettings, Record, StreamSettings, follow, publish_stream
from tests.bus.conftest import READY_TIMEOUT, Children, wait_for

EVENTS = 10_000  # backend.status events in the burst, after the first ("starting", seq 1)
FINAL_SEQ = EVENTS + 1
EARLY = 4  # subscribers that join before the burst; one more joins in the middle of it
LOSE_EVERY = 1000  # the publisher loses every 1000th event, and the last one
RECORDS_TIMEOUT = 60.0


def check_record(record: Record) -> tuple[int, int]:
    """Assert one follower's history is a valid Clone history; (its resyncs, its first seq)."""
    *updates, (resyncs_tag, resyncs), (restarts_tag, restarts) = record
    assert (resyncs_tag, restarts_tag) == ("resyncs", "restarts")
    states = [(kind, seq) for kind, seq in updates if kind in ("snapshot", "event", "resync")]
    assert states[0][0] == "snapshot"
    seqs = [seq for _, seq in states]
    assert seqs == sorted(set(seqs)), "a seq was applied twice or went backwards"
    for (_, before), (kind, seq) in itertools.pairwise(states):
        if kind == "event":
            assert seq == before + 1, f"event {seq} applied after {before} without a resync"
        else:
            assert kind == "resync", f"a {kind} in the middle of the stream"
    assert seqs[-1] == FINAL_SEQ
    assert restarts == EVENTS, "the final state is not the last event's"
    assert resyncs == sum(kind == "resync" for kind, _ in states)
    assert states[-1] == ("resync", FINAL_SEQ), "the lost last event came from a snapshot"
    return resyncs, seqs[0]


async def test_subscribers_converge_on_the_final_state_through_the_proxy(
    children: Children, endpoints: Endpoints
) -> None:
    """5 followers (1 late) of a 10,000-event burst: final state, no seq twice, gaps resynced."""
    proxy = Proxy(endpoints.publish, endpoints.events)
    proxy_task = asyncio.create_task(proxy.run())
    try:
        await asyncio.wait_for(proxy.wait_bound(), READY_TIMEOUT)
        records = await asyncio.to_thread(_run_stream, children, endpoints)
    finally:
        proxy_task.cancel()
        await asyncio.gather(proxy_task, return_exceptions=True)

    _, late_first = check_record(records[-1])
    assert late_first > EVENTS // 2, "the late follower's snapshot predates its start"
    for record in records[:-1]:
        check_record(record)


def _run_stream(children: Children, endpoints: Endpoints) -> list[Record]:
    """Start the publisher and followers, run the burst, return each follower's record."""
    go, late, stop, ready = (children.event() for _ in range(4))
    stream = StreamSettings(endpoints, EVENTS, late_at=EVENTS // 2 + 1, lose_every=LOSE_EVERY)
    children.start(publish_stream, stream, go, late, stop, ready)
    records: list[Queue[Record]] = []
    joined = []
    for start in [*[None] * EARLY, late]:
        records.append(children.context.Queue())
        joined.append(children.event())
        settings = FollowSettings(endpoints, FINAL_SEQ)
        children.start(follow, settings, start, joined[-1], records[-1])
    wait_for(ready, "the publisher binding")
    for event in joined[:EARLY]:
        wait_for(event, "an early follower's snapshot")
    go.set()
    try:
        return [queue.get(timeout=RECORDS_TIMEOUT) for queue in records]
    finally:
        stop.set()
