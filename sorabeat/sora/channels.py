"""Per-channel summaries of one GetStatsAllConnections response, sans-IO.

One summary per channel (``channel_id``), in the order channels first appear:

- ``connections``: how many of the response's connections are in the channel;
- ``rated_connections``: how many of them had rates this poll (``sorabeat.sora.rates``);
  the sums below cover exactly these, so a channel whose connections are all new has none;
- ``rates.<rate>``: the sum of each rate over its connections (bits, packets, NACKs, PLIs
  and FIRs per second, each way), correctly rounded (``math.fsum``);
- ``max.<quality rate>``: the largest NACK, PLI and FIR rate among its connections, and
  ``max.unstable_level``: the largest ``network_status.unstable_level`` (Sora 2024+).

A group is left out when nothing fed it (no rates; no unstable_level). A connection without
a non-empty string ``channel_id`` belongs to no channel and is not counted.

Use: ``ChannelTotals.add(connection, rates)`` per connection, then ``summaries()``; or
``channel_summaries(connections, rates)`` for a whole response.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from sorabeat.sora.rates import QUALITY_RATES, RATE_NAMES

UNSTABLE_LEVEL = "unstable_level"


class _Channel:
    __slots__ = ("connections", "rated", "unstable_level", "values")

    def __init__(self) -> None:
        self.connections = 0
        self.rated = 0
        self.values: dict[str, list[float]] = {}  # rate name -> its connections' values
        self.unstable_level: int | None = None


class ChannelTotals:
    """The channels of one poll, fed one connection at a time."""

    def __init__(self) -> None:
        self._channels: dict[str, _Channel] = {}

    def add(self, connection: Mapping[str, Any], rates: Mapping[str, float] | None) -> None:
        channel_id = connection.get("channel_id")
        if not isinstance(channel_id, str) or not channel_id:
            return
        channel = self._channels.get(channel_id)
        if channel is None:
            channel = self._channels[channel_id] = _Channel()
        channel.connections += 1
        network = connection.get("network_status")
        if isinstance(network, dict):
            level = network.get(UNSTABLE_LEVEL)
            if type(level) is int and (
                channel.unstable_level is None or level > channel.unstable_level
            ):
                channel.unstable_level = level
        if rates:
            channel.rated += 1
            values = channel.values
            for name in RATE_NAMES:
                value = rates.get(name)
                if value is not None:
                    found = values.get(name)
                    if found is None:
                        values[name] = [value]
                    else:
                        found.append(value)

    def summaries(self) -> list[dict[str, Any]]:
        """One document per channel (see the module's description)."""
        out = []
        for channel_id, channel in self._channels.items():
            doc: dict[str, Any] = {
                "channel_id": channel_id,
                "connections": channel.connections,
                "rated_connections": channel.rated,
            }
            values = channel.values
            sums = {name: math.fsum(values[name]) for name in RATE_NAMES if name in values}
            if sums:
                doc["rates"] = sums
            maxima: dict[str, float | int] = {
                name: max(values[name]) for name in QUALITY_RATES if name in values
            }
            if channel.unstable_level is not None:
                maxima[UNSTABLE_LEVEL] = channel.unstable_level
            if maxima:
                doc["max"] = maxima
            out.append(doc)
        return out

    def __len__(self) -> int:
        return len(self._channels)


def channel_summaries(
    connections: Iterable[Mapping[str, Any]], rates: Iterable[Mapping[str, float] | None]
) -> list[dict[str, Any]]:
    """The summaries of a whole response, given each connection's rates (None: none)."""
    totals = ChannelTotals()
    for connection, connection_rates in zip(connections, rates, strict=True):
        totals.add(connection, connection_rates)
    return totals.summaries()
