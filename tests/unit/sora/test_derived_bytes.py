"""The bytes of connection and channel documents with rates and channels on, against the
straightforward construction: parse each element, add ``channel_client_id`` and the rates
computed exactly with fractions, serialize the whole dict with orjson; and each channel's
summary from its connections' rates (sums of fractions, rounded once).

Whatever makes the derivation cheap (appending pre-serialized bytes to the element's own,
rows instead of dicts), the documents must be byte for byte what this gives for the compact
bodies Sora sends, in every case the rules name (2017 names, resets, missing and non-integer
counters, duplicates, timestamps that do not move or do not parse, a field named ``rates``).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sorabeat.simulator import SoraSimulator
from sorabeat.sora.connections import ConnectionsReader, channel_client_id
from sorabeat.sora.derived import Derivation
from sorabeat.sora.field_types import annotate, metricset_types, remove_invalid
from sorabeat.sora.rates import COUNTERS, INTERVAL, QUALITY_RATES, RATE_NAMES

HOST = "127.0.0.1:3000"
CURRENT = [names[0] for _, names, _ in COUNTERS]
LEGACY = [names[-1] for _, names, _ in COUNTERS]


def reference_key(doc: dict[str, Any]) -> str | None:
    connection_id = doc.get("connection_id")
    if isinstance(connection_id, str) and connection_id:
        return connection_id
    pair = channel_client_id(doc)
    return None if pair is None else "pair:" + pair


def reference_counters(doc: dict[str, Any]) -> list[int | None]:
    rtp = doc.get("rtp")
    out: list[int | None] = []
    for _, names, _ in COUNTERS:
        found = None
        if isinstance(rtp, dict):
            for name in names:
                if type(rtp.get(name)) is int:
                    found = rtp[name]
                    break
        out.append(found)
    return out


def reference_micros(stamp: Any) -> int | None:
    if not isinstance(stamp, str):
        return None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


Seen = dict[str, tuple[int | None, int, list[int | None]] | None]


def reference_rates(
    docs: list[dict[str, Any]], previous: Seen, poll_us: int
) -> tuple[list[dict[str, float] | None], Seen]:
    """Each connection's rates by the module's rules, from fractions; and what is remembered."""
    seen: Seen = {}
    out: list[dict[str, float] | None] = []
    for doc in docs:
        key = reference_key(doc)
        if key is None:
            out.append(None)
            continue
        if key in seen:
            seen[key] = None
            out.append(None)
            continue
        now = (reference_micros(doc.get("timestamp")), poll_us, reference_counters(doc))
        seen[key] = now
        before = previous.get(key)
        if before is None:
            out.append(None)
            continue
        stamp0, poll0, old = before
        stamp1, poll1, new = now
        interval = stamp1 - stamp0 if stamp0 is not None and stamp1 is not None else poll1 - poll0
        pairs = [(o, n) for o, n in zip(old, new, strict=True) if o is not None and n is not None]
        if interval <= 0 or any(n < o for o, n in pairs) or not pairs:
            out.append(None)
            continue
        rates = {INTERVAL: float(Fraction(interval, 1_000_000))}
        for (name, _, factor), o, n in zip(COUNTERS, old, new, strict=True):
            if o is not None and n is not None:
                rates[name] = float(Fraction((n - o) * factor * 1_000_000, interval))
        out.append(rates)
    return out, seen


def reference_channels(
    docs: list[dict[str, Any]], rates: list[dict[str, float] | None]
) -> list[bytes]:
    members: dict[str, list[tuple[dict[str, Any], dict[str, float] | None]]] = {}
    for doc, r in zip(docs, rates, strict=True):
        channel_id = doc.get("channel_id")
        if isinstance(channel_id, str) and channel_id:
            members.setdefault(channel_id, []).append((doc, r))
    out = []
    for channel_id, mine in members.items():
        rated = [r for _, r in mine if r]
        summary: dict[str, Any] = {
            "channel_id": channel_id,
            "connections": len(mine),
            "rated_connections": len(rated),
        }
        sums = {
            name: float(sum((Fraction(r[name]) for r in rated if name in r), Fraction(0)))
            for name in RATE_NAMES
            if any(name in r for r in rated)
        }
        if sums:
            summary["rates"] = sums
        maxima: dict[str, Any] = {
            name: max(r[name] for r in rated if name in r)
            for name in QUALITY_RATES
            if any(name in r for r in rated)
        }
        levels = [
            d["network_status"]["unstable_level"]
            for d, _ in mine
            if type(d.get("network_status")) is dict
            and type(d["network_status"].get("unstable_level")) is int
        ]
        if levels:
            maxima["unstable_level"] = max(levels)
        if maxima:
            summary["max"] = maxima
        out.append(orjson.dumps(summary))
    return out


def reference_poll(
    body: bytes, previous: Seen, poll_us: int
) -> tuple[list[bytes], list[bytes], Seen]:
    """Connection documents, channel documents and what is remembered, the plain way."""
    docs = orjson.loads(body)
    types = metricset_types("connections")
    for doc in docs:
        invalid = remove_invalid(doc, types.group)
        if invalid:
            annotate(doc, invalid)
    rates, seen = reference_rates(docs, previous, poll_us)
    connections = []
    for doc, r in zip(docs, rates, strict=True):
        event = copy.deepcopy(doc)
        pair = channel_client_id(event)
        if pair is None:
            event.pop("channel_client_id", None)
        else:
            event["channel_client_id"] = pair
        if r is not None:
            event["rates"] = r
        connections.append(orjson.dumps(event))
    return connections, reference_channels(docs, rates), seen


def derived_poll(
    body: bytes, derivation: Derivation, poll_us: int, chunk: int
) -> tuple[list[bytes], list[bytes]]:
    """What the poller makes of the body, as bytes."""
    derived = derivation.begin(poll_us)
    reader = ConnectionsReader(metricset_types("connections"), derived)
    for start in range(0, len(body), chunk):
        reader.feed(body[start : start + chunk])
    documents = reader.finish()
    derivation.commit(derived)
    return (
        [b"".join(parts) for _, parts in documents],
        [b"".join(parts) for _, parts in derived.channel_documents()],
    )


def assert_polls_match(bodies: list[tuple[bytes, int]], chunk: int = 65536) -> int:
    """Compare poll by poll; how many connection documents had rates."""
    derivation = Derivation(HOST, rates_in_events=True, channels=True)
    previous: Seen = {}
    rated = 0
    for body, poll_us in bodies:
        connections, channels = derived_poll(body, derivation, poll_us, chunk)
        want_connections, want_channels, previous = reference_poll(body, previous, poll_us)
        assert connections == want_connections
        assert channels == want_channels
        rated += sum(b'"rates":{"interval' in c for c in connections)
    return rated


def test_simulated_polls_are_byte_for_byte_the_straightforward_documents() -> None:
    clock = [1_000.0]
    simulator = SoraSimulator("current", 300, seed=7, churn=0.05, clock=lambda: clock[0])
    bodies = []
    for step in range(4):
        bodies.append((orjson.dumps(simulator.connection_documents()), step * 10_000_000))
        clock[0] += 10.25
    assert_polls_match(bodies, chunk=4096)
    # and the rates are there: not a comparison of two empty lists
    derivation = Derivation(HOST, rates_in_events=True, channels=True)
    derived_poll(bodies[0][0], derivation, 0, 65536)
    connections, channels = derived_poll(bodies[1][0], derivation, 10_000_000, 65536)
    assert sum(b'"rates":{' in c for c in connections) > 250
    assert channels and all(b'"rates":{' in c for c in channels)


@pytest.mark.parametrize("profile", ["2017", "2018"])
def test_every_legacy_profile_is_byte_for_byte_the_straightforward_documents(profile: str) -> None:
    clock = [1_000.0]
    simulator = SoraSimulator(profile, 40, seed=3, churn=0.1, clock=lambda: clock[0])
    bodies = []
    for step in range(3):
        bodies.append((orjson.dumps(simulator.connection_documents()), step * 10_000_000))
        clock[0] += 10
    assert_polls_match(bodies, chunk=333)


# -- arbitrary polls -----------------------------------------------------------------------

COUNTER_VALUE = st.one_of(
    st.integers(0, 2**40),
    st.integers(0, 2**40),
    st.integers(2**62, 2**62 + 2**40),  # near the top of a long
    st.none(),  # missing
    st.sampled_from([1.5, True, "7"]),  # not an integer (a boolean and a string are refused)
)
# a timestamp: missing, fixed (does not move, or not a time), or advancing ~10 s a poll with
# up to 3 s of jitter (an int: the jitter in µs; most intervals are positive, some are not)
STAMP = st.one_of(
    st.none(),
    st.sampled_from(["garbage", "2026-01-02T15:04:05Z", "2017-11-16T05:16:02"]),
    st.integers(0, 3_000_000),
    st.integers(0, 3_000_000),
)
CONNECTION = st.fixed_dictionaries(
    {
        "channel_id": st.sampled_from(["room", "hall", "", None]),
        "client_id": st.sampled_from(["c1", "c2", "c3"]),
        "timestamp": STAMP,
    },
    optional={
        "connection_id": st.sampled_from(["a", "b", "c", "d", "e", ""]),
        "legacy": st.booleans(),
        "reset": st.booleans(),
        "rates": st.just({"received_bits_per_second": -1}),
        "channel_client_id": st.just("from sora"),
        "network_status": st.fixed_dictionaries(
            {"unstable_level": st.one_of(st.integers(0, 3), st.just(True))}
        ),
    },
)
POLL = st.tuples(
    st.integers(-1_000_000, 30_000_000),
    st.lists(st.tuples(CONNECTION, st.lists(COUNTER_VALUE, min_size=10, max_size=10)), max_size=8),
)


def connection_document(index: int, shape: dict[str, Any], values: list[Any]) -> dict[str, Any]:
    """Integer counters grow by 2**41 a poll (so that many are rated), unless reset."""
    doc = {k: v for k, v in shape.items() if k not in ("legacy", "reset")}
    if type(doc["timestamp"]) is int:
        us = 1_767_366_245_000_000 + index * 10_000_000 + doc["timestamp"]
        moment = datetime.fromtimestamp(us // 1_000_000, UTC)
        doc["timestamp"] = f"{moment:%Y-%m-%dT%H:%M:%S}.{us % 1_000_000:06d}Z"
    names = LEGACY if shape.get("legacy") else CURRENT
    doc["rtp"] = {
        n: v + index * 2**41 if type(v) is int and not shape.get("reset") else v
        for n, v in zip(names, values, strict=True)
        if v is not None
    }
    return doc


@settings(max_examples=150, deadline=None)
@given(st.lists(POLL, min_size=2, max_size=4), st.integers(5, 300))
def test_arbitrary_polls_are_byte_for_byte_the_straightforward_documents(
    polls: list[tuple[int, list[tuple[dict[str, Any], list[Any]]]]], chunk: int
) -> None:
    poll_us = 0
    bodies = []
    for index, (gap, members) in enumerate(polls):
        poll_us += gap
        docs = [connection_document(index, shape, values) for shape, values in members]
        bodies.append((orjson.dumps(docs), poll_us))
    RATED.append(assert_polls_match(bodies, chunk))


RATED: list[int] = []


def test_the_property_above_saw_rates() -> None:
    """The arbitrary polls are not all first polls and resets: many connections were rated."""
    if not RATED:  # run alone: generate again
        test_arbitrary_polls_are_byte_for_byte_the_straightforward_documents()
    assert sum(RATED) >= 10  # usually 30 to 100: far from a fluke
