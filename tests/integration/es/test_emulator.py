"""The emulator itself, checked over HTTP against the documented ES behaviour (reference
D3): a test double is only as good as its fidelity."""

from __future__ import annotations

import gzip
import re
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from tools.emulators.elasticsearch import DATA_STREAM_OP, ElasticsearchEmulator, filter_path

pytestmark = pytest.mark.timeout(60)
NDJSON = {"Content-Type": "application/x-ndjson"}


@pytest.fixture
async def client() -> AsyncIterator[tuple[ElasticsearchEmulator, httpx.AsyncClient]]:
    async with ElasticsearchEmulator() as es, httpx.AsyncClient(base_url=es.url) as c:
        yield es, c


def lines(*objects: object) -> bytes:
    return b"".join(orjson.dumps(o) + b"\n" for o in objects)


async def test_root_and_product_header(
    client: tuple[ElasticsearchEmulator, httpx.AsyncClient],
) -> None:
    _, c = client
    r = await c.get("/")
    assert r.headers["x-elastic-product"] == "Elasticsearch"
    assert r.json()["version"]["number"] == "8.15.0"
    assert (await c.head("/")).status_code == 200


async def test_bulk_item_semantics(client: tuple[ElasticsearchEmulator, httpx.AsyncClient]) -> None:
    es, c = client
    body = (
        lines(
            {"create": {"_index": "i", "_id": "1"}},
            {"n": 1},
            {"create": {"_index": "i", "_id": "1"}},
            {"n": 2},
            {"index": {"_index": "i", "_id": "1"}},
            {"n": 3},
            {"index": {"_index": "i"}},
            {"n": "text"},
            {"delete": {"_index": "i", "_id": "nope"}},
            {"create": {"_index": "Upper"}},
            {"n": 1},
            {"create": {"_index": "i", "pipeline": "missing"}},
            {"n": 1},
            {"create": {"_index": "i"}},
        )
        + b"{not json\n"
    )  # an unparseable source line is a per-item 400
    r = await c.post("/_bulk", content=body, headers=NDJSON)
    assert r.status_code == 200
    data = r.json()
    assert data["errors"] is True
    statuses = [next(iter(item.values()))["status"] for item in data["items"]]
    assert statuses == [201, 409, 200, 400, 404, 400, 400, 400]
    errors = [next(iter(i.values())).get("error", {}).get("type") for i in data["items"]]
    assert errors[1] == "version_conflict_engine_exception"
    assert errors[3] == "document_parsing_exception"  # "text" into the long seen first
    assert errors[5] == "invalid_index_name_exception"
    assert errors[7] == "mapper_parsing_exception"
    assert es.id_counts("i")["1"] == 2


async def test_request_level_errors(
    client: tuple[ElasticsearchEmulator, httpx.AsyncClient],
) -> None:
    es, c = client
    ok = lines({"create": {"_index": "i"}}, {"a": 1})
    assert (await c.post("/_bulk", content=ok[:-1], headers=NDJSON)).status_code == 400
    bad_action = lines({"upsert": {"_index": "i"}}, {"a": 1})
    r = await c.post("/_bulk", content=bad_action, headers=NDJSON)
    assert r.status_code == 400
    assert "expected one of [create, delete, index, update]" in r.text
    r = await c.post("/_bulk", content=ok, headers={"Content-Type": "text/plain"})
    assert r.status_code == 406
    es.max_content_length = 10
    assert (await c.post("/_bulk", content=ok, headers=NDJSON)).status_code == 413
    es.max_content_length = 1 << 20
    gz = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    r = await c.post("/_bulk", content=gzip.compress(ok), headers=gz)
    assert r.status_code == 200
    assert es.count("i") == 1


