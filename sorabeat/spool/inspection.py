"""What a spool directory holds, read without changing a byte: ``sorabeat spool inspect``.

It walks the files with the scanner recovery uses (``segment.read_records``), so it finds
exactly the records, damaged stretches and missing numbers that the next start would, and
says what that start would do with them. It takes no lock: a running sorabeat keeps
appending, so the figures are a snapshot, and a record being written at that moment may
show as an unreadable end of the last segment.
"""

from __future__ import annotations

import errno
import fcntl
import os
from dataclasses import dataclass, field

import orjson

from sorabeat.spool.record import Damage, Gap
from sorabeat.spool.recovery import LOCK_NAME, corrupt_files, header_problem, is_segment_temp
from sorabeat.spool.segment import (
    SEGMENT_HEADER_SIZE,
    parse_segment_name,
    read_records,
)
from sorabeat.spool.state import STATE_TEMP, BadStateError, read_state

_BATCH = 4096  # records decoded at a time: memory stays bounded on large segments


@dataclass(slots=True)
class SegmentReport:
    name: str
    first: int  # the sequence number its name gives
    bytes: int
    header: str = ""  # what is wrong with its header ("" when it is good)
    records: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    pending: int = 0  # records at or past the acknowledged position
    damage: list[Damage] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    tail_offset: int | None = None  # where an unreadable end starts
    tail_bytes: int = 0
    tail_bad_record: bool = False  # a whole last record failing its CRC, not a cut write


@dataclass(slots=True)
class SetAsideReport:
    name: str
    bytes: int


@dataclass(slots=True)
class Problem:
    """One damaged place, worded for an operator; ``lost`` events are gone for good."""

    file: str
    what: str
    lost: int = 0
    bytes: int = 0


@dataclass(slots=True)
class SpoolReport:
    directory: str
    in_use: bool
    position: int | None  # oldest unacknowledged sequence number; None: no usable state
    state_problem: str
    segments: list[SegmentReport]
    set_aside: list[SetAsideReport]
    leftovers: list[str]  # temporary files of an interrupted write
    records: int
    pending: int
    bytes: int  # segments and set-aside files: what counts toward max_size
    oldest_event: str | None  # @timestamp of the first stored record
    newest_event: str | None  # @timestamp of the last stored record
    problems: list[Problem]
    lost: int  # events lost to damage, counted as the next start would
    damaged_bytes: int


def report_json(report: SpoolReport) -> bytes:
    return orjson.dumps(report, option=orjson.OPT_INDENT_2)


class InspectError(Exception):
    """The directory cannot be inspected at all."""


def inspect_spool(directory: str) -> SpoolReport:
    """Read ``directory`` (never written to) and describe it."""
    if not os.path.isdir(directory):
        why = "it is not a directory" if os.path.exists(directory) else "it does not exist"
        raise InspectError(f"{directory} is not a spool directory ({why})")
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        raise InspectError(f"cannot read the spool directory {directory}: {exc.strerror}") from exc
    position, state_problem = _position(directory)
    floor = position if position is not None else 0
    segments: list[SegmentReport] = []
    problems: list[Problem] = []
    edges: list[bytes] = []  # payloads of the first and the last record seen
    expected: int | None = None
    firsts = sorted((first, n) for n in names if (first := parse_segment_name(n)) is not None)
    for index, (first, name) in enumerate(firsts):
        last = index == len(firsts) - 1
        report = _segment(directory, name, first, max(expected or first, first), floor, edges)
        if report is None:
            problems.append(Problem(name, "cannot be read"))
            continue
        if expected is not None and first > expected:
            missing = _pending_part(expected, first - expected, floor)
            if missing:
                problems.append(
                    Problem(name, f"events {first - missing}..{first - 1} are missing before it")
                )
                problems[-1].lost = missing
        _describe(report, last, problems)
        segments.append(report)
        if report.last_seq is not None:
            expected = max(expected or 0, report.last_seq + 1)
        else:
            expected = max(expected or first, first)
    set_aside = [
        SetAsideReport(os.path.basename(path), size) for path, size in corrupt_files(directory)
    ]
    for item in set_aside:
        problems.append(Problem(item.name, "set aside as damaged (never replayed)"))
    leftovers = [n for n in names if n == STATE_TEMP or is_segment_temp(n)]
    return SpoolReport(
        directory=directory,
        in_use=_in_use(directory),
        position=position,
        state_problem=state_problem,
        segments=segments,
        set_aside=set_aside,
        leftovers=leftovers,
        records=sum(s.records for s in segments),
        pending=sum(s.pending for s in segments),
        bytes=sum(s.bytes for s in segments) + sum(s.bytes for s in set_aside),
        oldest_event=_timestamp(edges[0]) if edges else None,
        newest_event=_timestamp(edges[-1]) if edges else None,
        problems=problems,
        lost=sum(p.lost for p in problems),
        damaged_bytes=sum(p.bytes for p in problems),
    )


