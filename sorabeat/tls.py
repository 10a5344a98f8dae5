"""``ssl.*`` settings as libbeat names them, turned into ``ssl.SSLContext`` objects.

Shared by every client that speaks TLS: the Sora input (https hosts), the Logstash
output and the Elasticsearch output.
"""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass
from typing import Any, Literal

from sorabeat.config.schema import Pattern, setting

TLSVersion = Literal["TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
VerificationMode = Literal["full", "strict", "certificate", "none"]

_VERSIONS: dict[str, ssl.TLSVersion] = {
    "TLSv1.0": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}

_ENCODING_DER = 2  # _ssl.ENCODING_DER: the private chain API returns Certificate objects

_FINGERPRINT = Pattern(r"(?:[0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}", "a hex SHA-256 fingerprint")


@dataclass(frozen=True)
class TLSSettings:
    """Client-side TLS (``ssl.*``)."""

    enabled: bool | None = setting(
        None, doc="Use TLS. Defaults to true when any other ssl option is set or the URL is https."
    )
    certificate_authorities: list[str] = setting(
        factory=list, doc="PEM files of CAs to trust (default: the system's)."
    )
    certificate: str | None = setting(None, doc="PEM client certificate, for mutual TLS.")
    key: str | None = setting(None, doc="PEM private key of the client certificate.")
    key_passphrase: str | None = setting(None, secret=True, doc="Passphrase of an encrypted key.")
    verification_mode: VerificationMode = setting(
        "full",
        doc="full: chain and hostname; strict: same, SAN required; certificate: chain only; "
        "none: no verification (insecure).",
    )
    supported_protocols: list[TLSVersion] = setting(
        factory=lambda: ["TLSv1.2", "TLSv1.3"], doc="TLS versions to offer."
    )
    cipher_suites: list[str] = setting(
        factory=list, doc="OpenSSL cipher names for TLS 1.2 (TLS 1.3 suites are fixed)."
    )
    ca_trusted_fingerprint: str | None = setting(
        None,
        doc="Hex SHA-256 of a CA certificate in the chain the server presents; "
        "a chain containing it is trusted.",
    )

    def problems(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if (self.certificate is None) != (self.key is None):
            out.append(("certificate", "certificate and key must be set together"))
        if self.ca_trusted_fingerprint is not None:
            try:
                _FINGERPRINT.convert(self.ca_trusted_fingerprint)
            except ValueError as exc:
                out.append(("ca_trusted_fingerprint", str(exc)))
        if not self.supported_protocols:
            out.append(("supported_protocols", "at least one protocol is needed"))
        return out

    def active(self, https: bool = False) -> bool:
        """Whether TLS is on: explicitly, or implied by options or an https URL."""
        if self.enabled is not None:
            return self.enabled
        return https or self != TLSSettings()


class TLSConfigError(Exception):
    """TLS settings that cannot be turned into a context (unreadable file, bad passphrase)."""


def normalize_fingerprint(text: str) -> str:
    return text.replace(":", "").lower()


def client_context(settings: TLSSettings) -> ssl.SSLContext:
    """Build a client SSLContext from ``ssl.*`` settings.

    ``ca_trusted_fingerprint`` cannot be expressed in OpenSSL's verifier; when it is set the
    context verifies nothing by itself and ``check_fingerprint`` must run after the handshake.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    versions = sorted(_VERSIONS[v] for v in settings.supported_protocols)
    try:
        ctx.minimum_version = versions[0]
        ctx.maximum_version = versions[-1]
    except ValueError as exc:
        raise TLSConfigError(f"ssl.supported_protocols: {exc}") from None
    if settings.cipher_suites:
        try:
            ctx.set_ciphers(":".join(settings.cipher_suites))
        except ssl.SSLError:
            raise TLSConfigError(
                "ssl.cipher_suites: none of " + ", ".join(settings.cipher_suites) + " is known"
            ) from None
    mode = settings.verification_mode
    if mode == "none" or settings.ca_trusted_fingerprint:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.check_hostname = mode in ("full", "strict")
        ctx.verify_mode = ssl.CERT_REQUIRED
        if settings.certificate_authorities:
            for path in settings.certificate_authorities:
                try:
                    ctx.load_verify_locations(cafile=path)
                except (OSError, ssl.SSLError) as exc:
                    raise TLSConfigError(
                        f"ssl.certificate_authorities: cannot load {path}: {_reason(exc)}"
                    ) from None
        else:
            ctx.load_default_certs()
        if mode == "strict":
            ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    if settings.certificate and settings.key:
        try:
            ctx.load_cert_chain(settings.certificate, settings.key, settings.key_passphrase)
        except ssl.SSLError as exc:
            hint = (
                " (wrong ssl.key_passphrase?)"
                if "BAD_DECRYPT" in str(exc) or ("PEM" in str(exc) and settings.key_passphrase)
                else ""
            )
            raise TLSConfigError(
                f"ssl.certificate/ssl.key: cannot load {settings.certificate} with "
                f"{settings.key}: {_reason(exc)}{hint}"
            ) from None
        except OSError as exc:
            raise TLSConfigError(f"ssl.certificate/ssl.key: {_reason(exc)}") from None
    return ctx


def check_fingerprint(ssl_object: Any, fingerprint: str) -> None:
    """Raise ssl.SSLCertVerificationError unless a certificate of the presented chain matches.

    ``ssl_object`` is an ``ssl.SSLObject`` or ``ssl.SSLSocket`` after the handshake.
    """
    wanted = normalize_fingerprint(fingerprint)
    for der in presented_chain(ssl_object):
        if hashlib.sha256(der).hexdigest() == wanted:
            return
    raise ssl.SSLCertVerificationError(
        "no certificate in the presented chain matches ssl.ca_trusted_fingerprint"
    )


def presented_chain(ssl_object: Any) -> list[bytes]:
    """DER certificates the peer presented, leaf first."""
    inner = getattr(ssl_object, "_sslobj", ssl_object)
    getter = getattr(inner, "get_unverified_chain", None)
    if getter is not None:
        chain = getter() or []
        return [c.public_bytes(_ENCODING_DER) if hasattr(c, "public_bytes") else c for c in chain]
    leaf = ssl_object.getpeercert(binary_form=True)
    return [leaf] if leaf else []


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).replace("_", " ").lower()
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