async def test_filter_path(client: tuple[ElasticsearchEmulator, httpx.AsyncClient]) -> None:
    _, c = client
    body = lines(
        {"create": {"_index": "i", "_id": "x"}},
        {"a": 1},
        {"create": {"_index": "i", "_id": "x"}},
        {"a": 1},
    )
    r = await c.post(
        "/_bulk",
        params={"filter_path": "errors,items.*.error,items.*.status"},
        content=body,
        headers=NDJSON,
    )
    data = r.json()
    assert data["errors"] is True
    assert data["items"][0] == {"create": {"status": 201}}
    assert set(data["items"][1]["create"]) == {"status", "error"}
    assert filter_path({"a": {"b": 1, "c": 2}, "d": 3}, "a.b") == {"a": {"b": 1}}
    assert filter_path({"a": {"x": {"y": 1}}}, "**.y") == {"a": {"x": {"y": 1}}}


async def test_auth_challenge() -> None:
    async with ElasticsearchEmulator(users={"u": "p"}) as es, httpx.AsyncClient() as c:
        r = await c.get(es.url)
        assert r.status_code == 401
        assert "Basic" in r.headers["www-authenticate"]
        assert (await c.get(es.url, auth=("u", "p"))).status_code == 200
        assert (await c.get(es.url, auth=("u", "x"))).status_code == 401


async def test_templates_and_data_streams(
    client: tuple[ElasticsearchEmulator, httpx.AsyncClient],
) -> None:
    es, c = client
    assert (await c.head("/_index_template/t")).status_code == 404
    assert (await c.put("/_data_stream/logs-x")).status_code == 400
    template = {
        "index_patterns": ["logs-*"],
        "data_stream": {},
        "template": {"mappings": {"properties": {"n": {"type": "long"}}}},
    }
    assert (await c.put("/_index_template/t", json=template)).status_code == 200
    assert (await c.head("/_index_template/t")).status_code == 200
    body = lines(
        {"index": {"_index": "logs-x"}},
        {"@timestamp": "2026-01-01", "n": 1},
        {"create": {"_index": "logs-x"}},
        {"n": 1},
        {"create": {"_index": "logs-x"}},
        {"@timestamp": "2026-01-01", "n": "x"},
        {"create": {"_index": "logs-x"}},
        {"@timestamp": "2026-01-01", "n": 2},
    )
    data = (await c.post("/_bulk", content=body, headers=NDJSON)).json()
    statuses = [next(iter(i.values()))["status"] for i in data["items"]]
    assert statuses == [400, 400, 400, 201]
    assert data["items"][0]["index"]["error"]["reason"] == DATA_STREAM_OP
    backing = data["items"][3]["create"]["_index"]
    assert re.fullmatch(r"\.ds-logs-x-\d{4}\.\d{2}\.\d{2}-000001", backing)
    assert es.indices[backing].data_stream
    assert es.data_streams["logs-x"].indices == [backing]
    assert es.count("logs-x") == 1 and es.count("logs-*") == 1


