"""Where ``sorabeat top`` gets its numbers: the Sora input's own pollers (metricsets
``stats`` and ``channels``, so rates and channel sums are exactly what sorabeat ships),
polled together once per round, their events grouped by node."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Sequence
from contextlib import AsyncExitStack
from types import TracebackType

import orjson

from sorabeat import __version__
from sorabeat.credentials import SecretScrubber
from sorabeat.event import AgentInfo, EnvelopeSettings
from sorabeat.sora.input import SoraInput, http_client
from sorabeat.sora.poller import MetricsetPoller
from sorabeat.sora.settings import MetricsetName, SoraModuleSettings
from sorabeat.top.view import NodeView, node_view

METRICSETS: tuple[MetricsetName, ...] = ("stats", "channels")


class _Unused:
    """The pollers' sink: top only reads what ``poll_once`` returns."""

    async def append(self, events: Sequence[bytes]) -> int:
        return len(events)


class TopSource:
    def __init__(
        self, modules: Sequence[SoraModuleSettings], scrubber: SecretScrubber | None = None
    ) -> None:
        hostname = socket.gethostname()
        agent = AgentInfo(
            name=hostname, hostname=hostname, id="", ephemeral_id="", version=__version__
        )
        self.modules = [
            dataclasses.replace(m, metricsets=list(METRICSETS)) for m in modules if m.enabled
        ]
        # the default (metricbeat 8) event shape, whatever the configuration ships
        self.input = SoraInput(
            self.modules, EnvelopeSettings(agent=agent), _Unused(), scrubber=scrubber
        )
        self.addresses: list[str] = []
        self._pollers: list[MetricsetPoller] = []
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> TopSource:
        clients = [await self._stack.enter_async_context(http_client(m)) for m in self.modules]
        self._pollers = self.input.pollers(clients)
        self.addresses = list(dict.fromkeys(p.host.address for p in self._pollers))
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    async def poll(self) -> list[NodeView]:
        """One round: every node's stats and channels, polled at once."""
        results = await asyncio.gather(*(p.poll_once() for p in self._pollers))
        events: dict[str, list[dict[str, object]]] = {a: [] for a in self.addresses}
        for poller, encoded in zip(self._pollers, results, strict=True):
            events[poller.host.address].extend(orjson.loads(e) for e in encoded)
        return [node_view(address, events[address]) for address in self.addresses]
