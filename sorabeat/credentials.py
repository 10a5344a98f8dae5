"""Credentials written into URLs (``https://user:password@host``): found, and hidden before a
URL is shown in a message, a log line or ``export config``."""

from __future__ import annotations

import re

MASK = "xxxxx"
_USERINFO = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://(?P<user>[^/@\s:]*):)(?P<password>[^@/\s]+)@"
)


def redact_url(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``xxxxx``."""
    return _USERINFO.sub(lambda m: f"{m.group('head')}{MASK}@", text)


def url_credentials(text: str) -> list[tuple[str, str]]:
    """The (user, password) pairs of the URLs in ``text``."""
    return [(m.group("user"), m.group("password")) for m in _USERINFO.finditer(text)]
