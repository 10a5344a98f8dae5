"""libbeat format strings (``index``, ``pipeline``, ``setup.template.*``), sans-IO.

``%{[field.path]}`` references an event field, ``%{[field]:default}`` gives it a fallback,
``%{+yyyy.MM.dd}`` formats the event's @timestamp (UTC, Joda-style letters). Fields known
when the output starts (the agent's) are resolved once; only the other references need the
event's JSON.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import orjson

_TOKEN = re.compile(r"%\{(\[[^\]]*\](?::[^}]*)?|\+[^}]*)\}")
_REFERENCE = re.compile(r"\[([^\]]*)\](?::(.*))?", re.DOTALL)
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


class FormatError(ValueError):
    """A format string that cannot be compiled."""


class MissingFieldError(LookupError):
    """The event lacks a field the format string needs and no default was given."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


@dataclass(frozen=True)
class _Literal:
    text: str


@dataclass(frozen=True)
class _Field:
    path: str
    default: str | None


@dataclass(frozen=True)
class _Date:
    format: DateFormat


Piece = _Literal | _Field | _Date


class DateFormat:
    """A Joda-style date pattern applied to an encoded event's ``@timestamp`` text.

    ``@timestamp`` is always ``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC, so the common letters are
    slices of it; results are cached per distinct prefix the pattern depends on.
    """

    # how much of the timestamp text each letter depends on
    _WIDTH: ClassVar[dict[str, int]] = {
        **dict.fromkeys("y", 4),
        **dict.fromkeys("M", 7),
        **dict.fromkeys("dDEewx", 10),
        **{"H": 13, "m": 16, "s": 19, "S": 23},
    }

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._parts: list[str | tuple[str, int]] = []
        depth = 0
        i = 0
        while i < len(pattern):
            c = pattern[i]
            if c == "'":
                end = pattern.find("'", i + 1)
                if end < 0:
                    raise FormatError(f"date pattern {pattern!r}: unclosed quote")
                self._parts.append(pattern[i + 1 : end] if end > i + 1 else "'")
                i = end + 1
                continue
            if c.isalpha():
                if c not in self._WIDTH:
                    raise FormatError(
                        f"date pattern {pattern!r}: letter {c!r} is not supported "
                        "(use y, M, d, D, E, e, w, x, H, m, s, S and quoted text)"
                    )
                run = len(pattern[i:]) - len(pattern[i:].lstrip(c))
                self._parts.append((c, run))
                depth = max(depth, self._WIDTH[c])
                i += run
                continue
            self._parts.append(c)
            i += 1
        self._depth = depth
        self._cache: dict[str, str] = {}

    def __call__(self, timestamp: str) -> str:
        key = timestamp[: self._depth]
        hit = self._cache.get(key)
        if hit is None:
            if len(self._cache) > 4096:
                self._cache.clear()
            hit = self._cache[key] = self._render(timestamp)
        return hit

    def _render(self, ts: str) -> str:
        try:
            dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
        except ValueError:
            raise FormatError(f"event @timestamp {ts!r} is not an ISO time") from None
        out: list[str] = []
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(_letter(dt, *part))
        return "".join(out)


def _letter(dt: datetime, letter: str, run: int) -> str:
    if letter == "y":
        return f"{dt.year % 100:02d}" if run == 2 else f"{dt.year:0{run}d}"
    if letter == "x":
        year = dt.isocalendar().year
        return f"{year % 100:02d}" if run == 2 else f"{year:0{run}d}"
    if letter == "M":
        if run >= 4:
            return _MONTHS[dt.month - 1]
        if run == 3:
            return _MONTHS[dt.month - 1][:3]
        return f"{dt.month:0{run}d}"
    if letter == "E":
        return _DAYS[dt.weekday()] if run >= 4 else _DAYS[dt.weekday()][:3]
    if letter == "S":
        micros = f"{dt.microsecond:06d}"
        return (micros + "000")[:run]
    value = {
        "d": dt.day,
        "D": dt.timetuple().tm_yday,
        "e": dt.isoweekday(),
        "w": dt.isocalendar().week,
        "H": dt.hour,
        "m": dt.minute,
        "s": dt.second,
    }[letter]
    return f"{value:0{run}d}"


