"""The Logstash output's batch queue (``lumberjack/batches.py``): cutting, requeueing, acks."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from sorabeat.lumberjack.batches import BatchQueue, Job, Segment


def events(n: int, tag: str = "e") -> list[bytes]:
    return [f"{tag}{i}".encode() for i in range(n)]


def spans(segments: list[Segment | None]) -> list[tuple[int, int]]:
    return [(s.start, s.end) for s in segments if s is not None]


async def test_windows_are_cut_from_the_front_and_never_span_two_batches() -> None:
    queue = BatchQueue()
    first, second = Job(events(25), lambda n: None), Job(events(3, "f"), lambda n: None)
    queue.add(first)
    queue.add(second)
    taken = [queue.take(10) for _ in range(5)]
    assert [(s.job, s.start, s.end) for s in taken if s is not None] == [
        (first, 0, 10),
        (first, 10, 20),
        (first, 20, 25),  # the rest of the first batch, not filled up from the second
        (second, 0, 3),
    ]
    assert taken[4] is None
    assert taken[0] is not None and list(taken[0].events) == events(25)[:10]


async def test_requeue_puts_unacknowledged_remainders_in_front_oldest_first() -> None:
    queue = BatchQueue()
    job = Job(events(40), lambda n: None)
    queue.add(job)
    in_flight = [queue.take(10), queue.take(10), queue.take(10)]
    assert all(s is not None for s in in_flight)
    a, b, c = (s for s in in_flight if s is not None)
    a.acked = 4  # partly acknowledged
    b.acked = 10  # wholly acknowledged: nothing goes back
    assert queue.requeue([a, b, c]) == 6 + 10
    assert spans([queue.take(100) for _ in range(4)]) == [(4, 10), (20, 30), (30, 40)]


async def test_a_cancelled_job_is_dropped_and_never_taken_or_requeued() -> None:
    queue = BatchQueue()
    gone, kept = Job(events(5), lambda n: None), Job(events(5), lambda n: None)
    queue.add(gone)
    queue.add(kept)
    window = queue.take(2)
    assert window is not None and window.job is gone
    gone.cancelled = True
    assert queue.has_work()
    queue.drop(gone)
    assert queue.requeue([window]) == 0
    assert len(queue) == 1
    rest = queue.take(10)
    assert rest is not None and rest.job is kept
    assert not queue.has_work()


async def test_a_job_acknowledges_its_prefix_only_when_the_gap_is_filled() -> None:
    calls: list[int] = []
    job = Job(events(30), calls.append)
    job.acknowledge(10, 20)  # another connection's window came back first
    assert calls == []
    job.acknowledge(0, 4)
    job.acknowledge(4, 10)
    assert calls == [4, 20]
    assert not job.done.done()
    job.acknowledge(20, 30)
    assert calls == [4, 20, 30]
    assert job.done.done()


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(1, 60),
    plan=st.lists(st.tuples(st.integers(1, 17), st.integers(0, 17)), min_size=1, max_size=40),
)
def test_any_cut_and_requeue_plan_acknowledges_every_event_once_in_order(
    size: int, plan: list[tuple[int, int]]
) -> None:
    """Windows taken and partly acknowledged, with the rest requeued, in any sizes: the
    acknowledged prefix only grows, by whole events, and reaches the batch's end."""

    async def scenario() -> list[int]:
        calls: list[int] = []
        queue = BatchQueue()
        job = Job(events(size), calls.append)
        queue.add(job)
        steps = iter(plan)
        for _ in range(10 * size + len(plan)):  # bounded: each step acks >= 1 event or ends
            window = queue.take(next(steps, (size, 0))[0])
            if window is None:
                break
            acked = min(next(steps, (0, len(window)))[1], len(window)) or len(window)
            job.acknowledge(window.start, window.start + acked)
            window.acked = acked
            queue.requeue([window])
        return calls

    calls = asyncio.run(scenario())
    assert calls == sorted(set(calls))
    assert calls[-1] == size
