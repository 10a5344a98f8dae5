"""Secrets on their way out: credentials written into URLs (``https://user:password@host``),
found and hidden, and the one scrubber everything leaving the process goes through.

``SecretScrubber`` removes the text of every known secret (the loader lists them: settings
declared ``secret=True``, header values, passwords in URLs, Basic credentials, keystore
values), in every form it can travel in, from any text: events built from responses, log
records, the output of every command, the monitoring endpoint.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import re
from collections.abc import Iterable
from typing import Any, TextIO
from urllib.parse import quote, quote_plus

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


# The rule for short secrets: a value shorter than this is masked where it is a whole value
# (a setting, a header, an entire message), never inside other text, where "ab" or "1"
# would mask half of every line and the rest would give it away anyway. ``short_secrets``
# lets a command warn that such a value is not protected.
MIN_MASKED_LENGTH = 4
# A message may quote a body cut to a few hundred characters, through a secret: the part of
# a secret's form left before the cut is masked when it is at least this long (fewer
# characters may show; masking every short prefix would mask common words).
MIN_CUT_LENGTH = 8

_UPPER_PERCENT = re.compile(r"%[0-9A-F]{2}")


def _python_escapes(text: str) -> set[str]:
    """``text`` as ``repr`` writes it inside a longer string: in single quotes (``'``
    escaped), or in double quotes when the longer string has ``'`` but no ``"``."""
    single = repr(text + '"')[1:-2]
    double = repr(text + "'")[1:-2] if '"' not in text else single
    return {single, double}


def _json_escapes(text: str) -> set[str]:
    escaped = json.dumps(text)[1:-1]
    return {escaped, json.dumps(text, ensure_ascii=False)[1:-1], escaped.replace("/", "\\/")}


def _percent_escapes(text: str) -> set[str]:
    forms = {quote(text, safe=""), quote(text), quote_plus(text, safe="")}
    return forms | {_UPPER_PERCENT.sub(lambda m: m.group().lower(), f) for f in forms}