async def test_data_stream_api_and_write_rules(
    client: tuple[ElasticsearchEmulator, httpx.AsyncClient],
) -> None:
    es, c = client
    assert (await c.get("/_data_stream/m-x")).status_code == 404
    policy = {"policy": {"phases": {"hot": {"actions": {"rollover": {"max_age": "30d"}}}}}}
    assert (await c.put("/_ilm/policy/p", json={"phases": {}})).status_code == 400
    assert (
        await c.put("/_ilm/policy/p", json={"policy": {"phases": {"x": {}}}})
    ).status_code == 400
    assert (await c.put("/_ilm/policy/p", json=policy)).status_code == 200
    template = {
        "index_patterns": ["m-x"],
        "data_stream": {},
        "template": {"settings": {"index": {"lifecycle": {"name": "p"}}}},
    }
    assert (await c.put("/_index_template/m", json=template)).status_code == 200
    assert (await c.put("/_data_stream/m-x")).status_code == 200
    assert (await c.put("/_data_stream/m-x")).json()["error"]["type"] == (
        "resource_already_exists_exception"
    )
    (stream,) = (await c.get("/_data_stream/m-x")).json()["data_streams"]
    assert stream["name"] == "m-x"
    assert stream["generation"] == 1
    assert stream["template"] == "m"
    assert stream["ilm_policy"] == "p"
    assert stream["timestamp_field"] == {"name": "@timestamp"}
    backing = stream["indices"][0]["index_name"]
    got = (await c.get("/_ilm/policy/p")).json()["p"]
    assert got["in_use_by"] == {
        "indices": [backing],
        "data_streams": ["m-x"],
        "composable_templates": ["m"],
    }
    assert got["version"] == 1
    doc = {"@timestamp": "2026-01-01T00:00:00Z", "n": 1}
    # the index API: op_type decides; a data stream takes creates only
    r = await c.put("/m-x/_doc/1", json=doc)
    assert r.status_code == 400 and r.json()["error"]["reason"] == DATA_STREAM_OP
    r = await c.put("/m-x/_doc/1", params={"op_type": "create"}, json=doc)
    assert r.status_code == 201 and r.json()["_index"] == backing
    assert (await c.put("/m-x/_create/1", json=doc)).status_code == 409
    assert (await c.post("/m-x/_doc", json=doc)).status_code == 201  # an auto id is a create
    assert (await c.put("/m-x/_doc/2", params={"op_type": "x"}, json=doc)).status_code == 400
    # a plain index takes both, and index overwrites
    assert (await c.put("/plain/_doc/1", json=doc)).status_code == 201
    assert (await c.put("/plain/_doc/1", json=doc)).status_code == 200
    assert (await c.put("/plain/_doc/1", params={"op_type": "create"}, json=doc)).status_code == 409
    body = lines(
        {"delete": {"_index": "m-x", "_id": "1"}},
        {"update": {"_index": "m-x", "_id": "1"}},
        {"doc": {}},
    )
    data = (await c.post("/_bulk", content=body, headers=NDJSON)).json()
    assert [next(iter(i.values()))["status"] for i in data["items"]] == [400, 400]
    assert (await c.get("/m-x/_count")).json()["count"] == 2
    assert (await c.get("/_data_stream")).json()["data_streams"][0]["name"] == "m-x"
    rolled = (await c.post("/m-x/_rollover")).json()
    assert rolled["old_index"] == backing and rolled["new_index"].endswith("-000002")
    r = await c.post("/m-x/_doc", json=doc)
    assert r.json()["_index"] == rolled["new_index"]  # writes go to the new write index
    assert (await c.get("/m-x/_count")).json()["count"] == 3  # reads span every generation
    assert (await c.get("/_data_stream/m-x")).json()["data_streams"][0]["generation"] == 2
    assert (await c.post("/nope/_rollover")).status_code == 400
    assert (await c.delete("/_data_stream/m-x")).status_code == 200
    assert backing not in es.indices and rolled["new_index"] not in es.indices
    assert (await c.delete("/_ilm/policy/p")).status_code == 200
    assert (await c.get("/_ilm/policy/p")).status_code == 404


async def test_composable_templates_of_one_priority_must_not_overlap(
    client: tuple[ElasticsearchEmulator, httpx.AsyncClient],
) -> None:
    es, c = client
    ok = await c.put("/_index_template/a", json={"index_patterns": ["logs-1-*"], "priority": 5})
    assert ok.status_code == 200
    # same priority, a pattern some index matches both: refused as Elasticsearch does
    r = await c.put("/_index_template/b", json={"index_patterns": ["logs-*-x"], "priority": 5})
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "illegal_argument_exception"
    assert "existing templates [a]" in r.json()["error"]["reason"]
    assert "b" not in es.templates
    for other in (
        {"index_patterns": ["logs-*-x"], "priority": 6},  # another priority
        {"index_patterns": ["logs-2-*"], "priority": 5},  # disjoint
    ):
        assert (await c.put("/_index_template/c", json=other)).status_code == 200
        await c.delete("/_index_template/c")
    # replacing a template is not an overlap with itself
    again = {"index_patterns": ["logs-1-*", "logs-1"], "priority": 5}
    assert (await c.put("/_index_template/a", json=again)).status_code == 200
