"""The simulator's traffic, read the way an operator reads it: through sorabeat's own rates
and channel summaries (``sorabeat.sora.rates``, ``sorabeat.sora.channels``).

Bounds are what a WebRTC SFU carries: audio ~30-100 kbit/s, a video sender 0.3-6 Mbit/s, a
receiver up to ~15 Mbit/s (several video streams), a voice-room listener a few hundred kbit/s; NACKs mostly quiet with bursts; a few big channels.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

import pytest

from sorabeat.sora.channels import channel_summaries
from sorabeat.sora.rates import Rates, RateTracker, counters
from sorabeat.sora.simulator.connection import SENDS, VIDEO
from sorabeat.sora.simulator.profiles import PROFILES
from sorabeat.sora.simulator.state import NodeState

EPOCH = 1_700_000_000.25
HOST = "sora:3000"
PROFILE_NAMES = list(PROFILES)


def node(profile: str, connections: int, **kwargs: Any) -> NodeState:
    kwargs.setdefault("seed", 11)
    kwargs.setdefault("epoch", EPOCH)
    return NodeState(PROFILES[profile], connections=connections, **kwargs)


def poll(
    state: NodeState, tracker: RateTracker, t: float
) -> tuple[list[dict[str, Any]], list[Rates | None]]:
    documents = state.connection_documents(t)
    return documents, tracker.update(HOST, documents, int((EPOCH + t) * 1_000_000))


def rated_polls(
    state: NodeState, times: list[float]
) -> list[tuple[list[dict[str, Any]], list[Rates | None]]]:
    tracker = RateTracker()
    return [poll(state, tracker, t) for t in times]


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_per_connection_bitrates_fit_the_kind_of_sender(profile: str) -> None:
    state = node(profile, 300, churn=0.0)
    flags = {c.client_id: c.flags for c in state.live.values()}
    (_, first), (documents, rates) = rated_polls(state, [100.0, 110.0])
    assert first == [None] * len(first)  # a first poll has no rates
    seen = {"video": 0, "audio": 0, "listener": 0}
    for document, rate in zip(documents, rates, strict=True):
        assert rate is not None
        assert rate["interval_seconds"] == 10.0
        kind = flags[document["client_id"]]
        uplink = rate["received_bits_per_second"]
        downlink = rate["sent_bits_per_second"]
        assert 0 <= downlink <= 15_000_000  # a receiver of several video streams
        if kind & SENDS and kind & VIDEO:
            seen["video"] += 1
            assert 300_000 <= uplink <= 6_000_000, (document["client_id"], rate)
        elif kind & SENDS:
            seen["audio"] += 1
            assert 10_000 <= uplink <= 120_000, (document["client_id"], rate)  # Opus, DTX
        else:
            seen["listener"] += 1
            assert uplink <= 250_000  # RTCP feedback only (NACK bursts included)
    # every kind of connection is there, and video senders outnumber audio-only ones
    assert seen["video"] > seen["audio"] > 10
    assert seen["listener"] > 50


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_rates_vary_between_polls_and_connections(profile: str) -> None:
    state = node(profile, 50, churn=0.0)
    polls = rated_polls(state, [float(t) for t in range(0, 610, 10)])
    by_client: dict[str, list[float]] = defaultdict(list)
    for documents, rates in polls[1:]:
        for document, rate in zip(documents, rates, strict=True):
            assert rate is not None
            by_client[document["client_id"]].append(rate["sent_bits_per_second"])
    spreads = [max(v) / min(v) for v in by_client.values() if min(v) > 0]
    assert statistics.median(spreads) > 1.2  # a connection's rate wobbles over ten minutes
    means = sorted(statistics.fmean(v) for v in by_client.values())
    assert means[-1] > 10 * means[0]  # and connections differ a lot from each other


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_a_few_heavy_channels_and_many_light_ones(profile: str) -> None:
    state = node(profile, 1200, churn=0.0)
    documents, rates = rated_polls(state, [0.0, 10.0])[1]
    channels = channel_summaries(documents, rates)
    sizes = sorted((c["connections"] for c in channels), reverse=True)
    assert sum(sizes) == 1200
    assert sizes[0] >= 20 * statistics.median(sizes)
    assert sum(sizes[: max(1, len(sizes) // 20)]) >= 0.3 * 1200  # top 5% hold 30%+
    assert sum(1 for s in sizes if s <= 2) >= 0.4 * len(sizes)
    by_bitrate = sorted(channels, key=lambda c: c["rates"]["received_bits_per_second"])
    assert by_bitrate[-1]["rates"]["received_bits_per_second"] > 50_000_000


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_voice_rooms_carry_no_video(profile: str) -> None:
    state = node(profile, 600, churn=0.0)
    voice = {c.name for c in state.channels if c.audio_only}
    documents, rates = rated_polls(state, [0.0, 10.0])[1]
    members = 0
    for document, rate in zip(documents, rates, strict=True):
        if document["channel_id"] in voice:
            members += 1
            assert rate is not None and rate["received_bits_per_second"] < 120_000
            assert rate["sent_bits_per_second"] < 400_000  # several voices
    assert members > 10


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_nacks_and_plis_come_in_bursts(profile: str) -> None:
    state = node(profile, 80, churn=0.0)
    polls = rated_polls(state, [float(t) for t in range(0, 905, 5)])
    node_nacks: list[float] = []
    bursty = 0
    by_client: dict[str, list[Rates]] = defaultdict(list)
    for documents, rates in polls[1:]:
        total = 0.0
        for document, rate in zip(documents, rates, strict=True):
            assert rate is not None
            total += rate["received_nacks_per_second"] + rate["sent_nacks_per_second"]
            by_client[document["client_id"]].append(rate)
        node_nacks.append(total)
    for series in by_client.values():
        nacks = [r["received_nacks_per_second"] + r["sent_nacks_per_second"] for r in series]
        plis = [r["received_plis_per_second"] + r["sent_plis_per_second"] for r in series]
        quiet = statistics.median(nacks)
        if max(nacks) > 10 * max(quiet, 0.2) and max(plis) > 2 * max(statistics.median(plis), 0.1):
            bursty += 1
    assert bursty >= 5  # lossy connections have bursts of NACKs and PLIs ...
    assert bursty <= 0.5 * len(by_client)  # ... and most connections do not
    assert max(node_nacks) > 2 * statistics.median(node_nacks)  # the node sees them too


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_the_same_seed_gives_the_same_rates(profile: str) -> None:
    times = [0.0, 10.0, 20.0]

    def run(seed: int) -> list[list[Rates | None]]:
        return [rates for _, rates in rated_polls(node(profile, 40, seed=seed, churn=2.0), times)]

    assert run(5) == run(5)
    assert run(5) != run(6)


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_counters_go_down_only_on_a_simulated_reconnect(profile: str) -> None:
    """Keyed by channel and client id (the identity that survives a reconnect): a counter
    goes down exactly when that client reconnected between the two polls."""
    state = node(profile, 60, churn=4.0, reconnect=0.5)
    before: dict[tuple[str, str], tuple[int | None, ...]] = {}
    reconnects_before: dict[str, int] = {}
    went_down = 0
    tracker = RateTracker()
    for step in range(1, 60):
        documents, rates = poll(state, tracker, step * 7.0)
        for rate in rates:
            assert rate is None or all(v >= 0 for v in rate.values())
        now = {(d["channel_id"], d["client_id"]): counters(d) for d in documents}
        for key, values in now.items():
            old = before.get(key)
            if old is None:
                continue
            down = any(
                b is not None and a is not None and a < b for a, b in zip(values, old, strict=True)
            )
            reconnected = state.reconnects.get(key[1], 0) != reconnects_before.get(key[1], 0)
            if down:
                went_down += 1
                assert reconnected, (key, step)
        before = now
        reconnects_before = dict(state.reconnects)
    assert went_down >= 5


def test_without_reconnects_no_counter_of_a_client_goes_down() -> None:
    state = node("2017", 60, churn=4.0)
    before: dict[tuple[str, str], tuple[int | None, ...]] = {}
    for step in range(1, 40):
        now = {
            (d["channel_id"], d["client_id"]): counters(d)
            for d in state.connection_documents(step * 7.0)
        }
        for key, values in now.items():
            old = before.get(key)
            assert old is None or all(
                b is None or a is None or a >= b for a, b in zip(values, old, strict=True)
            ), key
        before = now
    assert not state.reconnects


def test_reconnect_share_is_checked() -> None:
    with pytest.raises(ValueError, match="reconnect must be between 0 and 1"):
        node("current", 5, reconnect=1.5)