def base64_fragments(data: bytes) -> set[str]:
    """What every base64 encoding of a text containing ``data`` has in common.

    ``data`` may start at any of three offsets in the encoded stream; for each, only the
    characters made of ``data``'s bits alone are kept (the neighbours change the edges).
    """
    out = {base64.b64encode(data).decode()}
    for offset in range(3):
        start = -(-8 * offset // 6)  # the first character made of data's bits only
        stop = 8 * (offset + len(data)) // 6
        padded = b"\0" * offset + data + b"\0\0"
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            out.add(encode(padded).decode()[start:stop])
    return out


def travel_forms(secret: str) -> set[str]:
    """Every form in which ``secret`` can reach a message: as is, JSON-escaped,
    percent-encoded, inside base64, and each of those as Python's ``repr`` escapes it (an
    error message quotes a response body with ``%r``)."""
    carried = {secret, *_json_escapes(secret), *_percent_escapes(secret)}
    carried |= base64_fragments(secret.encode("utf-8", "surrogatepass"))
    return {form for text in carried for form in (text, *_python_escapes(text))}


def _made_by_mask(form: str) -> bool:
    """A form the mask itself spells (``xxxx``): indistinguishable from masked text."""
    return form in MASK


class SecretScrubber:
    """Replaces every known secret, in every travel form, and every password written into a
    URL, by ``xxxxx``. The one place text is scrubbed before it leaves the process."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = frozenset(s for s in secrets if s)
        forms: set[str] = set()
        for secret in self.secrets:
            if len(secret) >= MIN_MASKED_LENGTH:
                forms |= travel_forms(secret)
        # longest first: where one secret contains another, the whole is masked
        self.forms = sorted(
            (f for f in forms if len(f) >= MIN_MASKED_LENGTH and not _made_by_mask(f)),
            key=len,
            reverse=True,
        )
        self._pattern = re.compile("|".join(map(re.escape, self.forms))) if self.forms else None
        self._by_head: dict[str, list[str]] = {}
        for form in self.forms:
            if len(form) > MIN_CUT_LENGTH:
                self._by_head.setdefault(form[:MIN_CUT_LENGTH], []).append(form)
        heads = sorted(self._by_head)
        self._heads = re.compile("|".join(map(re.escape, heads))) if heads else None

    def scrub(self, text: str) -> str:
        if text in self.secrets:
            return MASK
        text = redact_url(text)
        if self._pattern is None:
            return text
        # A mask next to the remains of an overlapping secret may spell a secret again
        # ("Axxxx" from "A" + mask): repeat until nothing matches. Each round shortens the
        # text or leaves fewer letters that are not the mask's, so this ends.
        for _ in range(len(text) + 1):
            scrubbed = self._mask_cut(self._pattern.sub(MASK, text))
            if scrubbed == text:
                break
            text = scrubbed
        return text

    def _mask_cut(self, text: str) -> str:
        """Mask what remains of a form cut short (at least ``MIN_CUT_LENGTH`` characters)."""
        if self._heads is None:
            return text
        out: list[str] = []
        done = 0
        for match in self._heads.finditer(text):
            start = match.start()
            if start < done:
                continue
            end = match.end()
            for form in self._by_head[match.group()]:
                length = MIN_CUT_LENGTH
                while (
                    length < len(form) and text[start + length : start + length + 1] == form[length]
                ):
                    length += 1
                end = max(end, start + length)
            out += (text[done:start], MASK)
            done = end
        if not out:
            return text
        out.append(text[done:])
        return "".join(out)

    def scrub_bytes(self, data: bytes) -> bytes:
        """UTF-8 bytes scrubbed (undecodable bytes kept as they were)."""
        if self._pattern is None and b"://" not in data:
            return data
        return self.scrub(data.decode("utf-8", "surrogateescape")).encode(
            "utf-8", "surrogateescape"
        )

    def scrub_value(self, value: Any) -> Any:
        """The same value with every string in it scrubbed (mappings and lists walked)."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {k: self.scrub_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub_value(v) for v in value]
        return value


def short_secrets(secrets: Iterable[str]) -> int:
    """How many secrets are too short to be recognised inside other text."""
    return sum(1 for s in secrets if 0 < len(s) < MIN_MASKED_LENGTH)


class ScrubbingWriter:
    """A text stream (stdout, stderr) whose every line passes the scrubber.

    Text is held until a line ends (a writer such as YAML's may cut a secret across two
    ``write`` calls), on ``flush`` and at exit. Everything else, ``buffer`` included (bytes
    written there are events, scrubbed where they were made), is the wrapped stream's.
    """

    def __init__(self, stream: TextIO, scrubber: SecretScrubber) -> None:
        self.stream = stream
        self.scrubber = scrubber
        self._pending = ""
        atexit.register(self._flush_at_exit)

    def write(self, text: str) -> int:
        self._pending += text
        end = self._pending.rfind("\n") + 1
        if end:
            lines, self._pending = self._pending[:end], self._pending[end:]
            self.stream.write(self.scrubber.scrub(lines))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            text, self._pending = self._pending, ""
            self.stream.write(self.scrubber.scrub(text))
        self.stream.flush()

    def _flush_at_exit(self) -> None:
        with contextlib.suppress(ValueError, OSError):  # the stream may be closed by then
            self.flush()

    def __getattr__(self, name: str) -> Any:
        if name == "buffer":
            self.flush()  # keep text and bytes in the order they were written
        return getattr(self.stream, name)


# The scrubber of this process's configured secrets, once a command has loaded them: the one
# stdout, stderr and the logs already pass through. A reply quoted in a message is scrubbed
# with it before it is cut, so a secret the server echoes across the cut is masked whole.
_installed = SecretScrubber(())
# how much of a reply is scrubbed before the cut: a secret straddling the cut is whole in it
_SCRUB_MARGIN = 1024


def install_scrubber(scrubber: SecretScrubber) -> None:
    """Make ``scrubber`` the one ``reply_head`` uses (``load_config`` does it)."""
    global _installed
    _installed = scrubber


def reply_head(body: bytes, limit: int) -> str:
    """The first ``limit`` characters of a server's reply for a message, its secrets masked
    before the cut (cutting first would leave the start of a straddling secret shown)."""
    text = body[: limit + _SCRUB_MARGIN].decode("utf-8", "replace")
    return _installed.scrub(text)[:limit]
