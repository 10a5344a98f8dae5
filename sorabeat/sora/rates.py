"""Per-connection rates from Sora's cumulative counters, sans-IO (no clock, no I/O).

Sora's per-connection counters (GetStatsAllConnections, ``rtp.*``) count from the start of
the connection. The rate of a counter over a poll is its increase since the previous poll of
the same host, divided by the time between the two polls. That time is taken from the
connection's own ``timestamp`` (RFC 3339, "when the API was called": to the second in 2017,
to the microsecond later) when both polls carry one that parses, else from the poll times
the caller passes.

Exactness: counters are integers and times are integer microseconds, so every rate is one
division of two integers, which Python rounds correctly: the float closest to the true rate.

No rate is given (never a negative, infinite or NaN one) for:
- the first poll of a connection (nothing to compare with);
- a poll where any counter went down (a reconnect under the same id, a Sora restart): its
  counters start the next comparison;
- an interval that is zero or negative (a timestamp that did not move, a clock set back);
- a counter missing, or not an integer, in either poll (only that rate is left out);
- a connection without identity (no ``connection_id``, and no ``channel_id``+``client_id``);
- a connection whose identity already appeared earlier in the same response (the first one
  is compared as usual: a response is read element by element), and, next poll, every
  connection of an identity that appeared twice (which one would it be?).

Memory: each completed poll replaces the host's table whole, so connections that vanished
are forgotten and the table never holds more than the last response's connections. Nothing
is persisted: a restart starts over (the first poll after it has no rates).

Use: ``RateTracker.update(host, connections, poll_time_us)`` for a parsed response, or, for a
response read element by element, ``begin`` / ``RatePoll.rates`` per element / ``commit``
once the whole response was read (a failed poll is never committed). ``RatePoll.row`` is
``rates`` for the hot path: when every counter is in both polls (the common case) it gives
the rates as a ``Row``, a tuple in ROW_NAMES order, which costs less to build, to sum per
channel and to serialize than a dict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

from sorabeat.sora.connections import channel_client_id

Rates = dict[str, float]
Counters = tuple[int | None, ...]
# (timestamp in µs since the epoch or None, poll time in µs, counters in COUNTERS order,
# whether every counter is there)
Snapshot = tuple[int | None, int, Counters, bool]
# interval_seconds, then every rate in RATE_NAMES order: the common case, cheaper than a dict
Row = tuple[float, ...]

INTERVAL = "interval_seconds"
# (rate name, the rtp counter it derives from: current name first, then the 2017 one, factor)
# "received"/"sent" are Sora's point of view, as in the counters' names.
COUNTERS: tuple[tuple[str, tuple[str, ...], int], ...] = (
    ("received_bits_per_second", ("total_received_byte_size", "total_received_bytes"), 8),
    ("sent_bits_per_second", ("total_sent_byte_size", "total_sent_bytes"), 8),
    ("received_packets_per_second", ("total_received", "total_received_packets"), 1),
    ("sent_packets_per_second", ("total_sent", "total_sent_packets"), 1),
    ("received_nacks_per_second", ("total_received_rtcp_rtpfb_generic_nack",), 1),
    ("sent_nacks_per_second", ("total_sent_rtcp_rtpfb_generic_nack",), 1),
    ("received_plis_per_second", ("total_received_rtcp_psfb_pli",), 1),
    ("sent_plis_per_second", ("total_sent_rtcp_psfb_pli",), 1),
    ("received_firs_per_second", ("total_received_rtcp_psfb_fir",), 1),
    ("sent_firs_per_second", ("total_sent_rtcp_psfb_fir",), 1),
)
RATE_NAMES: tuple[str, ...] = tuple(name for name, _, _ in COUNTERS)
QUALITY_RATES: tuple[str, ...] = RATE_NAMES[4:]  # NACKs, PLIs, FIRs
_US_PER_S = 1_000_000
_SCALES = tuple(factor * _US_PER_S for _, _, factor in COUNTERS)
_NO_COUNTERS: Counters = (None,) * len(COUNTERS)
_ALL_INTS = (int,) * len(COUNTERS)
ROW_NAMES = (INTERVAL, *RATE_NAMES)  # the names of a Row's values
_CURRENT = itemgetter(*(names[0] for _, names, _ in COUNTERS))
_LEGACY = itemgetter(*(names[-1] for _, names, _ in COUNTERS))
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


def parse_timestamp(value: Any) -> int | None:
    """Sora's ``timestamp`` (RFC 3339, e.g. ``2017-11-16T05:16:02Z`` or
    ``2019-01-18T07:51:29.481203Z``) in microseconds since the epoch; None for anything
    else (a number: Sora documents none, and its unit could only be guessed)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # Sora's are UTC
    return (moment - _EPOCH) // _ONE_US


def _counters_one_by_one(rtp: dict[str, Any]) -> Counters:
    out: list[int | None] = []
    for _, names, _ in COUNTERS:
        found = None
        for name in names:
            value = rtp.get(name)
            if type(value) is int:
                found = value
                break
        out.append(found)
    return tuple(out)


def _counters(connection: Mapping[str, Any]) -> tuple[Counters, bool]:
    """``counters``, and whether every one is there (the fast path of ``_rates_between``)."""
    rtp = connection.get("rtp")
    if type(rtp) is not dict:
        return _NO_COUNTERS, False
    # the common case in C: every counter of one generation there, every one an int
    try:
        values: Counters = _CURRENT(rtp)
    except KeyError:
        try:
            values = _LEGACY(rtp)
        except KeyError:
            values = _counters_one_by_one(rtp)
            return values, None not in values
    if tuple(map(type, values)) == _ALL_INTS:  # a boolean is not one
        return values, True
    values = _counters_one_by_one(rtp)
    return values, None not in values


