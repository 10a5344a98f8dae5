"""Against osmem-server, an independent OpenSearch-compatible server (plain-index mode):
end-to-end counts with ``_refresh`` + ``_count``, the template's mappings accepted by a
real mapper, and the classifier deciding as it does against our emulator."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import orjson
import osmem_server
import pytest

from sorabeat.es.bulk import ActionBuilder, bulk_body
from sorabeat.es.client import ElasticsearchHost
from sorabeat.es.format import EventFormat
from sorabeat.es.hosts import parse_host_url
from sorabeat.es.index_management import load_template
from sorabeat.es.output import agent_fields
from sorabeat.es.response import Item, Request, classify
from sorabeat.es.settings import TemplateSettings
from sorabeat.monitoring.registry import Registry
from tests.es_support import AGENT, es_settings, make_events, new_output, publish_all
from tests.sora_samples import sample_events
from tools.emulators.elasticsearch import ElasticsearchEmulator

pytestmark = pytest.mark.timeout(180)
INDEX = "sorabeat-0.1.0-2026.01.02"


@contextlib.asynccontextmanager
async def osmem() -> AsyncIterator[str]:
    binary = osmem_server.resolve_binary()
    proc = await asyncio.create_subprocess_exec(
        binary,
        "--addr",
        "127.0.0.1:0",
        "--no-ja",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        ready = orjson.loads(await asyncio.wait_for(proc.stdout.readline(), 30))
        yield str(ready["url"])
    finally:
        if proc.returncode is None:
            proc.kill()
        await asyncio.wait_for(proc.wait(), 10)


async def count(url: str, index: str) -> int:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        (await client.post(f"/{index}/_refresh")).raise_for_status()
        response = await client.get(f"/{index}/_count")
        response.raise_for_status()
        return int(response.json()["count"])


async def test_end_to_end_count_through_the_sink() -> None:
    async with osmem() as url:
        lines: list[str] = []
        settings = es_settings(url, bulk_max_size=500, worker=2)
        await load_template(settings, TemplateSettings(), AGENT, lines.append)
        assert any("Loaded index template sorabeat-0.1.0" in line for line in lines)
        metrics = Registry()
        out = new_output(settings, metrics)
        events = make_events(3000)
        samples = sample_events()
        await publish_all(out, [*events, *samples])
        await out.close()
        # every event is there once; the template's mappings took every generation's sample
        assert await count(url, INDEX) == len(events) + len(samples)
        assert metrics.total("output.events.acked") == len(events) + len(samples)
        assert metrics.total("output.events.dropped") == 0


async def _scenario(url: str) -> list[Item]:
    """A 409 duplicate (same deterministic id twice) and a 400 type conflict."""
    settings = es_settings(url, compression_level=1)
    host = ElasticsearchHost(parse_host_url(url), settings)
    try:
        server = await host.connect()
        builder = ActionBuilder(
            EventFormat("scenario-%{+yyyy.MM.dd}", agent_fields(AGENT)), None, server
        )
        first = make_events(1, document_ids=True)
        conflict = make_events(1, start=1, document={"seq": "not a number"})
        events = [*first, *first, *conflict, *make_events(1, start=2)]
        prepared, rejected = builder.prepare_all(events)
        assert not rejected
        kinds: list[Item] = []
        for batch in ([0], [1, 2, 3]):
            reply = await host.bulk(bulk_body(prepared, batch))
            verdict = classify(reply.status, reply.body, [prepared.ops[i] for i in batch])
            assert verdict.kind is Request.ITEMS, verdict
            kinds += [item.kind for item in verdict.items]
        return kinds
    finally:
        await host.close()


async def test_classifier_decides_alike_on_osmem_and_the_emulator() -> None:
    async with osmem() as url:
        real = await _scenario(url)
    async with ElasticsearchEmulator(mapping_error_type="mapper_parsing_exception") as es:
        emulated = await _scenario(es.url)
    assert real == emulated == [Item.OK, Item.DUPLICATE, Item.PERMANENT, Item.OK]
