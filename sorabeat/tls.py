"""``ssl.*`` settings as libbeat names them, turned into ``ssl.SSLContext`` objects.

Shared by every client that speaks TLS: the Sora input (https hosts), the Logstash
output and the Elasticsearch output.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Literal

from sorabeat.config.schema import Pattern, setting
from sorabeat.pinning import pin

TLSVersion = Literal["TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
VerificationMode = Literal["full", "strict", "certificate", "none"]

_VERSIONS: dict[str, ssl.TLSVersion] = {
    "TLSv1.0": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


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


def load_authorities(ctx: ssl.SSLContext, paths: list[str]) -> None:
    """Trust the CAs of these PEM files, or name the one that cannot be loaded."""
    for path in paths:
        try:
            ctx.load_verify_locations(cafile=path)
        except (OSError, ssl.SSLError) as exc:
            raise TLSConfigError(
                f"ssl.certificate_authorities: cannot load {path}: {_reason(exc)}"
            ) from None


def client_context(settings: TLSSettings) -> ssl.SSLContext:
    """Build a client SSLContext from ``ssl.*`` settings.

    ``ca_trusted_fingerprint`` cannot be expressed in OpenSSL's verifier: when it is set,
    OpenSSL verifies nothing and the context checks the presented chain against the pin inside
    the handshake itself (``sorabeat.pinning``), so no caller can forget to.
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
            load_authorities(ctx, settings.certificate_authorities)
        else:
            ctx.load_default_certs()
        if mode == "strict":
            ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    if settings.certificate and settings.key:
        try:
            ctx.load_cert_chain(settings.certificate, settings.key, settings.key_passphrase)
        except ssl.SSLError as exc:
            if settings.key_passphrase and ("BAD_DECRYPT" in str(exc) or "PEM" in str(exc)):
                raise TLSConfigError(
                    f"ssl.key: cannot decrypt {settings.key} (wrong ssl.key_passphrase?)"
                ) from None
            raise TLSConfigError(
                f"ssl.certificate/ssl.key: cannot load {settings.certificate} with "
                f"{settings.key}: {_reason(exc)}"
            ) from None
        except OSError as exc:
            raise TLSConfigError(f"ssl.certificate/ssl.key: {_reason(exc)}") from None
    if settings.ca_trusted_fingerprint and mode != "none":
        pin(ctx, settings.ca_trusted_fingerprint, mode)
    return ctx


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).replace("_", " ").lower()
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


ClientAuthentication = Literal["none", "optional", "required"]


def server_context(
    certificate: str,
    key: str,
    *,
    key_passphrase: str | None = None,
    certificate_authorities: list[str] | None = None,
    client_authentication: ClientAuthentication = "none",
    supported_protocols: list[TLSVersion] | None = None,
) -> ssl.SSLContext:
    """A server SSLContext as Logstash's beats input configures one: a certificate and key,
    CAs to verify client certificates with, and ``client_authentication`` none, optional
    (verified when presented) or required. Client names are not checked, as in Logstash."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    versions = sorted(_VERSIONS[v] for v in (supported_protocols or ["TLSv1.2", "TLSv1.3"]))
    try:
        ctx.minimum_version = versions[0]
        ctx.maximum_version = versions[-1]
    except ValueError as exc:
        raise TLSConfigError(f"ssl.supported_protocols: {exc}") from None
    try:
        ctx.load_cert_chain(certificate, key, key_passphrase)
    except ssl.SSLError as exc:
        raise TLSConfigError(
            f"ssl.certificate/ssl.key: cannot load {certificate} with {key}: {_reason(exc)}"
        ) from None
    except OSError as exc:
        raise TLSConfigError(f"ssl.certificate/ssl.key: {_reason(exc)}") from None
    if client_authentication != "none":
        if not certificate_authorities:
            raise TLSConfigError(
                "ssl.certificate_authorities: needed to verify client certificates"
            )
        load_authorities(ctx, certificate_authorities)
        ctx.verify_mode = (
            ssl.CERT_REQUIRED if client_authentication == "required" else ssl.CERT_OPTIONAL
        )
    return ctx


# OpenSSL X509_V_ERR_* codes a client meets
_VERIFY_REASONS = {
    9: "the server certificate is not valid yet (check the clocks)",
    10: "the server certificate has expired",
    18: "unknown CA: the server certificate is self-signed and not trusted "
    "(add it or its CA to ssl.certificate_authorities)",
    19: "unknown CA: the server's chain ends in a CA that is not trusted "
    "(set ssl.certificate_authorities)",
    20: "unknown CA: the server certificate is not signed by a trusted CA "
    "(set ssl.certificate_authorities)",
    21: "unknown CA: the server certificate is not signed by a trusted CA "
    "(set ssl.certificate_authorities)",
    62: "hostname mismatch: the server certificate is not valid for this host name",
    64: "hostname mismatch: the server certificate is not valid for this IP address",
}

_ALERT_REASONS = (
    (
        "CERTIFICATE_REQUIRED",
        "the server requires a client certificate (set ssl.certificate and ssl.key)",
    ),
    (
        "HANDSHAKE_FAILURE",
        "the server refused the handshake (it may require a client "
        "certificate, or share no cipher suite with ssl.cipher_suites)",
    ),
    ("UNKNOWN_CA", "the server does not trust our client certificate (unknown CA)"),
    ("BAD_CERTIFICATE", "the server rejected our client certificate"),
    ("CERTIFICATE_EXPIRED", "the server says our client certificate has expired"),
    (
        "PROTOCOL_VERSION",
        "no TLS version in common with the server (check ssl.supported_protocols)",
    ),
    (
        "UNSUPPORTED_PROTOCOL",
        "no TLS version in common with the server (check ssl.supported_protocols)",
    ),
    (
        "NO_PROTOCOLS_AVAILABLE",
        "no TLS version in common with the server (check ssl.supported_protocols)",
    ),
    ("WRONG_VERSION_NUMBER", "the server does not speak TLS (is ssl enabled on the server?)"),
    ("RECORD_LAYER_FAILURE", "the server does not speak TLS (is ssl enabled on the server?)"),
    ("NO_SHARED_CIPHER", "no cipher suite in common with the server"),
)


def describe_tls_error(exc: BaseException) -> str | None:
    """One clear sentence for a TLS failure, or None when ``exc`` is not about TLS."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = getattr(exc, "verify_code", None)
        if code in _VERIFY_REASONS:
            return _VERIFY_REASONS[code]
        message = getattr(exc, "verify_message", None) or str(exc)
        return f"the server certificate was not accepted: {message}"
    if isinstance(exc, TLSConfigError):
        return str(exc)
    if isinstance(exc, ssl.SSLError):
        text = f"{exc.reason or ''} {exc}".upper()
        for marker, reason in _ALERT_REASONS:
            if marker in text:
                return reason
        return f"TLS error: {_reason(exc)}"
    return None
