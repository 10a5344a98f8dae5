"""Helpers shared by the disk spool tests."""

from __future__ import annotations

import asyncio
import os
import re

from sorabeat.monitoring.registry import Registry
from sorabeat.spool.base import Batch
from sorabeat.spool.disk import DiskSpool
from sorabeat.spool.segment import parse_segment_name
from sorabeat.spool.settings import SpoolFlushSettings, SpoolSettings, WhenFull

WAIT = 10.0  # generous: a noisy 2-core machine
_ID = re.compile(rb'"n":(\d+)')


def tiny(
    *,
    segment_size: int = 4096,
    max_size: int = 1 << 30,
    when_full: WhenFull = "drop_oldest",
    flush_timeout: float = 0.0,
    flush_events: int = 4096,
) -> SpoolSettings:
    """Settings with segments small enough for tests to roll them often (the config
    checks do not apply: these are built directly)."""
    return SpoolSettings(
        path="spool",
        max_size=max_size,
        segment_size=segment_size,
        flush=SpoolFlushSettings(timeout=flush_timeout, events=flush_events),
        when_full=when_full,
    )


def event(n: int, size: int = 120) -> bytes:
    """An encoded event per the event contract, numbered ``n``, of ``size`` bytes (or the
    shortest such event if ``size`` is smaller)."""
    head = b'{"@timestamp":"2026-01-02T03:04:05.678Z","@metadata":{"beat":"sorabeat"},"n":%d' % n
    pad = max(0, size - len(head) - 8)
    return head + b',"p":"' + (b"%d" % (n % 10)) * pad + b'"}'


def event_id(payload: bytes) -> int:
    match = _ID.search(payload)
    assert match is not None, payload[:80]
    return int(match.group(1))


def intact(payload: bytes) -> bool:
    """The payload is exactly what ``event`` made for its number (no byte changed)."""
    n = event_id(payload)
    return payload == event(n, len(payload))


def segment_paths(directory: str) -> list[str]:
    names = [n for n in os.listdir(directory) if parse_segment_name(n) is not None]
    return [os.path.join(directory, n) for n in sorted(names)]


def segment_bytes(directory: str) -> int:
    """Bytes of the segment files; one the spool deletes between the listing and its stat
    takes no space any more (counting it as 0 is exact, failing on it was a race)."""
    total = 0
    for path in segment_paths(directory):
        try:
            total += os.stat(path).st_size
        except FileNotFoundError:
            continue
    return total


async def open_spool(
    directory: str, settings: SpoolSettings | None = None, metrics: Registry | None = None
) -> DiskSpool:
    return await DiskSpool.open(directory, settings or tiny(), metrics or Registry())


async def get(spool: DiskSpool, max_events: int = 1000) -> Batch:
    batch = await asyncio.wait_for(spool.get(max_events), WAIT)
    assert batch is not None
    return batch


async def read_events(spool: DiskSpool, count: int, *, ack: bool) -> list[bytes]:
    """Get exactly ``count`` events (acknowledging each batch if ``ack``)."""
    out: list[bytes] = []
    while len(out) < count:
        batch = await get(spool, count - len(out))
        out.extend(batch.events)
        if ack:
            spool.ack(batch, len(batch.events))
    return out


async def read_backlog(spool: DiskSpool, *, ack: bool = False) -> list[bytes]:
    """Everything pending in a spool nothing was taken from yet."""
    return await read_events(spool, spool.pending(), ack=ack)
