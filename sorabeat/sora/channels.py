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

from sorabeat.sora.rates import QUALITY_RATES, RATE_NAMES, Row

UNSTABLE_LEVEL = "unstable_level"


_QUALITY_FROM = len(RATE_NAMES) - len(QUALITY_RATES)  # QUALITY_RATES is RATE_NAMES' tail
# a channel's rows are kept end to end in one flat list: a column is a slice of it
_STRIDE = len(RATE_NAMES) + 1
_RATE_COLUMNS = tuple(slice(i, None, _STRIDE) for i in range(1, _STRIDE))
_QUALITY_COLUMNS = _RATE_COLUMNS[_QUALITY_FROM:]


class _Channel:
    __slots__ = ("connections", "flat", "partial", "rows", "unstable_level")

    def __init__(self) -> None:
        self.connections = 0
        self.rows = 0  # rated connections with every rate, their Rows end to end in flat
        self.flat: list[float] = []
        self.partial: list[Mapping[str, float]] = []  # rated connections with some rates
        self.unstable_level: int | None = None

    def columns(self) -> dict[str, list[float] | tuple[float, ...]]:
        """Rate name -> its value of each rated connection that has it, RATE_NAMES order."""
        columns: dict[str, list[float] | tuple[float, ...]] = {}
        if self.rows:
            columns.update(zip(RATE_NAMES, map(self.flat.__getitem__, _RATE_COLUMNS), strict=True))
        for rates in self.partial:
            for name in RATE_NAMES:
                value = rates.get(name)
                if value is not None:
                    columns[name] = [*columns.get(name, ()), value]
        return {name: columns[name] for name in RATE_NAMES if name in columns}


class ChannelTotals:
    """The channels of one poll, fed one connection at a time."""

    def __init__(self) -> None:
        self._channels: dict[str, _Channel] = {}

    def add(self, connection: Mapping[str, Any], rates: Row | Mapping[str, float] | None) -> None:
        """Count a connection with its rates (sorabeat.sora.rates: a Row, by name, or None)."""
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
            if type(rates) is tuple:
                channel.rows += 1
                channel.flat += rates
            else:
                channel.partial.append(rates)  # type: ignore[arg-type]

    def summaries(self) -> list[dict[str, Any]]:
        """One document per channel (see the module's description)."""
        out = []
        for channel_id, channel in self._channels.items():
            rows, flat = channel.rows, channel.flat
            doc: dict[str, Any] = {
                "channel_id": channel_id,
                "connections": channel.connections,
                "rated_connections": rows + len(channel.partial),
            }
            maxima: dict[str, float | int]
            if channel.partial:
                columns = channel.columns()
                doc["rates"] = {name: math.fsum(values) for name, values in columns.items()}
                maxima = {name: max(columns[name]) for name in QUALITY_RATES if name in columns}
            elif rows == 1:  # the sum and the maximum of one value are that value
                doc["rates"] = dict(zip(RATE_NAMES, flat[1:], strict=True))
                maxima = dict(zip(QUALITY_RATES, flat[_QUALITY_FROM + 1 :], strict=True))
            elif rows:
                sums = map(math.fsum, map(flat.__getitem__, _RATE_COLUMNS))
                doc["rates"] = dict(zip(RATE_NAMES, sums, strict=True))
                highest = map(max, map(flat.__getitem__, _QUALITY_COLUMNS))
                maxima = dict(zip(QUALITY_RATES, highest, strict=True))
            else:
                maxima = {}
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
