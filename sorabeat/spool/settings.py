"""``queue.spool`` (on disk, the default) and ``queue.mem`` (memory only)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Annotated, Literal

from sorabeat.config.schema import Range, Seconds, Size, setting

WhenFull = Literal["drop_oldest", "drop_newest", "block"]


@dataclass(frozen=True)
class SpoolFlushSettings:
    timeout: Seconds = setting(
        0.0,
        doc="How long the first append of a group waits for others before its fsync. "
        "0: no wait; appends arriving during an fsync share the next one (group commit), "
        "so concurrent appends are grouped without delaying any. Raise it only where "
        "fsync is slow (network disks) to make fewer, larger fsyncs.",
    )
    events: Annotated[int, Range(1)] = setting(
        4096,
        doc="Most events a group holds: a waiting group is written as soon as it has this many.",
    )


@dataclass(frozen=True)
class SpoolSettings:
    path: str = setting("${path.data}/spool", doc="Directory of the segment files.")
    max_size: Size = setting(
        1024**3,
        doc="Most bytes the segment files and set-aside *.corrupt files take; when_full "
        "decides past it. Space is freed a whole file at a time, set-aside files first.",
    )
    segment_size: Size = setting(64 * 1024**2, doc="Size at which a new segment file starts.")
    flush: SpoolFlushSettings = setting(
        factory=SpoolFlushSettings,
        doc="fsync grouping. An append returns only once its events are fsynced.",
    )
    when_full: WhenFull = setting(
        "drop_oldest",
        doc="drop_oldest: forget the oldest events (metrics: the newest are worth most); "
        "drop_newest: refuse new ones; block: make the input wait. Every drop is counted.",
    )

    def problems(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.segment_size < 1024 * 1024:
            out.append(("segment_size", "must be at least 1MiB"))
        if self.max_size < 2 * self.segment_size:
            out.append(("max_size", "must be at least twice segment_size"))
        return out


def spool_directory(spool: SpoolSettings | None, home: str, data: str) -> str:
    """The spool's directory: ``queue.spool.path`` (relative to path.home), by default
    ``path.data/spool`` when no ``queue`` is configured."""
    settings = spool or SpoolSettings(path=os.path.join(data, "spool"))
    return os.path.join(home, settings.path)


@dataclass(frozen=True)
class MemQueueSettings:
    events: Annotated[int, Range(1)] = setting(3200, doc="Most events held in memory.")
    when_full: WhenFull = setting("drop_oldest", doc="As queue.spool.when_full.")
