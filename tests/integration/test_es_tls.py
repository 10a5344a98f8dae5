"""TLS to Elasticsearch with certificates made in the test: CA files, verification
failures with clear messages, ssl.ca_trusted_fingerprint (checked inside the handshake,
before credentials leave), and ``sorabeat test output``'s step-by-step probe."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from sorabeat.es.probe import test_output as probe_output
from sorabeat.tls import TLSSettings
from tests.es_support import AckRecorder, es_settings, make_events, new_output
from tests.es_tls import ServerCerts, make_certs
from tools.emulators.elasticsearch import ElasticsearchEmulator

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def certs(tmp_path: Path) -> ServerCerts:
    return make_certs(tmp_path)


async def stalls(coro: object, caplog: pytest.LogCaptureFixture, seconds: float = 0.5) -> str:
    """Run a publish that must not finish; return what was logged meanwhile."""
    with caplog.at_level(logging.WARNING, "sorabeat.elasticsearch"):
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        await asyncio.sleep(seconds)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    return "\n".join(r.getMessage() for r in caplog.records)


async def test_https_with_certificate_authorities(certs: ServerCerts) -> None:
    async with ElasticsearchEmulator(ssl_context=certs.server_context()) as es:
        assert es.url.startswith("https://")
        tls = TLSSettings(certificate_authorities=[str(certs.ca_pem)])
        out = new_output(es_settings(es.url, ssl=tls))
        await out.publish(make_events(3), AckRecorder(3))
        await out.close()
        assert es.count() == 3


async def test_untrusted_server_is_refused_clearly(
    certs: ServerCerts, caplog: pytest.LogCaptureFixture
) -> None:
    async with ElasticsearchEmulator(ssl_context=certs.server_context()) as es:
        out = new_output(es_settings(es.url))  # system CAs only
        logged = await stalls(out.publish(make_events(1), AckRecorder(1)), caplog)
        await out.close()
        assert "certificate verify failed" in logged
        assert es.count() == 0


async def test_hostname_mismatch(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    certs = make_certs(tmp_path, hostname="elsewhere.test", with_loopback_ip=False)
    async with ElasticsearchEmulator(ssl_context=certs.server_context()) as es:
        full = TLSSettings(certificate_authorities=[str(certs.ca_pem)])
        out = new_output(es_settings(es.url, ssl=full))
        logged = await stalls(out.publish(make_events(1), AckRecorder(1)), caplog)
        await out.close()
        assert "IP address mismatch" in logged or "hostname" in logged.lower()
        chain_only = TLSSettings(
            certificate_authorities=[str(certs.ca_pem)], verification_mode="certificate"
        )
        out = new_output(es_settings(es.url, ssl=chain_only))
        await out.publish(make_events(1), AckRecorder(1))
        await out.close()
        assert es.count() == 1


async def test_ca_trusted_fingerprint(certs: ServerCerts) -> None:
    async with ElasticsearchEmulator(ssl_context=certs.server_context()) as es:
        for fingerprint in (certs.ca_fingerprint, certs.leaf_fingerprint.upper()):
            tls = TLSSettings(ca_trusted_fingerprint=fingerprint)
            out = new_output(es_settings(es.url, ssl=tls))
            await out.publish(make_events(1), AckRecorder(1))
            await out.close()
        assert es.count() == 2


async def test_wrong_fingerprint_sends_nothing(
    certs: ServerCerts, caplog: pytest.LogCaptureFixture
) -> None:
    async with ElasticsearchEmulator(
        ssl_context=certs.server_context(), users={"elastic": "pw"}
    ) as es:
        tls = TLSSettings(ca_trusted_fingerprint="ab" * 32)
        out = new_output(es_settings(es.url, ssl=tls, username="elastic", password="pw"))
        logged = await stalls(out.publish(make_events(1), AckRecorder(1)), caplog)
        await out.close()
        assert "matches ssl.ca_trusted_fingerprint" in logged
        assert es.requests == []  # not even GET /: the credentials never left


async def test_fingerprint_with_hostname_check(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    certs = make_certs(tmp_path, hostname="elsewhere.test", with_loopback_ip=False)
    async with ElasticsearchEmulator(ssl_context=certs.server_context()) as es:
        tls = TLSSettings(ca_trusted_fingerprint=certs.ca_fingerprint)
        out = new_output(es_settings(es.url, ssl=tls))
        logged = await stalls(out.publish(make_events(1), AckRecorder(1)), caplog)
        await out.close()
        assert "does not verify" in logged
        tls = TLSSettings(
            ca_trusted_fingerprint=certs.ca_fingerprint, verification_mode="certificate"
        )
        out = new_output(es_settings(es.url, ssl=tls))
        await out.publish(make_events(1), AckRecorder(1))
        await out.close()
        assert es.count() == 1


async def test_probe_reports_each_step(certs: ServerCerts) -> None:
    async with ElasticsearchEmulator(ssl_context=certs.server_context()) as es:
        lines: list[str] = []
        tls = TLSSettings(certificate_authorities=[str(certs.ca_pem)])
        assert await probe_output(es_settings(es.url, ssl=tls), lines.append)
        text = "\n".join(lines)
        for step in (
            f"elasticsearch: {es.url}...",
            "parse url... OK",
            "dns lookup... OK",
            "addresses: 127.0.0.1",
            "dial up... OK",
            "security: server's certificate chain verification is enabled",
            "handshake... OK",
            "TLS version: TLSv1.3",
            "talk to server... OK",
            "version: 8.15.0 (elasticsearch)",
        ):
            assert step in text, step
        lines.clear()
        assert not await probe_output(es_settings(es.url), lines.append)
        assert any("handshake... ERROR" in line and "certificate" in line for line in lines)


async def test_probe_failures() -> None:
    lines: list[str] = []
    async with ElasticsearchEmulator(product_header=False) as es:
        assert not await probe_output(es_settings(es.url), lines.append)
        assert any("talk to server... ERROR the server is not Elasticsearch" in x for x in lines)
        assert "  TLS... WARN secure connection disabled" in lines
        port = es.port
    lines.clear()
    assert not await probe_output(es_settings(f"127.0.0.1:{port}"), lines.append)
    assert any(line.startswith("    dial up... ERROR") for line in lines)
    lines.clear()
    assert not await probe_output(es_settings("ftp://x"), lines.append)
    assert "parse url... ERROR" in lines[-1]
