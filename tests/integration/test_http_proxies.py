"""The Elasticsearch output and the Kibana client through a real HTTP proxy (tinyproxy):
plain forwarding, CONNECT for https, proxy credentials in the URL or in proxy_headers, the
proxy environment, and proxy_disable."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from sorabeat.es.settings import ElasticsearchSettings
from sorabeat.kibana.client import KibanaClient
from sorabeat.kibana.connection import resolve
from sorabeat.kibana.responses import KibanaError
from sorabeat.kibana.settings import KibanaSettings
from sorabeat.tls import TLSSettings
from tests.es_support import es_settings, make_events, new_output, publish_all
from tests.es_tls import make_certs
from tests.integration.proxy_servers import tinyproxy
from tools.emulators.elasticsearch import ElasticsearchEmulator
from tools.emulators.kibana import KibanaEmulator

pytestmark = pytest.mark.timeout(90)

PROXY_CREDENTIALS = ("shipper", "Pr0xy-Basic-pw")


@pytest.fixture(scope="module")
def proxy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tinyproxy")


@pytest.fixture(scope="module")
def open_proxy(proxy_dir: Path) -> Iterator[int]:
    with tinyproxy(proxy_dir) as port:
        yield port


@pytest.fixture(scope="module")
def auth_proxy(proxy_dir: Path) -> Iterator[int]:
    with tinyproxy(proxy_dir, credentials=PROXY_CREDENTIALS) as port:
        yield port


def proxy_log(directory: Path, port: int) -> str:
    return (directory / f"tinyproxy-{port}.log").read_text(errors="replace")


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


async def ship(settings: ElasticsearchSettings, count: int) -> None:
    out = new_output(settings)
    try:
        await publish_all(out, make_events(count), deadline=30)
    finally:
        await out.close()


async def test_plain_http_forwarded_with_credentials_in_the_url(
    proxy_dir: Path, auth_proxy: int
) -> None:
    user, password = PROXY_CREDENTIALS
    async with ElasticsearchEmulator() as es:
        settings = es_settings(es.url, proxy_url=f"http://{user}:{password}@127.0.0.1:{auth_proxy}")
        await ship(settings, 120)
        assert es.count() == 120
    log = proxy_log(proxy_dir, auth_proxy)
    assert f"POST {es.url}/_bulk" in log


async def test_https_through_connect_with_proxy_headers(
    tmp_path: Path, proxy_dir: Path, auth_proxy: int
) -> None:
    """The certificate is checked against the Elasticsearch host, through the tunnel; the
    proxy's credentials travel only in proxy_headers."""
    certs = make_certs(tmp_path)
    token = base64.b64encode(":".join(PROXY_CREDENTIALS).encode()).decode()
    async with ElasticsearchEmulator(ssl_context=certs.server_context()) as es:
        assert es.url.startswith("https://")
        settings = es_settings(
            es.url,
            ssl=TLSSettings(certificate_authorities=[str(certs.ca_pem)]),
            proxy_url=f"http://127.0.0.1:{auth_proxy}",
            proxy_headers={"Proxy-Authorization": f"Basic {token}"},
        )
        await ship(settings, 50)
        assert es.count() == 50
    assert f"CONNECT 127.0.0.1:{es.port}" in proxy_log(proxy_dir, auth_proxy)


