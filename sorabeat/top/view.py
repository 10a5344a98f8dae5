"""What ``sorabeat top`` shows of one node, read from one round of its events. Pure.

The events are the Sora input's own (metricbeat 8 shape): the ``stats`` event gives the
connection count and the Erlang VM run queue aggregates, the ``channels`` events give one
row each; an error event of either makes the node a failed one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ChannelRow:
    channel_id: str
    connections: int
    bits_in: float | None  # None: no connection of the channel had rates yet
    bits_out: float | None
    nacks: float | None  # NACKs per second, both ways
    plis: float | None
    unstable_level: int | None


@dataclass(frozen=True)
class NodeView:
    address: str
    error: str | None = None  # the node failed this round: why
    connections: int | None = None
    run_queue_max: float | None = None
    run_queue_imbalance: float | None = None
    channels: list[ChannelRow] = field(default_factory=list)

    @property
    def bits_in(self) -> float | None:
        return _sum(c.bits_in for c in self.channels)

    @property
    def bits_out(self) -> float | None:
        return _sum(c.bits_out for c in self.channels)


def _sum(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _pair(rates: Mapping[str, Any], what: str) -> float | None:
    received = _number(rates.get(f"received_{what}_per_second"))
    sent = _number(rates.get(f"sent_{what}_per_second"))
    return None if received is None and sent is None else (received or 0.0) + (sent or 0.0)


def channel_row(doc: Mapping[str, Any]) -> ChannelRow:
    """A row from one ``sora.channels`` document."""
    rates = doc.get("rates")
    rates = rates if isinstance(rates, dict) else {}
    worst = doc.get("max")
    level = worst.get("unstable_level") if isinstance(worst, dict) else None
    return ChannelRow(
        channel_id=str(doc.get("channel_id", "?")),
        connections=int(doc.get("connections") or 0),
        bits_in=_number(rates.get("received_bits_per_second")),
        bits_out=_number(rates.get("sent_bits_per_second")),
        nacks=_pair(rates, "nacks"),
        plis=_pair(rates, "plis"),
        unstable_level=level if isinstance(level, int) and not isinstance(level, bool) else None,
    )


def node_view(address: str, events: Iterable[Mapping[str, Any]]) -> NodeView:
    """The node as one round of its events shows it."""
    errors: list[str] = []
    connections = run_queue_max = imbalance = None
    channels: list[ChannelRow] = []
    for event in events:
        error = event.get("error")
        if isinstance(error, dict):
            errors.append(str(error.get("message", "failed")))
            continue
        sora = event.get("sora") or {}
        stats = sora.get("stats")
        if isinstance(stats, dict):
            ongoing = stats.get("total_ongoing_connections")
            connections = ongoing if isinstance(ongoing, int) else None
            # groups Sora may send as something else (a list of objects passes the type check)
            erlang_vm = stats.get("erlang_vm")
            vm = erlang_vm.get("statistics") if isinstance(erlang_vm, dict) else None
            vm = vm if isinstance(vm, dict) else {}
            run_queue_max = _number(vm.get("run_queue_lengths_max"))
            imbalance = _number(vm.get("run_queue_lengths_imbalance"))
        channel = sora.get("channels")
        if isinstance(channel, dict):
            channels.append(channel_row(channel))
    if errors:
        return NodeView(address, error=errors[0])
    if connections is None:
        connections = sum(c.connections for c in channels)
    return NodeView(
        address,
        connections=connections,
        run_queue_max=run_queue_max,
        run_queue_imbalance=imbalance,
        channels=channels,
    )
