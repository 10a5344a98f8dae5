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
from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sorabeat.sora.rates import QUALITY_RATES, RATE_NAMES

UNSTABLE_LEVEL = "unstable_level"


_ALL_RATES = itemgetter(*RATE_NAMES)
_QUALITY = [(i, name) for i, name in enumerate(RATE_NAMES) if name in QUALITY_RATES]


class _Channel:
    __slots__ = ("connections", "full", "partial", "unstable_level")

    def __init__(self) -> None:
        self.connections = 0
        self.full: list[tuple[float, ...]] = []  # every rate, in RATE_NAMES order
        self.partial: list[Mapping[str, float]] = []  # some rates missing
        self.unstable_level: int | None = None

    def values(self) -> dict[str, Sequence[float]]:
        """Rate name -> its value of each rated connection that has it."""
        # no full row: no column (zip stops at once)
        columns: dict[str, Sequence[float]] = dict(
            zip(RATE_NAMES, zip(*self.full, strict=True), strict=False)
        )
        for rates in self.partial:
            for name in RATE_NAMES:
                value = rates.get(name)
                if value is not None:
                    columns[name] = [*columns.get(name, ()), value]
        return columns


class ChannelTotals:
    """The channels of one poll, fed one connection at a time."""

    def __init__(self) -> None:
        self._channels: dict[str, _Channel] = {}

    def add(self, connection: Mapping[str, Any], rates: Mapping[str, float] | None) -> None:
        channel_id = connection.get("channel_id")
        if type(channel_id) is not str or not channel_id:
            return
        channel = self._channels.get(channel_id)
        if channel is None:
            channel = self._channels[channel_id] = _Channel()
        channel.connections += 1
        network = connection.get("network_status")
        if type(network) is dict:
            level = network.get(UNSTABLE_LEVEL)
            if type(level) is int and (
                channel.unstable_level is None or level > channel.unstable_level
            ):
                channel.unstable_level = level
        if rates:
            try:
                channel.full.append(_ALL_RATES(rates))
            except KeyError:
                channel.partial.append(rates)

    def summaries(self) -> list[dict[str, Any]]:
        """One document per channel (see the module's description)."""
        out = []
        for channel_id, channel in self._channels.items():
            doc: dict[str, Any] = {
                "channel_id": channel_id,
                "connections": channel.connections,
                "rated_connections": len(channel.full) + len(channel.partial),
            }
            values = channel.values()
            if values:
                doc["rates"] = {name: math.fsum(values[name]) for name in values}
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