async def test_the_proxy_environment_is_used_unless_proxy_disable(
    proxy_dir: Path, open_proxy: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{open_proxy}")
    async with ElasticsearchEmulator() as es:
        marker = f"POST {es.url}/_bulk"
        await ship(es_settings(es.url), 10)
        through_proxy = proxy_log(proxy_dir, open_proxy).count(marker)
        assert through_proxy >= 1
        await ship(es_settings(es.url, proxy_disable=True), 10)
        # proxy_disable wins over proxy_url too
        await ship(
            es_settings(es.url, proxy_disable=True, proxy_url=f"http://127.0.0.1:{open_proxy}"),
            10,
        )
        assert es.count() == 30
        assert proxy_log(proxy_dir, open_proxy).count(marker) == through_proxy


async def test_kibana_through_the_proxy(proxy_dir: Path, auth_proxy: int) -> None:
    user, password = PROXY_CREDENTIALS
    async with KibanaEmulator() as kb:
        good = KibanaSettings(
            host=kb.url, proxy_url=f"http://{user}:{password}@127.0.0.1:{auth_proxy}"
        )
        client = KibanaClient(resolve(good, None))
        try:
            status = await client.status()
        finally:
            await client.client.aclose()
        assert status.version
        assert f"GET {kb.url}/api/status" in proxy_log(proxy_dir, auth_proxy)


def test_socks_is_refused_for_http_clients_with_a_clear_message() -> None:
    es = es_settings("http://127.0.0.1:9200", proxy_url="socks5://u:hunter22@127.0.0.1:1080")
    kibana = KibanaSettings(proxy_url="ftp://proxy")
    [(key, message)] = es.problems()
    assert key == "proxy_url"
    assert "output.logstash only" in message
    assert "hunter22" not in message
    assert kibana.problems() == [("proxy_url", "scheme must be http:// or https://, not 'ftp'")]
    bad_header = KibanaSettings(proxy_headers={"Bad Name": "x"})
    assert bad_header.problems() == [("proxy_headers.Bad Name", "not a valid HTTP header name")]


async def test_a_tunnel_the_proxy_refuses_is_named(
    tmp_path: Path, auth_proxy: int, caplog: pytest.LogCaptureFixture
) -> None:
    certs = make_certs(tmp_path)
    tls = TLSSettings(certificate_authorities=[str(certs.ca_pem)])
    async with ElasticsearchEmulator(ssl_context=certs.server_context()) as es:
        settings = es_settings(
            es.url, ssl=tls, proxy_url=f"http://shipper:wrong-password@127.0.0.1:{auth_proxy}"
        )
        with caplog.at_level(logging.INFO, "sorabeat.elasticsearch"):
            out = new_output(settings)
            task = asyncio.create_task(out.publish(make_events(1), lambda n: None))
            async with asyncio.timeout(30):
                while not any("refused the tunnel" in r.getMessage() for r in caplog.records):  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        await out.close()
        assert es.count() == 0
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert f"through the proxy http://shipper:xxxxx@127.0.0.1:{auth_proxy}" in text
    assert "wrong-password" not in text


async def test_kibana_names_a_tunnel_the_proxy_refuses(tmp_path: Path, auth_proxy: int) -> None:
    certs = make_certs(tmp_path)
    async with KibanaEmulator(ssl_context=certs.server_context()) as kb:
        settings = KibanaSettings(
            host=kb.url,
            ssl=TLSSettings(certificate_authorities=[str(certs.ca_pem)]),
            proxy_url=f"http://shipper:wrong-password@127.0.0.1:{auth_proxy}",
        )
        client = KibanaClient(resolve(settings, None))
        try:
            with pytest.raises(KibanaError, match="the proxy refused the tunnel") as caught:
                await client.status()
        finally:
            await client.client.aclose()
    assert "setup.kibana.proxy_url" in str(caught.value)
    assert "wrong-password" not in str(caught.value)


async def test_test_output_talks_through_the_proxy(tmp_path: Path, auth_proxy: int) -> None:
    from sorabeat.es.probe import test_output

    certs = make_certs(tmp_path)
    user, password = PROXY_CREDENTIALS
    async with ElasticsearchEmulator(ssl_context=certs.server_context()) as es:
        lines: list[str] = []
        settings = es_settings(
            es.url,
            ssl=TLSSettings(certificate_authorities=[str(certs.ca_pem)]),
            proxy_url=f"http://{user}:{password}@127.0.0.1:{auth_proxy}",
        )
        assert await test_output(settings, lines.append), lines
    assert f"  proxy: http://{user}:xxxxx@127.0.0.1:{auth_proxy}" in lines
    assert "  talk to server... OK" in lines
    assert not any("dns lookup" in line or password in line for line in lines)
