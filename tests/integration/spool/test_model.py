"""Model-based test of the disk spool: random appends, gets, acks (partial, out of order),
segment rolls, clean restarts and crashes, checked in lockstep against a list.

The model: ``log[i]`` is the event numbered ``i`` (sequence numbers are positions, so
they double as indexes). A session (between two opens) replays from ``start``; events
below it never come back. The checks after each step:

- a get returns exactly the next events of the log, from where the previous get stopped
  (FIFO, nothing skipped, nothing altered);
- pending() counts every event of the session not acknowledged;
- after a clean close the next session starts exactly at the oldest unacknowledged event
  (the only duplicates: events acknowledged out of order after it);
- after a crash it starts between the last persisted position and the oldest
  unacknowledged event (no loss; duplicates bounded by what was persisted); every append
  that returned is there; of an append cut short by the crash a prefix may survive,
  intact; a damaged or cut tail never stops the reopen.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile

from hypothesis import HealthCheck, settings
from hypothesis import event as event_note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from sorabeat.monitoring.registry import Registry
from sorabeat.spool.base import Batch
from sorabeat.spool.disk import DiskSpool
from sorabeat.spool.record import encode_records
from sorabeat.spool.segment import SEGMENT_HEADER_SIZE, parse_segment_name
from sorabeat.spool.state import STATE_NAME, read_state
from tests.spool_support import WAIT, event, segment_bytes, segment_paths, tiny

SEGMENT_SIZE = 1500  # a few events per segment: rolls all the time

sizes = st.lists(st.integers(0, 400), min_size=1, max_size=12)


class SpoolMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.directory = tempfile.mkdtemp(prefix="spool-model-")
        self.settings = tiny(segment_size=SEGMENT_SIZE)
        self.next_id = 0
        self.log: list[bytes] = []
        self.acked_ever: set[int] = set()
        self.spool = self._open()
        self._new_session(0)

    # -- plumbing ------------------------------------------------------------------------

    def run(self, coro: object) -> object:
        return self.loop.run_until_complete(asyncio.wait_for(coro, WAIT))  # type: ignore[arg-type]

    def _open(self) -> DiskSpool:
        self.metrics = Registry()
        spool = self.loop.run_until_complete(
            DiskSpool.open(self.directory, self.settings, self.metrics)
        )
        assert isinstance(spool, DiskSpool)
        return spool

    def _new_session(self, start: int) -> None:
        self.start = start
        self.read = start  # next sequence number a get must return
        self.inflight: list[Batch] = []
        self.acked: set[int] = set()  # acknowledged in this session

    def _events(self, lengths: list[int]) -> list[bytes]:
        out = []
        for size in lengths:
            out.append(event(self.next_id, size))
            self.next_id += 1
        return out

    def _oldest_unacked(self) -> int:
        """The model's acknowledged position."""
        for seq in range(self.start, self.read):
            if seq not in self.acked:
                return seq
        return self.read

    # -- rules ---------------------------------------------------------------------------

    @rule(lengths=sizes)
    def append(self, lengths: list[int]) -> None:
        events = self._events(lengths)
        self.run(self.spool.append(events))
        self.log.extend(events)
        assert self.spool.next_seq == len(self.log)

    @rule(groups=st.lists(sizes, min_size=2, max_size=5))
    def append_concurrently(self, groups: list[list[int]]) -> None:
        batches = [self._events(g) for g in groups]

        async def together() -> None:
            await asyncio.gather(*(self.spool.append(b) for b in batches))

        self.run(together())
        for b in batches:  # admission is FIFO: the order the appends were made in
            self.log.extend(b)
        assert self.spool.next_seq == len(self.log)

    # Rules draw fixed-range numbers and map them onto the current state: what the spool
    # holds after a crash depends on timing, and hypothesis needs the same draws on replay.

    @rule(most=st.integers(1, 30))
    def get(self, most: int) -> None:
        if self.read >= len(self.log):
            return  # get would wait for an append
        batch = self.run(self.spool.get(most))
        assert isinstance(batch, Batch)
        assert batch.first == self.read
        assert 1 <= len(batch.events) <= most
        assert batch.events == self.log[self.read : self.read + len(batch.events)]
        self.read += len(batch.events)
        self.inflight.append(batch)

    @rule(pick=st.integers(0, 2**16), share=st.integers(0, 2**16))
    def ack(self, pick: int, share: int) -> None:
        open_batches = [b for b in self.inflight if b.acked < len(b.events)]
        if not open_batches:
            return
        batch = open_batches[pick % len(open_batches)]
        count = batch.acked + 1 + share % (len(batch.events) - batch.acked)
        seqs = range(batch.first + batch.acked, batch.first + count)
        self.spool.ack(batch, count)
        self.acked.update(seqs)
        self.acked_ever.update(seqs)
        assert self.spool.position == self._oldest_unacked()

    @rule()
    def flush(self) -> None:
        self.run(self.spool.flush())
        position = self._oldest_unacked()
        assert self.spool.persisted_position == position
        assert read_state(self.directory) == position
        firsts = [parse_segment_name(os.path.basename(p)) for p in segment_paths(self.directory)]
        # every segment but the last still holds something not acknowledged
        assert all(nxt is not None and nxt > position for nxt in firsts[1:])
        assert self.metrics.gauge("spool.bytes") == segment_bytes(self.directory)
        assert self.metrics.gauge("spool.segments") == len(firsts)

    @rule()
    def restart(self) -> None:
        position = self._oldest_unacked()
        self.run(self.spool.close())
        self.spool = self._open()
        assert self.spool.position == position  # close persisted it exactly
        assert self.spool.next_seq == len(self.log)
        self._new_session(position)

    @rule(
        in_flight=st.none() | sizes,
        steps=st.integers(0, 6),
        damage=st.sampled_from(["none", "cut", "garbage", "torn", "no_state", "bad_state"]),
        where=st.integers(0, 2**16),
        garbage=st.binary(min_size=1, max_size=64),
    )
    def crash(
        self, in_flight: list[int] | None, steps: int, damage: str, where: int, garbage: bytes
    ) -> None:
        lowest = self.spool.persisted_position
        highest = self._oldest_unacked()
        durable = {p: os.path.getsize(p) for p in segment_paths(self.directory)}
        maybe = self._events(in_flight) if in_flight else []

        async def crash_now() -> None:
            task = asyncio.ensure_future(self.spool.append(maybe)) if maybe else None
            for _ in range(steps):  # let the append get somewhere, or not
                await asyncio.sleep(0)
            await self.spool.abandon()
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

        self.run(crash_now())
        newest = segment_paths(self.directory)[-1]
        size = os.path.getsize(newest)
        if damage == "cut":  # the kernel had not written all of the unsynced append
            floor = durable.get(newest, SEGMENT_HEADER_SIZE)
            os.truncate(newest, floor + where % (size - floor + 1))
        elif damage == "garbage":
            with open(newest, "ab") as f:
                f.write(garbage)
        elif damage == "torn":  # part of a record that never made it whole
            record = encode_records(len(self.log) + 10**6, [event(10**9, 200)])
            with open(newest, "ab") as f:
                f.write(record[: 1 + where % (len(record) - 1)])
        elif damage == "no_state":
            os.unlink(os.path.join(self.directory, STATE_NAME))
        elif damage == "bad_state":
            with open(os.path.join(self.directory, STATE_NAME), "r+b") as f:
                f.write(b"\xff\xff")
        oldest_first = parse_segment_name(os.path.basename(segment_paths(self.directory)[0]))

        self.spool = self._open()
        survived = self.spool.next_seq - len(self.log)
        assert 0 <= survived <= len(maybe)
        if maybe:
            event_note(
                "append cut by the crash: "
                + (
                    "none kept"
                    if not survived
                    else "all kept"
                    if survived == len(maybe)
                    else "a prefix kept"
                )
            )
        self.log.extend(maybe[:survived])
        start = self.spool.position
        if damage in ("no_state", "bad_state"):
            assert start == oldest_first  # replay from the oldest segment: more duplicates
        else:
            assert lowest <= start
        assert start <= highest  # nothing unacknowledged is skipped
        # a crash is not damage (random garbage may look like one whole bad record)
        assert self.metrics.total("spool.events.corrupt") <= (damage == "garbage")
        self._new_session(start)

    # -- invariants ----------------------------------------------------------------------

    @invariant()
    def pending_counts_every_unacknowledged_event(self) -> None:
        expected = len(self.log) - self.start - len(self.acked)
        assert self.spool.pending() == expected
        assert self.metrics.gauge("spool.events.pending") == expected

    @invariant()
    def nothing_is_dropped(self) -> None:
        assert self.metrics.total("spool.events.dropped") == 0

    def teardown(self) -> None:
        try:
            if not self.spool.closing():
                self.run(self.spool.close())
            self.loop.close()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


SpoolMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("SPOOL_MODEL_EXAMPLES", "150")),  # raise to explore
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_spool_model = SpoolMachine.TestCase