def counters(connection: Mapping[str, Any]) -> Counters:
    """The counters the rates derive from, in COUNTERS order; None where missing or not an
    integer (a boolean is not one)."""
    return _counters(connection)[0]


def connection_key(connection: Mapping[str, Any]) -> str | None:
    """What names one connection across polls of a host: ``connection_id``, else (2017)
    ``channel_id/client_id``; None when neither is there."""
    connection_id = connection.get("connection_id")
    if isinstance(connection_id, str) and connection_id:
        return connection_id
    pair = channel_client_id(connection)
    return None if pair is None else "\x1f" + pair  # never equal to a connection_id


def _rates_between(previous: Snapshot, current: Snapshot) -> Row | Rates | None:
    """The rates from ``previous`` to ``current`` (see the module's rules): a ``Row`` when
    every counter is in both polls, else by name; None for no rate."""
    stamp0, poll0, before, complete0 = previous
    stamp1, poll1, after, complete1 = current
    interval = stamp1 - stamp0 if stamp0 is not None and stamp1 is not None else poll1 - poll0
    if interval <= 0:
        return None
    if not (complete0 and complete1):
        return _some_rates(interval, before, after)
    out = [interval / _US_PER_S]
    try:
        for new, old, scale in zip(after, before, _SCALES, strict=True):
            out.append((new - old) * scale / interval)  # type: ignore[operator]
    except OverflowError:  # a rate beyond a float: leave out just those (never seen)
        return _some_rates(interval, before, after)
    if min(out) < 0:  # scale and interval are positive: only a counter that went down
        return None  # a reset: no rate at all this poll, not just for this counter
    return tuple(out)


def _some_rates(interval: int, before: Counters, after: Counters) -> Rates | None:
    """The rates of the counters in both polls (a missing one is left out)."""
    out: Rates = {INTERVAL: interval / _US_PER_S}
    for name, scale, old, new in zip(RATE_NAMES, _SCALES, before, after, strict=True):
        if old is None or new is None:
            continue
        if new < old:
            return None  # reset: no rate at all this poll
        try:
            out[name] = (new - old) * scale / interval
        except OverflowError:
            continue
    return out if len(out) > 1 else None


def as_rates(rates: Row | Rates) -> Rates:
    """Rates by name, ``interval_seconds`` first, whichever form they came in."""
    if type(rates) is tuple:
        return dict(zip(ROW_NAMES, rates, strict=True))
    return rates  # type: ignore[return-value]


class RatePoll:
    """One poll of one host in progress: rates against the previous poll, element by element."""

    def __init__(self, host: str, poll_time_us: int, previous: dict[str, Snapshot | None]) -> None:
        self.host = host
        self.poll_time_us = poll_time_us
        self.previous = previous
        self.snapshots: dict[str, Snapshot | None] = {}  # None: identity seen twice
        self._stamp_text: Any = None  # the last timestamp parsed (a poll's are often equal)
        self._stamp_us: int | None = None

    def row(self, connection: Mapping[str, Any]) -> Row | Rates | None:
        """The rates of one connection of this poll (see the module's rules): a ``Row`` when
        every counter is in both polls, else by name; None for no rate."""
        key = connection.get("connection_id")
        if type(key) is not str or not key:
            key = connection_key(connection)
            if key is None:
                return None
        snapshots = self.snapshots
        if key in snapshots:
            snapshots[key] = None  # ambiguous: rated neither now nor next poll
            return None
        text = connection.get("timestamp")
        if text != self._stamp_text:  # a string equals only a string: no type mix-up
            self._stamp_text = text
            self._stamp_us = parse_timestamp(text)
        values, complete = _counters(connection)
        current: Snapshot = (self._stamp_us, self.poll_time_us, values, complete)
        snapshots[key] = current
        previous = self.previous.get(key)
        if previous is None:
            return None
        return _rates_between(previous, current)

    def rates(self, connection: Mapping[str, Any]) -> Rates | None:
        """The rates of one connection of this poll (None: none; see the module's rules)."""
        rates = self.row(connection)
        return None if rates is None else as_rates(rates)


class RateTracker:
    """The previous poll's counters of every connection, per host, and nothing else."""

    def __init__(self) -> None:
        self._previous: dict[str, dict[str, Snapshot | None]] = {}

    def begin(self, host: str, poll_time_us: int) -> RatePoll:
        """Start a poll of ``host`` made at ``poll_time_us`` (µs since the epoch)."""
        return RatePoll(host, poll_time_us, self._previous.get(host, {}))

    def commit(self, poll: RatePoll) -> None:
        """The poll was read whole: its connections, and only they, are the next baseline."""
        self._previous[poll.host] = poll.snapshots

    def update(
        self, host: str, connections: Iterable[Mapping[str, Any]], poll_time_us: int
    ) -> list[Rates | None]:
        """The rates of each connection of a complete response, in order (None: no rate)."""
        poll = self.begin(host, poll_time_us)
        out = [poll.rates(connection) for connection in connections]
        self.commit(poll)
        return out

    def remembered(self, host: str) -> int:
        """How many connections of ``host`` are remembered."""
        return len(self._previous.get(host, ()))

    def forget(self, host: str) -> None:
        self._previous.pop(host, None)