def _position(directory: str) -> tuple[int | None, str]:
    try:
        position = read_state(directory)
    except (BadStateError, OSError) as exc:
        return None, f"unreadable ({exc})"
    return position, "" if position is not None else "missing"


def _segment(
    directory: str, name: str, first: int, expected: int, floor: int, edges: list[bytes]
) -> SegmentReport | None:
    path = os.path.join(directory, name)
    try:
        header = header_problem(path, first)
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        size = os.fstat(fd).st_size
        report = SegmentReport(name, first, size, header)
        offset = SEGMENT_HEADER_SIZE
        while True:
            read = read_records(fd, offset, size, expected, max_records=_BATCH)
            found = read.scan
            for seq, payload in found.records:
                if report.first_seq is None:
                    report.first_seq = seq
                    if not edges:
                        edges.append(payload)
                report.last_seq = seq
                report.pending += seq >= floor
            if found.records:
                del edges[1:]
                edges.append(found.records[-1][1])
            report.records += found.count
            report.damage.extend(found.damage)
            report.gaps.extend(_pending_gap(g, floor) for g in found.gaps)
            expected = found.expected
            offset = found.offset
            if found.state == "tail":
                report.tail_offset = offset
                report.tail_bytes = size - offset
                report.tail_bad_record = found.bad_tail_record
            if read.reached_limit or found.state != "full":
                break
        report.gaps = [g for g in report.gaps if g.count]
        return report
    except OSError:
        return None
    finally:
        os.close(fd)


def _pending_part(first: int, count: int, floor: int) -> int:
    """How many of the numbers first..first+count-1 were not acknowledged."""
    return max(0, first + count - max(first, floor))


def _pending_gap(gap: Gap, floor: int) -> Gap:
    missing = _pending_part(gap.first, gap.count, floor)
    return Gap(gap.first + gap.count - missing, missing)


def _describe(report: SegmentReport, last: bool, problems: list[Problem]) -> None:
    """The damaged places of one segment, as the next start would treat them."""
    name = report.name
    if report.header:
        if report.records or last:
            what = f"bad header ({report.header}): rewritten from the file name on the next start"
        else:
            what = f"bad header ({report.header}) and no readable record: set aside on next start"
        problems.append(Problem(name, what, bytes=min(report.bytes, SEGMENT_HEADER_SIZE)))
    elif not report.records and not last and report.bytes > SEGMENT_HEADER_SIZE:
        problems.append(Problem(name, "no readable record: set aside on the next start"))
    for damage in report.damage:
        problems.append(
            Problem(name, f"{damage.size} damaged bytes at offset {damage.offset}", 0, damage.size)
        )
    for gap in report.gaps:
        problems.append(
            Problem(name, f"events {gap.first}..{gap.first + gap.count - 1} lost", gap.count)
        )
    if report.tail_offset is not None:
        where = f"the last {report.tail_bytes} bytes (from offset {report.tail_offset})"
        if report.tail_bad_record:
            # in a segment before the last, the next segment's first number counts it
            what = f"{where} are a record failing its CRC" + (
                ": removed on the next start" if last else ""
            )
            lost = 1 if last else 0
        elif last:
            what = f"{where} are a write cut short (never acknowledged): truncated on next start"
            lost = 0
        else:
            what = f"{where} are unreadable"
            lost = 0
        problems.append(Problem(name, what, lost, report.tail_bytes))


def _timestamp(payload: bytes) -> str | None:
    try:
        event = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    value = event.get("@timestamp") if isinstance(event, dict) else None
    return value if isinstance(value, str) else None


def _in_use(directory: str) -> bool:
    """Whether a sorabeat process holds the spool's lock (tested, not taken: a shared lock
    on a read-only descriptor conflicts with its exclusive one and is released at once)."""
    try:
        fd = os.open(os.path.join(directory, LOCK_NAME), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EACCES, errno.EAGAIN)
    finally:
        os.close(fd)  # closing releases the test lock
    return False
