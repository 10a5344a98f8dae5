"""Rates and channel events over real HTTP from the simulator, through the real input:
exact against the simulator's own counters, one request per poll whichever of connections
and channels are on, one error event per metricset when a poll fails."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from sorabeat.event import AgentInfo, EnvelopeSettings
from sorabeat.sora.input import SoraInput
from sorabeat.sora.poller import MetricsetPoller
from sorabeat.sora.settings import SoraModuleSettings
from sorabeat.sora.simulator import SoraSimulator

AGENT = AgentInfo(name="n", hostname="h", id="i", ephemeral_id="e", version="0.1.0")
# rate name -> the rtp counter (18.10+ names) and its factor
COUNTERS = {
    "received_bits_per_second": ("total_received_byte_size", 8),
    "sent_bits_per_second": ("total_sent_byte_size", 8),
    "received_packets_per_second": ("total_received", 1),
    "sent_packets_per_second": ("total_sent", 1),
    "received_nacks_per_second": ("total_received_rtcp_rtpfb_generic_nack", 1),
    "sent_nacks_per_second": ("total_sent_rtcp_rtpfb_generic_nack", 1),
    "received_plis_per_second": ("total_received_rtcp_psfb_pli", 1),
    "sent_plis_per_second": ("total_sent_rtcp_psfb_pli", 1),
    "received_firs_per_second": ("total_received_rtcp_psfb_fir", 1),
    "sent_firs_per_second": ("total_sent_rtcp_psfb_fir", 1),
}


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
async def sim() -> AsyncIterator[tuple[SoraSimulator, Clock]]:
    clock = Clock()
    simulator = SoraSimulator("current", 12, seed=3, churn=0, clock=clock, epoch=1.7e9)
    async with simulator:
        yield simulator, clock


def pollers(
    simulator: SoraSimulator, metricsets: list[str], http: httpx.AsyncClient, fmt: str = "8"
) -> list[MetricsetPoller]:
    module = SoraModuleSettings(module="sora", metricsets=metricsets, hosts=[simulator.url])  # type: ignore[arg-type]
    envelope = EnvelopeSettings(agent=AGENT, format=fmt)  # type: ignore[arg-type]
    return SoraInput([module], envelope, sink=None).pollers([http])  # type: ignore[arg-type]


def micros(stamp: str) -> int:
    moment = datetime.fromisoformat(stamp)
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def exact_rates(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
    interval = micros(after["timestamp"]) - micros(before["timestamp"])
    out = {"interval_seconds": float(Fraction(interval, 1_000_000))}
    for name, (counter, factor) in COUNTERS.items():
        delta = after["rtp"][counter] - before["rtp"][counter]
        out[name] = float(Fraction(delta * factor * 1_000_000, interval))
    return out


def sora_part(events: list[bytes], metricset: str) -> list[dict[str, Any]]:
    docs = [orjson.loads(e) for e in events]
    return [d["sora"][metricset] for d in docs if d["metricset"]["name"] == metricset]


async def test_rates_and_channels_are_exact_from_one_request_per_poll(
    sim: tuple[SoraSimulator, Clock],
) -> None:
    simulator, clock = sim
    async with httpx.AsyncClient(trust_env=False) as http:
        (poller,) = pollers(simulator, ["connections", "channels"], http)
        assert poller.metricsets == ("connections", "channels")
        first = await poller.poll_once()
        before = {d["connection_id"]: d for d in simulator.connection_documents()}
        clock.t += 10.25
        second = await poller.poll_once()
        after = {d["connection_id"]: d for d in simulator.connection_documents()}
    assert simulator.served.connections.ok == 2  # one request per poll, not one per metricset
    assert all("rates" not in c for c in sora_part(first, "connections"))  # first poll
    connections = sora_part(second, "connections")
    assert len(connections) == len(after) == 12
    for c in connections:
        assert c["rates"] == exact_rates(before[c["connection_id"]], after[c["connection_id"]])
        assert c["rates"]["interval_seconds"] == 10.25
    channels = sora_part(second, "channels")
    members = Counter(c["channel_id"] for c in connections)
    assert {c["channel_id"]: c["connections"] for c in channels} == members
    for channel in channels:
        mine = [c["rates"] for c in connections if c["channel_id"] == channel["channel_id"]]
        assert channel["rated_connections"] == len(mine)
        for name in COUNTERS:
            exact_sum = sum((Fraction(r[name]) for r in mine), Fraction(0))
            assert channel["rates"][name] == float(exact_sum)
        levels = [
            after[c["connection_id"]]["network_status"]["unstable_level"]
            for c in connections
            if c["channel_id"] == channel["channel_id"]
        ]
        assert channel["max"]["unstable_level"] == max(levels)
    # the first poll's channels: counted, nothing rated yet
    assert all(
        c["rated_connections"] == 0 and "rates" not in c for c in sora_part(first, "channels")
    )


async def test_channels_alone_make_one_request_and_no_connection_events(
    sim: tuple[SoraSimulator, Clock],
) -> None:
    simulator, clock = sim
    async with httpx.AsyncClient(trust_env=False) as http:
        stats, channels = pollers(simulator, ["stats", "channels"], http, fmt="6")
        assert (stats.metricsets, channels.metricsets) == (("stats",), ("channels",))
        await channels.poll_once()
        clock.t += 10
        events = await channels.poll_once()
    assert simulator.served.connections.ok == 2
    docs = [orjson.loads(e) for e in events]
    # Beats 6.0 shape, like the original's metricsets
    assert {d["metricset"]["name"] for d in docs} == {"channels"}
    assert all(d["metricset"]["module"] == "sora" and "beat" in d for d in docs)
    summaries = [d["sora"]["channels"] for d in docs]
    assert sum(s["connections"] for s in summaries) == 12
    assert all(s["rated_connections"] == s["connections"] for s in summaries)
    assert all(s["rates"]["sent_bits_per_second"] > 0 for s in summaries)


async def test_a_failed_poll_is_one_error_event_per_metricset_and_rates_go_on(
    sim: tuple[SoraSimulator, Clock],
) -> None:
    simulator, clock = sim
    async with httpx.AsyncClient(trust_env=False) as http:
        (poller,) = pollers(simulator, ["connections", "channels"], http)
        await poller.poll_once()
        before = {d["connection_id"]: d for d in simulator.connection_documents()}
        simulator.set_fault("500", count=1)
        clock.t += 10
        failed = [orjson.loads(e) for e in await poller.poll_once()]
        clock.t += 10
        recovered = await poller.poll_once()
        after = {d["connection_id"]: d for d in simulator.connection_documents()}
    assert [d["metricset"]["name"] for d in failed] == ["connections", "channels"]
    assert all("HTTP 500" in d["error"]["message"] for d in failed)
    for c in sora_part(recovered, "connections"):  # over the 20 s since the last good poll
        assert c["rates"] == exact_rates(before[c["connection_id"]], after[c["connection_id"]])


async def test_cli_test_modules_selects_channels(
    sim: tuple[SoraSimulator, Clock], tmp_path: Path
) -> None:
    simulator, _ = sim
    home = tmp_path / "home"
    (home / "modules.d").mkdir(parents=True)
    (home / "sorabeat.yml").write_text("output.console: {}\n")
    module = {"module": "sora", "metricsets": ["stats", "connections", "channels"]}
    module["hosts"] = [simulator.url]  # type: ignore[assignment]
    (home / "modules.d" / "sora.yml").write_text(orjson.dumps([module]).decode())
    for path in (home / "sorabeat.yml", home / "modules.d" / "sora.yml"):
        path.chmod(0o600)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sorabeat",
        "test",
        "modules",
        "sora",
        "channels",
        "--path.home",
        str(home),
        cwd=home,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err
    text = out.decode()
    # the one poller that fetches for both, and nothing else (no stats)
    assert f"sora/connections+channels from {simulator.address[0]}" in text  # type: ignore[index]
    assert "sora/stats" not in text
    assert '"name": "channels"' in text and '"channel_id"' in text
    assert simulator.served.connections.ok == 1 and simulator.served.stats.ok == 0
