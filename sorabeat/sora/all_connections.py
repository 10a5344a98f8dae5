"""The ``connections`` and ``channels`` metricsets: both are made from one
GetStatsAllConnections response, so a host with both on is asked once per poll."""

from __future__ import annotations

from sorabeat.sora.connections import ConnectionsReader, InvalidJSONError, ShapeError
from sorabeat.sora.derived import Derivation, DerivedPoll
from sorabeat.sora.field_types import metricset_types
from sorabeat.sora.metricset import NotJSONError, Reading, ResponseError

TARGET = "Sora_20171101.GetStatsAllConnections"


class AllConnectionsReader:
    """Streams the array through a ``ConnectionsReader``; the rates and channel sums of the
    poll are kept (committed) only once the whole response was read."""

    def __init__(self, metricset: AllConnections, derived: DerivedPoll) -> None:
        self.metricset = metricset
        self.derived = derived
        # channels alone read only the ids and a few integers, which they check themselves
        types = metricset_types("connections") if metricset.connections else None
        self.connections = ConnectionsReader(types, derived)

    @property
    def size(self) -> int:
        return self.connections.size

    def feed(self, chunk: bytes) -> None:
        self.connections.feed(chunk)

    def finish(self) -> Reading:
        try:
            documents = self.connections.finish()
        except ShapeError as exc:
            raise ResponseError(f"GetStatsAllConnections {exc}") from None
        except InvalidJSONError as exc:
            raise NotJSONError(str(exc), self.connections.head) from None
        self.metricset.derivation.commit(self.derived)
        reading = Reading({}, list(self.connections.invalid.found.values()))
        if self.metricset.connections:
            reading.documents["connections"] = documents
        if self.metricset.channels:
            reading.documents["channels"] = self.derived.channel_documents()
        return reading


class AllConnections:
    """``connections`` (one event per connection, with its rates), ``channels`` (one event
    per channel), or both from the same response. One per host: it keeps the previous
    poll's counters for the rates."""

    target = TARGET

    def __init__(self, address: str, *, connections: bool, channels: bool) -> None:
        if not (connections or channels):
            raise ValueError("AllConnections needs connections or channels")
        self.connections = connections
        self.channels = channels
        self.name = "connections" if connections else "channels"
        self.emits = tuple(
            name for name, on in (("connections", connections), ("channels", channels)) if on
        )
        self.derivation = Derivation(address, rates_in_events=connections, channels=channels)

    def reader(self, poll_time_us: int) -> AllConnectionsReader:
        return AllConnectionsReader(self, self.derivation.begin(poll_time_us))
