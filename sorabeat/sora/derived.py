"""What sorabeat derives from a host's GetStatsAllConnections polls: each connection's rates
(added to its event as ``rates``) and, when the ``channels`` metricset is on, one summary
per channel. One ``Derivation`` per host lives as long as its poller; each poll gets a
``DerivedPoll``, the connections reader's ``derive`` callback, committed only once the
whole response was read."""

from __future__ import annotations

from typing import Any

import orjson

from sorabeat.sora.channels import ChannelTotals
from sorabeat.sora.connections import Document
from sorabeat.sora.rates import RatePoll, RateTracker, as_rates

RATES = "rates"  # sora.connections.rates


class DerivedPoll:
    def __init__(self, rates: RatePoll, channels: ChannelTotals | None, in_events: bool) -> None:
        self.rate_poll = rates
        self.channels = channels
        self.in_events = in_events

    def __call__(self, connection: dict[str, Any]) -> dict[str, Any] | None:
        rates = self.rate_poll.row(connection)
        if self.channels is not None:
            self.channels.add(connection, rates)
        return {RATES: as_rates(rates)} if rates is not None and self.in_events else None

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
