"""Kibana's answers read without I/O (status, import), version compatibility, and where
the credentials and TLS settings for Kibana come from."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sorabeat.es.settings import ElasticsearchSettings
from sorabeat.kibana import versions
from sorabeat.kibana.connection import resolve
from sorabeat.kibana.responses import (
    KibanaAuthError,
    KibanaError,
    read_import,
    read_status,
)
from sorabeat.kibana.settings import KibanaSettings, KibanaSpace
from sorabeat.tls import TLSSettings

JSON = "application/json; charset=utf-8"


def status_body(number: str = "8.15.0", level: str = "available") -> bytes:
    return orjson.dumps(
        {
            "name": "kb",
            "version": {"number": number, "build_hash": "x", "build_snapshot": False},
            "status": {"overall": {"level": level}},
        }
    )


# ------------------------------------------------------------------ status


def test_status_gives_version_and_level() -> None:
    status = read_status(200, JSON, status_body("8.15.2-SNAPSHOT", "degraded"))
    assert status.version == (8, 15, 2)
    assert status.version_text == "8.15.2-SNAPSHOT"
    assert status.level == "degraded"


def test_status_of_kibana_7_reads_state() -> None:
    body = orjson.dumps(
        {"version": {"number": "7.17.9"}, "status": {"overall": {"state": "green"}}}
    )
    status = read_status(200, JSON, body)
    assert (status.version, status.level) == ((7, 17, 9), "green")


def test_unavailable_kibana_still_tells_its_version() -> None:
    status = read_status(503, JSON, status_body(level="unavailable"))
    assert status.level == "unavailable"


@pytest.mark.parametrize(
    ("status", "body", "kind", "text"),
    [
        (
            401,
            b'{"statusCode":401,"error":"Unauthorized","message":"[security_exception]: missing"}',
            KibanaAuthError,
            "refused the credentials (401): [security_exception]: missing",
        ),
        (403, b'{"statusCode":403,"error":"Forbidden","message":"no"}', KibanaError, "(403): no"),
        (
            404,
            b'{"statusCode":404,"error":"Not Found","message":"Not Found"}',
            KibanaError,
            "setup.kibana.path",
        ),
        (
            200,
            b'{"status":{"overall":{"level":"available"}}}',
            KibanaError,
            "did not tell its version",
        ),
        (200, b'{"version":{"number":"eight"}}', KibanaError, "'eight' is not a version"),
        (
            502,
            b"<html>Bad Gateway</html>",
            KibanaError,
            "not JSON (text/html: '<html>Bad Gateway</html>')",
        ),
        (
            500,
            b'{"statusCode":500,"error":"Internal Server Error","message":"boom"}',
            KibanaError,
            "answered 500: boom",
        ),
    ],
)
def test_status_problems_are_named(status: int, body: bytes, kind: type, text: str) -> None:
    ctype = "text/html" if body.startswith(b"<") else JSON
    with pytest.raises(kind) as caught:
        read_status(status, ctype, body)
    assert text in str(caught.value)
    assert "\n" not in str(caught.value)


# ------------------------------------------------------------------ import


def test_import_success() -> None:
    body = orjson.dumps(
        {"success": True, "successCount": 2, "successResults": [{"id": "a", "type": "lens"}] * 2}
    )
    result = read_import(200, JSON, body)
    assert (result.success, result.success_count, result.errors) == (True, 2, ())


def test_import_errors_are_described_per_object() -> None:
    body = orjson.dumps(
        {
            "success": False,
            "successCount": 1,
            "errors": [
                {
                    "id": "v1",
                    "type": "lens",
                    "title": "Sora: a",
                    "error": {"type": "conflict", "destinationId": "x9"},
                },
                {
                    "id": "v2",
                    "type": "lens",
                    "meta": {"title": "Sora: b"},
                    "error": {
                        "type": "missing_references",
                        "references": [{"type": "index-pattern", "id": "dv"}],
                    },
                },
                {
                    "id": "v3",
                    "type": "lens",
                    "title": "c",
                    "error": {"type": "unknown", "statusCode": 400, "message": "Document\n newer"},
                },
                {"id": "v4", "type": "canvas", "error": {"type": "unsupported_type"}},
                {
                    "id": "v5",
                    "type": "lens",
                    "error": {
                        "type": "ambiguous_conflict",
                        "destinations": [{"id": "d1"}, {"id": "d2"}],
                    },
                },
            ],
        }
    )
    result = read_import(200, JSON, body)
    assert (result.success, result.success_count) == (False, 1)
    described = [e.describe() for e in result.errors]
    assert (
        described[0]
        == 'lens v1 "Sora: a": conflict: another object of the same origin (object x9) exists and was not overwritten'
    )
    assert described[1].startswith('lens v2 "Sora: b": missing_references: ')
    assert described[1].endswith("index-pattern dv")
    assert described[2] == 'lens v3 "c": unknown: 400: Document newer'
    assert (
        described[3]
        == "canvas v4: unsupported_type: this Kibana does not know the saved-object type"
    )
    assert described[4].endswith("d1, d2")


@pytest.mark.parametrize(
    ("status", "body", "text"),
    [
        (
            400,
            b'{"statusCode":400,"error":"Bad Request","message":"Request must contain a kbn-xsrf header."}',
            "kbn-xsrf",
        ),
        (
            413,
            b'{"statusCode":413,"error":"Request Entity Too Large","message":"too big"}',
            "maxImportPayloadBytes",
        ),
        (200, b'{"success":true}', "lacks success/successCount"),
        (200, b'{"success":true,"successCount":true}', "lacks success/successCount"),
        (200, b'{"success":false,"successCount":0,"errors":{}}', "errors is not a list"),
        (200, b"[1,2]", "JSON list, not an object"),
        (200, b"", "not JSON"),
    ],
)
def test_import_problems_are_named(status: int, body: bytes, text: str) -> None:
    with pytest.raises(KibanaError, match=text.replace(".", r"\.")):
        read_import(status, JSON, body)


ERROR_KINDS = st.sampled_from(
    ["conflict", "missing_references", "unknown", "unsupported_type", "odd"]
)
ENTRY = st.fixed_dictionaries(
    {
        "id": st.text(min_size=1, max_size=10),
        "type": st.sampled_from(["lens", "dashboard", "index-pattern"]),
        "title": st.text(max_size=20),
        "error": st.fixed_dictionaries({"type": ERROR_KINDS}),
    }
)


@settings(max_examples=200)
@given(entries=st.lists(ENTRY, max_size=10), count=st.integers(0, 400))
def test_any_error_list_is_reported_entry_by_entry(
    entries: list[dict[str, Any]], count: int
) -> None:
    body = orjson.dumps({"success": not entries, "successCount": count, "errors": entries})
    result = read_import(200, JSON, body)
    assert result.success_count == count
    assert [(e.id, e.type, e.title, e.kind) for e in result.errors] == [
        (x["id"], x["type"], x["title"], x["error"]["type"]) for x in entries
    ]
    for error in result.errors:
        assert error.id in error.describe() and error.kind in error.describe()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)
ANSWERS = st.binary(max_size=200) | st.builds(orjson.dumps, JSON_VALUES)


@settings(max_examples=300)
@given(status=st.integers(100, 599), body=ANSWERS)
def test_any_answer_is_a_result_or_a_kibana_error(status: int, body: bytes) -> None:
    messages = []
    for reader in (read_import, read_status):
        try:
            reader(status, JSON, body)
        except KibanaError as exc:  # anything else escaping fails the test
            messages.append(exc.message)
    assert all(m and "\n" not in m for m in messages)


# ------------------------------------------------------------------ versions


@pytest.mark.parametrize(
    ("version", "verdict"),
    [
        ("8.8.2", "too old"),
        ("7.17.0", "too old"),
        ("8.9.0", None),
        ("8.15.0", None),
        ("8.19.3", None),
        ("9.1.0", None),
        ("10.0.0", "too new"),
    ],
)
def test_which_kibana_can_import(version: str, verdict: str | None) -> None:
    problem = versions.incompatibility(versions.parse(version))
    assert (problem is None) == (verdict is None)
    if verdict:
        assert verdict in problem  # type: ignore[operator]
        assert version in problem  # type: ignore[operator]


def test_minimum_is_the_newest_claimed_migration() -> None:
    assert versions.MINIMUM == (8, 9, 0)
    assert versions.parse("8") == (8, 0, 0)
    with pytest.raises(ValueError, match="not a version"):
        versions.parse("8.x")


# ------------------------------------------------------------------ connection


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_kibana_credentials_win() -> None:
    es = ElasticsearchSettings(hosts=["es:9200"], username="es", password="espw")
    conn = resolve(KibanaSettings(username="kb", password="kbpw"), es)
    assert (conn.authorization, conn.credentials_from) == (basic("kb", "kbpw"), "setup.kibana")


def test_es_credentials_are_the_fallback() -> None:
    es = ElasticsearchSettings(hosts=["es:9200"], username="es", password="espw")
    conn = resolve(KibanaSettings(), es)
    assert (conn.authorization, conn.credentials_from) == (
        basic("es", "espw"),
        "output.elasticsearch",
    )
    keyed = resolve(KibanaSettings(), ElasticsearchSettings(hosts=["es"], api_key="id:key"))
    assert keyed.authorization == "ApiKey " + base64.b64encode(b"id:key").decode()
    disabled = ElasticsearchSettings(enabled=False, username="es", password="espw")
    assert resolve(KibanaSettings(), disabled).authorization is None


def test_no_credentials_anywhere_is_anonymous() -> None:
    conn = resolve(KibanaSettings(), None)
    assert (conn.authorization, conn.credentials_from) == (None, None)


def test_url_credentials_and_space_and_path() -> None:
    conn = resolve(
        KibanaSettings(
            host="https://u:p%40ss@kb.example:8443", path="/kibana", space=KibanaSpace("ops")
        ),
        None,
    )
    assert conn.authorization == basic("u", "p@ss")
    assert conn.url.base == "https://kb.example:8443/kibana"
    assert conn.api("/api/saved_objects/_import") == "/s/ops/api/saved_objects/_import"
    plain = resolve(KibanaSettings(host="kb", path="kibana/"), None)
    assert plain.url.base == "http://kb:5601/kibana"
    assert plain.api("/api/x") == "/api/x"


def test_es_ssl_is_used_only_when_kibana_sets_none() -> None:
    es_ssl = TLSSettings(certificate_authorities=["/ca.pem"])
    es = ElasticsearchSettings(hosts=["es"], ssl=es_ssl)
    assert resolve(KibanaSettings(), es).ssl == es_ssl
    assert resolve(KibanaSettings(), es).ssl_from == "output.elasticsearch.ssl"
    own = TLSSettings(verification_mode="none")
    assert resolve(KibanaSettings(ssl=own), es).ssl == own


def test_settings_problems() -> None:
    assert KibanaSettings(api_key="a:b", username="u").problems() == [
        ("api_key", "set either api_key or username/password, not both")
    ]
    assert [k for k, _ in KibanaSettings(host="ftp://kb").problems()] == ["host"]