def parse(text: str) -> list[Piece]:
    """Split a format string into literals, field references and dates."""
    pieces: list[Piece] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        if m.start() > pos:
            pieces.append(_Literal(text[pos : m.start()]))
        body = m.group(1)
        if body.startswith("+"):
            pieces.append(_Date(DateFormat(body[1:])))
        else:
            ref = _REFERENCE.fullmatch(body)
            if ref is None or not ref.group(1):
                raise FormatError(f"format string {text!r}: empty field reference")
            pieces.append(_Field(ref.group(1), ref.group(2)))
        pos = m.end()
    rest = text[pos:]
    if "%{" in rest:
        raise FormatError(
            f"format string {text!r}: unclosed or malformed %{{...}} "
            "(expected %{[field]}, %{[field]:default} or %{+yyyy.MM.dd})"
        )
    if rest:
        pieces.append(_Literal(rest))
    return pieces


def lookup(document: Any, path: str) -> Any:
    """A field of a decoded event by dotted path (nested objects, or a literal dotted key)."""
    if isinstance(document, dict) and path in document:
        return document[path]
    node = document
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return orjson.dumps(value).decode()


EventFields = Callable[[], Any]


class EventFormat:
    """A compiled format string: ``render(timestamp, fields)`` gives the lowercased text.

    ``static`` holds fields known at start; ``fields`` is called (at most once per render)
    only when a reference is not among them, and returns the decoded event.
    """

    def __init__(
        self, text: str, static: Mapping[str, str] | None = None, lowercase: bool = True
    ) -> None:
        self.text = text
        self.lowercase = lowercase
        static = static or {}
        pieces: list[Piece] = []
        for piece in parse(text):
            if isinstance(piece, _Field) and piece.path in static:
                piece = _Literal(static[piece.path])
            last = pieces[-1] if pieces else None
            if isinstance(piece, _Literal) and isinstance(last, _Literal):
                pieces[-1] = _Literal(last.text + piece.text)
            else:
                pieces.append(piece)
        self._pieces = pieces
        self.needs_event = any(isinstance(p, _Field) for p in pieces)
        dates = [p.format._depth for p in pieces if isinstance(p, _Date)]
        self.depth = max(dates, default=0)  # characters of @timestamp the text depends on
        self.constant = all(isinstance(p, _Literal) for p in pieces)
        self._by_timestamp: Callable[[str], str] | None = None
        if not self.needs_event:
            self._by_timestamp = self._compile_static()

    def _compile_static(self) -> Callable[[str], str]:
        pieces = self._pieces
        if self.constant:
            value = "".join(p.text for p in pieces if isinstance(p, _Literal))
            value = value.lower() if self.lowercase else value
            return lambda _ts: value
        cache: dict[str, str] = {}
        dates = [p for p in pieces if isinstance(p, _Date)]
        depth = max(d.format._depth for d in dates)

        def render(ts: str) -> str:
            key = ts[:depth]
            hit = cache.get(key)
            if hit is None:
                if len(cache) > 4096:
                    cache.clear()
                hit = cache[key] = self._render(ts, None)
            return hit

        return render

    @property
    def value(self) -> str | None:
        """The text when it depends on nothing (no date, no event field)."""
        return self._by_timestamp("") if self.constant and self._by_timestamp else None

    def render(self, timestamp: str, fields: EventFields | None = None) -> str:
        if self._by_timestamp is not None:
            return self._by_timestamp(timestamp)
        return self._render(timestamp, fields)

    def _render(self, timestamp: str, fields: EventFields | None) -> str:
        out: list[str] = []
        document: Any = None
        loaded = False
        for piece in self._pieces:
            if isinstance(piece, _Literal):
                out.append(piece.text)
            elif isinstance(piece, _Date):
                out.append(piece.format(timestamp))
            else:
                if not loaded:
                    document = fields() if fields is not None else None
                    loaded = True
                value = lookup(document, piece.path)
                if value is None:
                    if piece.default is None:
                        raise MissingFieldError(piece.path)
                    out.append(piece.default)
                else:
                    out.append(_text(value))
        text = "".join(out)
        return text.lower() if self.lowercase else text
