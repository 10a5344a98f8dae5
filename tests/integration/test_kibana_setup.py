"""``sorabeat setup --dashboards`` and ``sorabeat export dashboard`` as real subprocesses
against the Kibana emulator (real HTTP on 127.0.0.1): what is sent (path, space, query,
kbn-xsrf, Basic/ApiKey, a multipart NDJSON file), and how every outcome is reported."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from sorabeat.kibana.assets import build_assets
from sorabeat.kibana.dashboard import DASHBOARD_ID
from tests.es_tls import make_certs
from tools.emulators.elasticsearch import ElasticsearchEmulator
from tools.emulators.kibana import KibanaEmulator

pytestmark = pytest.mark.timeout(120)
CLI = "from sorabeat.cli import main; raise SystemExit(main())"
ASSETS = build_assets()
EXPECTED = {(o["type"], o["id"]) for o in ASSETS.objects()}
COUNT = len(EXPECTED)


async def sorabeat(home: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CLI,
        *args,
        "--path.home",
        str(home),
        "-e",
        cwd=home,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def configure(home: Path, settings: dict[str, Any]) -> None:
    settings = (
        {"output.console": {}, **settings}
        if not any(k.startswith("output.") for k in settings)
        else settings
    )
    (home / "sorabeat.yml").write_text(yaml.safe_dump(settings))
    (home / "sorabeat.yml").chmod(0o600)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_import_into_a_space_with_basic_auth_and_again(tmp_path: Path) -> None:
    async with KibanaEmulator(users={"elastic": "s3cret"}, spaces={"default", "sora"}) as kb:
        configure(
            tmp_path,
            {
                "setup.kibana": {
                    "host": kb.url,
                    "username": "elastic",
                    "password": "s3cret",
                    "space.id": "sora",
                }
            },
        )
        code, out, err = await sorabeat(tmp_path, "setup", "--dashboards")
        assert code == 0, err
        assert f"Connected to Kibana 8.15.0 at {kb.url} (space sora)" in out
        assert f"Imported {COUNT} objects into Kibana (data view sorabeat-*" in out
        assert "index-management" not in out  # only the chosen part ran
        assert kb.problems == []
        assert kb.ids("sora") == EXPECTED
        assert kb.ids("default") == set()
        (call,) = kb.imports
        assert call.query == {"overwrite": "true"}
        assert call.filename.endswith(".ndjson")
        assert call.lines == ASSETS.objects()
        status, imported = kb.requests[0], kb.requests[1]
        assert (status.method, status.path) == ("GET", "/api/status")
        assert (imported.method, imported.path) == ("POST", "/s/sora/api/saved_objects/_import")
        assert imported.headers["kbn-xsrf"] == "true"
        assert imported.headers["authorization"].startswith("Basic ")
        assert "s3cret" not in out + err
        # again: overwrite replaces, nothing is added, nothing conflicts
        code, out, err = await sorabeat(tmp_path, "setup", "--dashboards")
        assert code == 0, err
        assert f"Imported {COUNT} objects" in out
        assert len(kb.objects) == COUNT


async def test_api_key_and_base_path(tmp_path: Path) -> None:
    async with KibanaEmulator(api_keys={"kid:kkey"}, base_path="/kibana") as kb:
        host = kb.url.removesuffix("/kibana")
        configure(
            tmp_path,
            {"setup.kibana": {"host": host, "path": "/kibana", "api_key": "kid:kkey"}},
        )
        code, _out, err = await sorabeat(tmp_path, "setup", "--dashboards")
        assert code == 0, err
        assert kb.ids() == EXPECTED
        assert kb.requests[1].path == "/kibana/api/saved_objects/_import"
        assert kb.requests[1].headers["authorization"] == "ApiKey a2lkOmtrZXk="


async def test_falls_back_to_the_elasticsearch_output_credentials(tmp_path: Path) -> None:
    async with KibanaEmulator(users={"shipper": "espw"}) as kb:
        output = {"hosts": [f"127.0.0.1:{closed_port()}"], "username": "shipper"}
        configure(
            tmp_path,
            {"output.elasticsearch": {**output, "password": "espw"}, "setup.kibana.host": kb.url},
        )
        code, out, err = await sorabeat(tmp_path, "setup", "--dashboards")
        assert code == 0, err
        assert "Using the Elasticsearch output's credentials" in out
        assert kb.ids() == EXPECTED
        configure(
            tmp_path,
            {"output.elasticsearch": {**output, "password": "wrong"}, "setup.kibana.host": kb.url},
        )
        code, out, err = await sorabeat(tmp_path, "setup", "--dashboards")
        assert code == 1
        assert "refused the credentials (401)" in err
        assert "the credentials came from output.elasticsearch" in err
        assert "wrong" not in err + out
        assert "Traceback" not in err


async def test_falls_back_to_the_elasticsearch_output_tls(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    async with KibanaEmulator(ssl_context=certs.server_context()) as kb:
        assert kb.url.startswith("https://")
        es_ssl = {"certificate_authorities": [str(certs.ca_pem)]}
        configure(
            tmp_path,
            {
                "output.elasticsearch": {"hosts": ["127.0.0.1:9"], "ssl": es_ssl},
                "setup.kibana.host": kb.url,
            },
        )
        code, out, err = await sorabeat(tmp_path, "setup", "--dashboards")
        assert code == 0, err
        assert "Using output.elasticsearch.ssl for TLS to Kibana" in out
        assert kb.ids() == EXPECTED
        configure(tmp_path, {"setup.kibana.host": kb.url})  # the system CAs do not know ours
        code, _out, err = await sorabeat(tmp_path, "setup", "--dashboards")
        assert code == 1
        assert "TLS to Kibana" in err and "unknown CA" in err


async def test_missing_credentials_get_a_hint(tmp_path: Path) -> None:
    async with KibanaEmulator(users={"elastic": "pw"}) as kb:
        configure(tmp_path, {"setup.kibana.host": kb.url})
        code, _out, err = await sorabeat(tmp_path, "setup", "--dashboards")
        assert code == 1
        assert (
            "Loading dashboards failed: GET /api/status: Kibana refused the credentials (401)"
            in err
        )
        assert "missing authentication credentials" in err
        assert "no credentials were sent: set setup.kibana.username/password" in err
        assert kb.imports == []
    async with KibanaEmulator(users={"elastic": "pw"}, anonymous_status=True) as kb:
        configure(tmp_path, {"setup.kibana.host": kb.url})
        code, _out, err = await sorabeat(tmp_path, "setup", "--dashboards")
        assert code == 1
        assert "did not tell its version" in err
        assert kb.imports == []


async def test_per_object_errors_are_reported_one_by_one(tmp_path: Path) -> None:
    sent = ASSETS.field_visualizations["sora.connections.rtp.total_sent_byte_size"]
    rtt = ASSETS.field_visualizations["metricset.rtt"]
    forced = {
        sent["id"]: {"type": "conflict", "destinationId": "someone-elses"},
        rtt["id"]: {"type": "unknown", "statusCode": 500, "message": "mapping exploded"},
    }
    async with KibanaEmulator(forced_errors=forced) as kb:
        configure(tmp_path, {"setup.kibana.host": kb.url})
        code, _out, err = await sorabeat(tmp_path, "setup", "--dashboards")
        assert code == 1
        assert f"Kibana imported {COUNT - 2} of {COUNT} objects; 2 failed:" in err
        title = sent["attributes"]["title"]
        assert f'lens {sent["id"]} "{title}": conflict: ' in err
        assert "(object someone-elses)" in err
        assert (
            f'lens {rtt["id"]} "{rtt["attributes"]["title"]}": unknown: 500: mapping exploded'
            in err
        )
        assert len(kb.ids()) == COUNT - 2


async def test_missing_references_are_reported(tmp_path: Path) -> None:
    """A data view Kibana leaves out of the import leaves every visualization without its
    reference."""
    view = ASSETS.data_view
    forced = {view["id"]: {"type": "unsupported_type"}}
    async with KibanaEmulator(forced_errors=forced) as kb:
        configure(tmp_path, {"setup.kibana.host": kb.url})
        code, _out, err = await sorabeat(tmp_path, "setup", "--dashboards")
        assert code == 1
        assert f'index-pattern {view["id"]} "sorabeat-*": unsupported_type: ' in err
        assert f"Kibana imported 0 of {COUNT} objects; {COUNT} failed:" in err
        assert (
            f"missing_references: it references objects that exist neither in Kibana nor in the file: index-pattern {view['id']}"
            in err
        )
        assert f"dashboard {DASHBOARD_ID}" in err
        assert "Traceback" not in err


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("8.8.2", "Kibana 8.8.2 is too old: the dashboards need Kibana 8.9.0 or newer"),
        ("10.0.0", "Kibana 10.0.0 is too new"),
    ],
)
async def test_a_kibana_that_cannot_import_is_refused(
    tmp_path: Path, version: str, message: str
) -> None:
    async with KibanaEmulator(version=version) as kb:
        configure(tmp_path, {"setup.kibana.host": kb.url})
        code, out, err = await sorabeat(tmp_path, "setup", "--dashboards")
        assert code == 1
        assert f"Connected to Kibana {version}" in out
        assert message in err
        assert kb.imports == []


async def test_unreachable_and_non_json(tmp_path: Path) -> None:
    port = closed_port()
    configure(tmp_path, {"setup.kibana.host": f"127.0.0.1:{port}"})
    code, _out, err = await sorabeat(tmp_path, "setup", "--dashboards")
    assert code == 1
    assert f"cannot reach Kibana at http://127.0.0.1:{port}" in err
    assert "Traceback" not in err
    async with KibanaEmulator(non_json=True) as kb:
        configure(tmp_path, {"setup.kibana.host": kb.url})
        code, _out, err = await sorabeat(tmp_path, "setup", "--dashboards")
        assert code == 1
        assert "Kibana answered 502 with a body that is not JSON (text/html" in err


async def test_plain_setup_runs_every_part(tmp_path: Path) -> None:
    async with ElasticsearchEmulator() as es, KibanaEmulator() as kb:
        configure(
            tmp_path, {"output.elasticsearch": {"hosts": [es.url]}, "setup.kibana.host": kb.url}
        )
        code, out, err = await sorabeat(tmp_path, "setup")
        assert code == 0, err
        assert "index-management:" in out and "dashboards:" in out
        assert "Loaded index template" in out
        assert f"Imported {COUNT} objects" in out
        assert kb.ids() == EXPECTED
        # disabled: plain setup skips the dashboards, --dashboards still loads them
        kb.objects.clear()
        configure(
            tmp_path,
            {
                "output.elasticsearch": {"hosts": [es.url]},
                "setup.kibana.host": kb.url,
                "setup.dashboards.enabled": False,
            },
        )
        code, out, err = await sorabeat(tmp_path, "setup")
        assert code == 0, err
        assert "Dashboards loading is disabled (setup.dashboards.enabled: false)" in out
        assert kb.objects == {}
        code, out, err = await sorabeat(tmp_path, "setup", "--dashboards")
        assert code == 0, err
        assert kb.ids() == EXPECTED


async def test_export_dashboard_writes_what_setup_imports(tmp_path: Path) -> None:
    async with KibanaEmulator() as kb:
        configure(tmp_path, {"setup.kibana.host": kb.url, "setup.dashboards.index": "sora-*"})
        code, exported, err = await sorabeat(tmp_path, "export", "dashboard")
        assert code == 0, err
        lines = exported.encode().split(b"\n")
        assert lines[-1] == b""
        objects = [orjson.loads(line) for line in lines[:-1]]
        assert len(objects) == COUNT
        assert objects[0]["attributes"]["title"] == "sora-*"
        code, _out, err = await sorabeat(tmp_path, "setup", "--dashboards")
        assert code == 0, err
        (call,) = kb.imports
        assert call.lines == objects
        assert {(o["type"], o["id"]) for o in objects} == kb.ids()
        code, out, err = await sorabeat(tmp_path, "export", "dashboard", "--dir", "out/kibana")
        assert code == 0, err
        written = tmp_path / "out" / "kibana" / "sorabeat-kibana.ndjson"
        assert f"Wrote {COUNT} objects" in out and "out/kibana/sorabeat-kibana.ndjson" in out
        assert written.read_text() == exported
        json.loads(written.read_text().splitlines()[-1])  # the dashboard line parses
        (tmp_path / "file").write_text("not a directory")
        code, _out, err = await sorabeat(tmp_path, "export", "dashboard", "--dir", "file")
        assert code == 1
        assert "cannot write" in err and "Traceback" not in err


async def test_whole_request_refusals_name_the_setting_to_check(tmp_path: Path) -> None:
    async with KibanaEmulator(max_payload=100_000) as kb:
        configure(tmp_path, {"setup.kibana.host": kb.url})
        code, _out, err = await sorabeat(tmp_path, "setup", "--dashboards")
        assert code == 1
        assert "the file is larger than Kibana accepts (413)" in err
        assert "savedObjects.maxImportPayloadBytes" in err
        configure(tmp_path, {"setup.kibana": {"host": kb.url, "space.id": "nope"}})
        code, _out, err = await sorabeat(tmp_path, "setup", "--dashboards")
        assert code == 1
        assert "not found (404): Saved object [space/nope] not found" in err
        assert "setup.kibana.space.id" in err
        assert kb.objects == {}
