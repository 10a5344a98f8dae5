"""Certificates made for a test: a CA and a server certificate for 127.0.0.1/localhost (by
sorabeat.certs), written as files, with their fingerprints."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from sorabeat.certs import make_ca, make_certificate


@dataclass
class ServerCerts:
    ca_pem: Path
    cert_pem: Path
    key_pem: Path
    ca_fingerprint: str  # hex SHA-256 of the CA's DER
    leaf_fingerprint: str

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # the chain: leaf then CA, so a client can pin the CA by fingerprint
        ctx.load_cert_chain(self.cert_pem, self.key_pem)
        return ctx


def make_certs(
    directory: Path, hostname: str = "localhost", with_loopback_ip: bool = True
) -> ServerCerts:
    ca = make_ca("sorabeat test CA", days=2)
    names = (hostname, "127.0.0.1") if with_loopback_ip else (hostname,)
    leaf = make_certificate(ca, hostname, hostnames=names, days=1)
    ca_pem = directory / "ca.pem"
    ca_pem.write_bytes(ca.cert_pem)
    cert_pem = directory / "server.pem"
    cert_pem.write_bytes(leaf.cert_pem + ca.cert_pem)
    key_pem = directory / "server.key"
    key_pem.write_bytes(leaf.key_pem())
    return ServerCerts(ca_pem, cert_pem, key_pem, ca.fingerprint, leaf.fingerprint)
