"""What sorabeat derives from a host's GetStatsAllConnections polls: each connection's rates
(added to its event as ``rates``) and, when the ``channels`` metricset is on, one summary
per channel. One ``Derivation`` per host lives as long as its poller; each poll gets a
``DerivedPoll``, the connections reader's ``derive`` callback, committed only once the
whole response was read."""

from __future__ import annotations

from typing import Any

import orjson

from sorabeat.sora.channels import ChannelTotals
from sorabeat.sora.connections import Document, Member
from sorabeat.sora.rates import ROW_NAMES, RatePoll, RateTracker

RATES = "rates"  # sora.connections.rates
_RATES_NAME = b'"' + RATES.encode() + b'":'
# the rates member of a Row, one %b per value (a dict and orjson.dumps cost half as much again)
_ROW_MEMBER = _RATES_NAME + b"{" + b",".join(b'"%s":%%b' % n.encode() for n in ROW_NAMES) + b"}"


class DerivedPoll:
    def __init__(self, rates: RatePoll, channels: ChannelTotals | None, in_events: bool) -> None:
        self.rate_poll = rates
        self.channels = channels
        self.in_events = in_events

    def __call__(self, connection: dict[str, Any]) -> Member | None:
        rates = self.rate_poll.row(connection)
        if self.channels is not None:
            self.channels.add(connection, rates)
        if rates is None or not self.in_events:
            return None
        if type(rates) is tuple:
            # orjson writes each float as it would inside an object: only the names are ours
            return RATES, _ROW_MEMBER % tuple(orjson.dumps(rates)[1:-1].split(b","))
        return RATES, _RATES_NAME + orjson.dumps(rates)

    def channel_documents(self) -> list[Document]:
        """The channel summaries as documents (keyed by channel id, for document ids)."""
        if self.channels is None:
            return []
        return [(s["channel_id"], (orjson.dumps(s),)) for s in self.channels.summaries()]


class Derivation:
    """Rates (and channel summaries) for the polls of one host.

    ``rates_in_events``: add ``rates`` to the connection documents (the ``connections``
    metricset is on); ``channels``: summarize channels (the ``channels`` metricset is on).
    """

    def __init__(self, host: str, *, rates_in_events: bool, channels: bool) -> None:
        self.host = host
        self.rates_in_events = rates_in_events
        self.channels = channels
        self.tracker = RateTracker()

    def begin(self, poll_time_us: int) -> DerivedPoll:
        return DerivedPoll(
            self.tracker.begin(self.host, poll_time_us),
            ChannelTotals() if self.channels else None,
            self.rates_in_events,
        )

    def commit(self, poll: DerivedPoll) -> None:
        self.tracker.commit(poll.rate_poll)
