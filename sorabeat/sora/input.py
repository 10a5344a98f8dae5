"""The Sora input: one poller per module entry, host and metricset, all independent."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from contextlib import AsyncExitStack

import httpx

from sorabeat.credentials import SecretScrubber
from sorabeat.event import EnvelopeSettings, MetricsetEncoder
from sorabeat.monitoring.registry import Registry
from sorabeat.sora.catalog import metricsets_for
from sorabeat.sora.hosts import parse_sora_host
from sorabeat.sora.poller import MetricsetPoller
from sorabeat.sora.settings import SoraModuleSettings
from sorabeat.spool.base import EventSink
from sorabeat.tls import client_context


def http_client(module: SoraModuleSettings) -> httpx.AsyncClient:
    https = any(parse_sora_host(h).https for h in module.hosts)
    verify: ssl.SSLContext | bool = client_context(module.ssl) if module.ssl.active(https) else True
    return httpx.AsyncClient(
        verify=verify,
        timeout=None,  # each poll is bounded as a whole by the module's timeout
        trust_env=False,  # a proxy from the environment must not capture loopback polls
        headers={"user-agent": "sorabeat"},
        auth=(module.username, module.password or "") if module.username else None,
    )


class SoraInput:
    def __init__(
        self,
        modules: Sequence[SoraModuleSettings],
        envelope: EnvelopeSettings,
        sink: EventSink,
        metrics: Registry | None = None,
        scrubber: SecretScrubber | None = None,
    ) -> None:
        self.modules = [m for m in modules if m.enabled]
        # every configured secret: error events quote responses, which may echo them
        self.scrubber = scrubber or SecretScrubber(())
        self.envelope = envelope
        self.sink = sink
        self.metrics = metrics or Registry()

    def _encoder(
        self, module: SoraModuleSettings, address: str, metricset: str
    ) -> MetricsetEncoder:
        return MetricsetEncoder(
            self.envelope,
            metricset=metricset,
            period_s=module.period,
            address=address,
            fields=module.fields,
            fields_under_root=module.fields_under_root,
            tags=module.tags,
        )

    def pollers(self, clients: Sequence[httpx.AsyncClient]) -> list[MetricsetPoller]:
        out = []
        for module, http in zip(self.modules, clients, strict=True):
            for host_text in module.hosts:
                host = parse_sora_host(host_text)
                for metricset in metricsets_for(module.metricsets, host.address):
                    out.append(
                        MetricsetPoller(
                            host=host,
                            metricset=metricset,
                            period=module.period,
                            timeout=module.effective_timeout,
                            max_response_size=module.max_response_size,
                            headers=dict(module.headers),
                            http=http,
                            encoders={
                                name: self._encoder(module, host.address, name)
                                for name in metricset.emits
                            },
                            sink=self.sink,
                            metrics=self.metrics,
                            scrubber=self.scrubber,
                        )
                    )
        return out

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set."""
        async with AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(http_client(m)) for m in self.modules]
            async with asyncio.TaskGroup() as group:
                for poller in self.pollers(clients):
                    group.create_task(poller.run(stop))
