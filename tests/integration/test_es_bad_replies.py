"""Replies no Elasticsearch sends but a broken proxy can: the output retries, it never stops
the pipeline (publish raises only for programming errors)."""

from __future__ import annotations

import orjson

from sorabeat.monitoring.registry import Registry
from tests.es_support import es_settings, make_events, new_output, publish_all
from tools.emulators.scripted_http import Request, ScriptedServer

ROOT = orjson.dumps(
    {
        "name": "n",
        "cluster_name": "c",
        "version": {"number": "8.15.0"},
        "tagline": "You Know, for Search",
    }
)


def reply(status: int, body: bytes, extra: str = "") -> bytes:
    head = (
        f"HTTP/1.1 {status} OK\r\ncontent-type: application/json\r\n"
        f"x-elastic-product: Elasticsearch\r\ncontent-length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


async def test_a_body_that_does_not_decompress_is_retried() -> None:
    bulk_calls = 0

    async def respond(request: Request) -> bytes:
        nonlocal bulk_calls
        if "_bulk" not in request.path:
            return reply(200, ROOT)
        bulk_calls += 1
        ok = orjson.dumps({"errors": False, "items": [{"create": {"status": 201}}] * 5})
        if bulk_calls == 1:
            return reply(200, ok, "content-encoding: gzip\r\n")  # labelled gzip, but it is not
        return reply(200, ok)

    server = ScriptedServer(respond)
    host, port = await server.start()
    try:
        metrics = Registry()
        out = new_output(es_settings(f"http://{host}:{port}", compression_level=0), metrics)
        await publish_all(out, make_events(5), deadline=30)
        await out.close()
    finally:
        await server.close()
    assert bulk_calls == 2
    assert metrics.total("output.events.acked") == 5


async def test_escape_html_rewrites_the_bytes_sent_not_the_values() -> None:
    bodies: list[bytes] = []

    async def respond(request: Request) -> bytes:
        if "_bulk" not in request.path:
            return reply(200, ROOT)
        bodies.append(request.body)
        return reply(200, orjson.dumps({"errors": False, "items": [{"create": {"status": 201}}]}))

    server = ScriptedServer(respond)
    host, port = await server.start()
    try:
        event = make_events(1, document={"channel_id": "<b>&</b>"})
        out = new_output(
            es_settings(f"http://{host}:{port}", compression_level=0, escape_html=True)
        )
        await publish_all(out, event, deadline=30)
        await out.close()
    finally:
        await server.close()
    (body,) = bodies
    assert b"<b>" not in body and b"\\u003cb\\u003e\\u0026\\u003c/b\\u003e" in body
    source = orjson.loads(body.splitlines()[1])
    assert source["sora"]["connections"]["channel_id"] == "<b>&</b>"
