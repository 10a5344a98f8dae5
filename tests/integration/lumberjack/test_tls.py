"""TLS between the output and the receiver with certificates made in the test: success
cases, and each failure giving one clear log line, a retry, and recovery once fixed."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import ssl
from pathlib import Path

import pytest

from sorabeat.certs import Issued, make_ca, make_certificate
from sorabeat.tls import TLSSettings, server_context
from tests.integration.lumberjack_helpers import (
    address,
    make_events,
    output,
    publish_all,
    receiver,
    settings,
    wait_for,
)

pytestmark = pytest.mark.timeout(60)


@dataclasses.dataclass
class PKI:
    dir: Path
    ca: Issued
    ca_path: str

    def server(self, name: str = "server", **kw: object) -> ssl.SSLContext:
        issued = make_certificate(self.ca, **kw)  # type: ignore[arg-type]
        cert, key = issued.write(str(self.dir), name)
        return server_context(cert, key)

    def client_files(self, passphrase: str | None = None) -> tuple[str, str]:
        issued = make_certificate(self.ca, "client", hostnames=(), server=False, client=True)
        return issued.write(str(self.dir), "client", passphrase)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    directory = tmp_path_factory.mktemp("pki")
    ca = make_ca("test CA")
    ca_path, _ = ca.write(str(directory), "ca")
    return PKI(directory, ca, ca_path)


def tls_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name == "sorabeat.lumberjack"
    ]


async def test_server_authentication(pki: PKI) -> None:
    async with receiver(ssl_context=pki.server()) as r:
        tls = TLSSettings(certificate_authorities=[pki.ca_path])
        async with output(settings([address(r)], ssl=tls)) as (out, m):
            await publish_all(out, [make_events(20)])
        assert len(r.events) == 20
        assert r.connections[0].tls_version in ("TLSv1.2", "TLSv1.3")
        assert not r.connections[0].peer_certificate
        assert m.total("output.failures") == 0


async def test_mutual_tls(pki: PKI) -> None:
    cert, key = pki.server("mtls"), None
    del key
    issued = make_certificate(pki.ca)
    server_cert, server_key = issued.write(str(pki.dir), "mtls")
    context = server_context(
        server_cert,
        server_key,
        certificate_authorities=[pki.ca_path],
        client_authentication="required",
    )
    del cert
    client_cert, client_key = pki.client_files(passphrase="s3cret")
    async with receiver(ssl_context=context) as r:
        tls = TLSSettings(
            certificate_authorities=[pki.ca_path],
            certificate=client_cert,
            key=client_key,
            key_passphrase="s3cret",
        )
        async with output(settings([address(r)], ssl=tls)) as (out, _):
            await publish_all(out, [make_events(20)])
        assert len(r.events) == 20
        assert r.connections[0].peer_certificate


async def test_ca_trusted_fingerprint(pki: PKI) -> None:
    async with receiver(ssl_context=pki.server()) as r:
        # the chain holds only the leaf: pin it (its issuer is not in any trust store)
        leaf = ssl.PEM_cert_to_DER_cert((pki.dir / "server.crt").read_text())
        import hashlib

        good = TLSSettings(
            ca_trusted_fingerprint=hashlib.sha256(leaf).hexdigest(), verification_mode="certificate"
        )
        async with output(settings([address(r)], ssl=good)) as (out, _):
            await publish_all(out, [make_events(5)])
        assert len(r.events) == 5


async def test_a_wrong_fingerprint_is_refused(pki: PKI, caplog: pytest.LogCaptureFixture) -> None:
    async with receiver(ssl_context=pki.server()) as r:
        bad = TLSSettings(ca_trusted_fingerprint="ab" * 32)
        async with output(settings([address(r)], ssl=bad)) as (out, m):
            task = asyncio.create_task(publish_all(out, [make_events(5)]))
            await wait_for(lambda: m.total("output.failures") >= 2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert "ca_trusted_fingerprint" in tls_errors(caplog)[0]
        assert r.events == []


CASES = {
    "unknown CA": (
        lambda pki, other: other.server(),
        {},
        "unknown CA: the server certificate is not signed by a trusted CA",
    ),
    "hostname mismatch": (
        lambda pki, other: pki.server("wrongname", hostnames=("elsewhere.example",)),
        {},
        "hostname mismatch: the server certificate is not valid for this IP address",
    ),
    "expired": (
        lambda pki, other: pki.server(
            "expired",
            not_before=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC),
            not_after=datetime.datetime(2021, 1, 1, tzinfo=datetime.UTC),
        ),
        {},
        "the server certificate has expired",
    ),
    "client certificate required": (
        lambda pki, other: server_context(
            *make_certificate(pki.ca).write(str(pki.dir), "needs-client"),
            certificate_authorities=[pki.ca_path],
            client_authentication="required",
        ),
        {},
        "the server requires a client certificate",
    ),
    "protocol mismatch": (
        lambda pki, other: server_context(
            *make_certificate(pki.ca).write(str(pki.dir), "tls12"),
            supported_protocols=["TLSv1.2"],
        ),
        {"supported_protocols": ["TLSv1.3"]},
        "no TLS version in common with the server",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_each_tls_failure_logs_one_clear_line_retries_and_recovers(
    case: str, pki: PKI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_bad, client_options, reason = CASES[case]
    caplog.set_level(logging.INFO, logger="sorabeat.lumberjack")
    other_ca = make_ca("other CA")
    other = PKI(tmp_path, other_ca, other_ca.write(str(tmp_path), "other-ca")[0])
    async with receiver(ssl_context=make_bad(pki, other)) as r:
        tls = TLSSettings(certificate_authorities=[pki.ca_path], **client_options)  # type: ignore[arg-type]
        async with output(settings([address(r)], ssl=tls)) as (out, m):
            task = asyncio.create_task(publish_all(out, [make_events(10)]))
            await wait_for(lambda: m.total("output.failures") >= 2)
            lines = tls_errors(caplog)
            # the first failure only: while the host stays down, a reminder once a minute
            assert len(lines) == 1, lines
            assert all(reason in line and address(r) in line for line in lines), lines
            assert r.events == []
            r.server.options.ssl_context = pki.server("good")  # the operator fixes the server
            await task
        assert len(r.events) == 10
        assert any(
            rec.getMessage().startswith(f"logstash {address(r)} is back after ")
            for rec in caplog.records
        )


async def test_a_wrong_key_passphrase_is_one_clear_line_and_retried(
    pki: PKI, caplog: pytest.LogCaptureFixture
) -> None:
    cert, key = pki.client_files(passphrase="right")
    async with receiver(ssl_context=pki.server()) as r:
        tls = TLSSettings(
            certificate_authorities=[pki.ca_path], certificate=cert, key=key, key_passphrase="wrong"
        )
        async with output(settings([address(r)], ssl=tls)) as (out, m):
            task = asyncio.create_task(publish_all(out, [make_events(3)]))
            await wait_for(lambda: m.total("output.failures") >= 2)
            lines = tls_errors(caplog)
            assert "wrong ssl.key_passphrase?" in lines[0]
            assert address(r) in lines[0]
            # fixed configuration (a restart would do the same): the next attempt succeeds
            out.settings = dataclasses.replace(
                out.settings, ssl=dataclasses.replace(tls, key_passphrase="right")
            )
            await task
        assert len(r.events) == 3


def _chain_files(directory: Path, leaf: Issued, *above: Issued) -> tuple[str, str]:
    """A server certificate file holding the leaf and then the given certificates."""
    cert_path, key_path = leaf.write(str(directory), f"chain-{leaf.fingerprint[:8]}")
    with open(cert_path, "ab") as f:
        for cert in above:
            f.write(cert.cert_pem)
    return cert_path, key_path


@pytest.mark.parametrize("mode", ["certificate", "full", "strict"])
async def test_a_pinned_ca_must_have_signed_the_chain(
    tmp_path: Path, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An attacker can present the real (public) CA certificate after a leaf of their own:
    the pin must not trust that chain. The real chain is trusted in every mode."""
    real_ca, attacker_ca = make_ca("real CA"), make_ca("attacker CA")
    forged = _chain_files(tmp_path, make_certificate(attacker_ca, "localhost"), real_ca)
    genuine = _chain_files(tmp_path, make_certificate(real_ca, "localhost"), real_ca)
    pin = TLSSettings(ca_trusted_fingerprint=real_ca.fingerprint, verification_mode=mode)  # type: ignore[arg-type]
    async with receiver(ssl_context=server_context(*forged)) as r:
        async with output(settings([address(r)], ssl=pin)) as (out, m):
            task = asyncio.create_task(publish_all(out, [make_events(3)]))
            await wait_for(lambda: m.total("output.failures") >= 1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert r.events == []
    assert "ca_trusted_fingerprint" in tls_errors(caplog)[0]
    async with receiver(ssl_context=server_context(*genuine)) as r:
        async with output(settings([address(r)], ssl=pin)) as (out, _):
            await publish_all(out, [make_events(3)])
        assert len(r.events) == 3
