"""``ssl.ca_trusted_fingerprint`` for clients whose TLS runs on ``ssl.SSLObject`` (httpx
through anyio, asyncio streams).

OpenSSL's verifier cannot trust "whatever CA in the chain has this SHA-256", so the context
from ``sorabeat.tls.client_context`` leaves OpenSSL's verifier off and this module checks the
presented chain inside the handshake, before a single request byte (credentials included)
is sent: the SSLObject class of the context is swapped for one whose ``do_handshake``
verifies after OpenSSL finishes. As libbeat does, the matching certificate becomes the trust
anchor: the leaf must chain up to it (signatures, validity) and, in ``full``/``strict``
mode, match the host name. A pinned leaf is trusted as itself.
"""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
import ssl
from datetime import UTC, datetime
from typing import Any, ClassVar

_ENCODING_DER = 2  # _ssl.ENCODING_DER: the private chain API returns Certificate objects


def normalize_fingerprint(text: str) -> str:
    return text.replace(":", "").lower()


def presented_chain(ssl_object: Any) -> list[bytes]:
    """DER certificates the peer presented, leaf first."""
    inner = getattr(ssl_object, "_sslobj", ssl_object)
    getter = getattr(inner, "get_unverified_chain", None)
    if getter is not None:
        chain = getter() or []
        return [c.public_bytes(_ENCODING_DER) if hasattr(c, "public_bytes") else c for c in chain]
    leaf = ssl_object.getpeercert(binary_form=True)
    return [leaf] if leaf else []


def verify_pinned_chain(
    chain_der: list[bytes], fingerprint: str, hostname: str | None, mode: str
) -> None:
    """Raise ``ssl.SSLCertVerificationError`` unless the chain is trusted through the pin."""
    wanted = normalize_fingerprint(fingerprint)
    digests = [hashlib.sha256(der).hexdigest() for der in chain_der]
    if wanted not in digests:
        raise ssl.SSLCertVerificationError(
            "no certificate in the chain the server presented matches ssl.ca_trusted_fingerprint"
        )
    anchor_at = digests.index(wanted)
    if anchor_at == 0:
        return  # the pinned certificate is the server's own: nothing above it to check
    # imported only here: every output imports this module, few connections pin a CA, and
    # cryptography's bindings cost ~8 MiB of RSS
    from cryptography import x509
    from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

    certs = [x509.load_der_x509_certificate(der) for der in chain_der[: anchor_at + 1]]
    leaf, intermediates, anchor = certs[0], certs[1:anchor_at], certs[anchor_at]
    try:
        if mode in ("full", "strict") and hostname:
            subject: x509.GeneralName
            try:
                subject = x509.IPAddress(ipaddress.ip_address(hostname))
            except ValueError:
                subject = x509.DNSName(hostname)
            verifier = PolicyBuilder().store(Store([anchor])).build_server_verifier(subject)
            verifier.verify(leaf, intermediates)
            return
        now = datetime.now(UTC)
        for cert, issuer in itertools.pairwise(certs):
            cert.verify_directly_issued_by(issuer)
        for cert in certs:
            if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
                raise ValueError(f"certificate {cert.subject.rfc4514_string()} is not valid now")
    except (VerificationError, ValueError, TypeError) as exc:
        raise ssl.SSLCertVerificationError(
            f"the chain through the ssl.ca_trusted_fingerprint certificate does not verify: {exc}"
        ) from None


class _PinnedSSLObject(ssl.SSLObject):
    fingerprint: ClassVar[str] = ""
    mode: ClassVar[str] = "full"

    def do_handshake(self) -> None:
        super().do_handshake()  # raises SSLWantReadError until OpenSSL is done
        verify_pinned_chain(
            presented_chain(self), self.fingerprint, self.server_hostname, self.mode
        )


def pin(ctx: ssl.SSLContext, fingerprint: str, mode: str) -> None:
    """Make ``ctx`` verify every handshake's chain against the pinned certificate."""
    attrs: dict[str, Any] = {"fingerprint": fingerprint, "mode": mode}
    ctx.sslobject_class = type("PinnedSSLObject", (_PinnedSSLObject,), attrs)
