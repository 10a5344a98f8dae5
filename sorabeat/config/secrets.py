"""Masking secrets before a configuration is shown (``export config``, logs)."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterable
from typing import Any

from sorabeat.config.schema import Path, walk_keys
from sorabeat.config.settings import Settings
from sorabeat.credentials import MASK as MASK
from sorabeat.credentials import redact_url, url_credentials

SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


def secret_paths() -> list[Path]:
    return [k.path for k in walk_keys(Settings) if k.secret]


def _matches(pattern: Path, path: Path) -> bool:
    return len(pattern) == len(path) and all(
        p in ("*", q) for p, q in zip(pattern, path, strict=True)
    )


def _is_secret(path: Path, key: str, value: Any, patterns: list[Path]) -> bool:
    child = (*path, key)
    if bool(path) and path[-1] == "headers" and key.lower() in SECRET_HEADERS:
        return True
    return value is not None and any(_matches(p, child) for p in patterns)


def mask_secrets(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of raw settings with every secret value, and secret-bearing headers, masked."""
    patterns = secret_paths()
    out = copy.deepcopy(data)

    def walk(node: Any, path: Path) -> Any:
        if isinstance(node, dict):
            for key, value in node.items():
                if _is_secret(path, str(key), value, patterns):
                    node[key] = MASK
                else:
                    node[key] = walk(value, (*path, str(key)))
            return node
        if isinstance(node, list):
            return [walk(item, (*path, "*")) for item in node]
        if isinstance(node, str):
            return redact_url(node)  # a password written into a host URL
        return node

    return walk(out, ())  # type: ignore[no-any-return]


def secret_values(data: dict[str, Any]) -> set[str]:
    """The text of every secret setting and secret-bearing header in raw settings.

    A header such as ``Authorization: Bearer abc`` yields both the whole value and the
    credential after the scheme, as either may end up in a message; a username and password
    also yield their HTTP Basic credentials.
    """
    patterns = secret_paths()
    found: set[str] = set()

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                collect(v)
        elif isinstance(value, list):
            for v in value:
                collect(v)
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            text = str(value)
            found.add(text)
            scheme, _, credential = text.partition(" ")
            if credential.strip() and scheme.isalpha():
                found.add(credential.strip())

    def walk(node: Any, path: Path) -> None:
        if isinstance(node, dict):
            user, password = node.get("username"), node.get("password")
            if isinstance(user, str) and isinstance(password, str) and password:
                # what an HTTP client sends as "Authorization: Basic ..."
                found.add(base64.b64encode(f"{user}:{password}".encode()).decode())
            for key, value in node.items():
                if _is_secret(path, str(key), value, patterns):
                    collect(value)
                else:
                    walk(value, (*path, str(key)))
        elif isinstance(node, list):
            for item in node:
                walk(item, (*path, "*"))
        elif isinstance(node, str):
            for user, password in url_credentials(node):
                found.add(password)
                found.add(base64.b64encode(f"{user}:{password}".encode()).decode())

    walk(data, ())
    return {v for v in found if v}


# Shorter values cannot be masked inside other text without mangling it ("a" is everywhere).
MIN_MASKED_LENGTH = 4


class SecretScrubber:
    """Replaces known secret values inside text by ``xxxxx``.

    Each secret is also matched as ``repr`` and JSON would escape it, since ``%r`` of a
    mapping or a JSON dump may carry it in that form.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = frozenset(s for s in secrets if s)
        forms: set[str] = set()
        for secret in self.secrets:
            if len(secret) < MIN_MASKED_LENGTH:
                continue
            forms.add(secret)
            forms.add(repr(secret)[1:-1])
            forms.add(json.dumps(secret)[1:-1])
            forms.add(json.dumps(secret, ensure_ascii=False)[1:-1])
        # longest first, so a secret containing another is masked whole
        self.forms = sorted(forms, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        if text in self.secrets:
            return MASK
        for form in self.forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def scrub_value(self, value: Any) -> Any:
        """The same value with every string in it scrubbed (mappings and lists walked)."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {k: self.scrub_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub_value(v) for v in value]
        return value
