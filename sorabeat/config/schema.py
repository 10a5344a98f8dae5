"""Settings are declared once, as dataclasses.

The same declaration validates raw YAML (collecting every problem, not only the first),
supplies defaults, lists every accepted key (the reference-file test walks it) and marks
secrets (``export config`` masks them). Value kinds that YAML has no type for
(durations, byte sizes, ranges) ride along as ``typing.Annotated`` extras.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import yaml

from sorabeat.config import yamlbounds

T = TypeVar("T")

Path = tuple[str, ...]


class ExpandedStr(str):
    """Text that came from ``${...}`` expansion.

    As in metricbeat, such text is read as whatever the setting needs: ``${ENABLED:true}``
    fills a boolean, ``${PORT}`` an integer.
    """


def _typed(value: Any) -> Any:
    if isinstance(value, ExpandedStr):
        try:
            parsed = yamlbounds.safe_load(value)
        except yaml.YAMLError:
            return str(value)
        return parsed if isinstance(parsed, bool | int | float | list) else str(value)
    return value


class Kind:
    """A value kind that converts a YAML scalar, or raises ValueError saying what was expected."""

    def convert(self, value: Any) -> Any:
        raise NotImplementedError


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_duration(text: str) -> float:
    """Parse a Go-style duration ("10s", "1m30s", "250ms") into seconds."""
    s = text.strip()
    if not s:
        raise ValueError("empty duration")
    sign = 1.0
    if s[0] in "+-":
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    pos = 0
    total = 0.0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if m is None:
            raise ValueError(f"invalid duration {text!r} (expected e.g. 10s, 500ms, 1m30s)")
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    return sign * total


class Duration(Kind):
    """A duration: a Go-style string ("10s") or a number of seconds."""

    def __init__(self, allow_zero: bool = True) -> None:
        self.allow_zero = allow_zero

    def convert(self, value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError(f"expected a duration such as 10s, got {value!r}")
        if isinstance(value, int | float):
            seconds = float(value)
        elif isinstance(value, str):
            seconds = parse_duration(value)
        else:
            raise ValueError(f"expected a duration such as 10s, got {_describe(value)}")
        if not math.isfinite(seconds):
            raise ValueError(f"duration must be finite, got {value!r}")
        if seconds < 0 or (seconds == 0 and not self.allow_zero):
            raise ValueError(f"duration must be {'>= 0' if self.allow_zero else '> 0'}")
        return seconds


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "ki": 1024,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mi": 1024**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gi": 1024**3,
    "gib": 1024**3,
    "t": 1000**4,
    "tb": 1000**4,
    "ti": 1024**4,
    "tib": 1024**4,
}


def parse_size(text: str) -> int:
    """Parse a byte size ("1GiB", "100MB", "4096") into bytes."""
    m = _SIZE.match(text)
    if m is None:
        raise ValueError(f"invalid size {text!r} (expected e.g. 1GiB, 512MB, 4096)")
    return int(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "").lower()])


class ByteSize(Kind):
    def convert(self, value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(f"expected a size such as 1GiB, got {value!r}")
        if isinstance(value, int):
            size = value
        elif isinstance(value, str):
            size = parse_size(value)
        else:
            raise ValueError(f"expected a size such as 1GiB, got {_describe(value)}")
        if size < 0:
            raise ValueError("size must be >= 0")
        return size


class Range(Kind):
    """Bounds on an int or float that was already converted."""

    def __init__(self, low: float | None = None, high: float | None = None) -> None:
        self.low = low
        self.high = high

    def convert(self, value: Any) -> Any:
        if self.low is not None and value < self.low:
            raise ValueError(f"must be >= {_num(self.low)}, got {value}")
        if self.high is not None and value > self.high:
            raise ValueError(f"must be <= {_num(self.high)}, got {value}")
        return value


class Pattern(Kind):
    def __init__(self, regex: str, meaning: str) -> None:
        self.regex = re.compile(regex)
        self.meaning = meaning

    def convert(self, value: Any) -> Any:
        if not self.regex.fullmatch(value):
            raise ValueError(f"{value!r} is not {self.meaning}")
        return value


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def header_problems(headers: Mapping[str, str], key: str = "headers") -> list[tuple[str, str]]:
    """HTTP header names must be tokens and values ASCII text on one line (the value is not
    repeated in the message: it may be a credential)."""
    out: list[tuple[str, str]] = []
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name):
            out.append((f"{key}.{name}", "not a valid HTTP header name"))
        elif not value.isascii() or "\r" in value or "\n" in value:
            out.append((f"{key}.{name}", "the value must be ASCII text on one line"))
    return out


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


Seconds = Annotated[float, Duration()]
PositiveSeconds = Annotated[float, Duration(allow_zero=False)]
Size = Annotated[int, ByteSize()]


def setting(
    default: Any = dataclasses.MISSING,
    *,
    factory: Any = dataclasses.MISSING,
    doc: str = "",
    secret: bool = False,
    aliases: tuple[str, ...] = (),
) -> Any:
    """Declare a setting with its documentation, aliases and whether it is secret."""
    metadata = {"doc": doc, "secret": secret, "aliases": aliases}
    if factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the configuration, located as precisely as we can."""

    key: str
    message: str
    origin: str | None = None

    def __str__(self) -> str:
        where = f"{self.origin}: " if self.origin else ""
        key = f"{self.key}: " if self.key else ""
        return f"{where}{key}{self.message}"


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Annotated:
        base, *extras = get_args(tp)
        for extra in extras:
            if isinstance(extra, Duration):
                return "a duration such as 10s"
            if isinstance(extra, ByteSize):
                return "a size such as 1GiB"
        return _type_name(base)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (list, typing.List):  # noqa: UP006
        return f"a list of {_type_name(get_args(tp)[0]).removeprefix('a ').removeprefix('an ')}s"
    if origin in (dict, typing.Dict):  # noqa: UP006
        return "a mapping"
    if _is_optional(tp):
        return _type_name(_strip_optional(tp))
    if tp is bool:
        return "a boolean"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is str:
        return "a string"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return "a value"


def _is_optional(tp: Any) -> bool:
    origin = get_origin(tp)
    return origin in (Union, types.UnionType) and type(None) in get_args(tp)


def _strip_optional(tp: Any) -> Any:
    args = [a for a in get_args(tp) if a is not type(None)]
    return args[0] if len(args) == 1 else Union[tuple(args)]  # noqa: UP007


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


def find_origin(origins: Mapping[Path, str], path: Path) -> str | None:
    """Where ``path`` was set: its own line, else that of its nearest enclosing key."""
    for n in range(len(path), -1, -1):
        hit = origins.get(path[:n])
        if hit is not None:
            return hit
    return None


def dotted(path: Path) -> str:
    return ".".join(path)


class Validator:
    """Builds typed settings from raw YAML data, collecting every problem."""

    def __init__(
        self,
        origins: Mapping[Path, str] | None = None,
        expand_default: Callable[[str, Path], str | None] | None = None,
    ) -> None:
        self.origins: Mapping[Path, str] = origins or {}
        self.problems: list[Problem] = []
        # defaults such as "${path.data}/spool" are expanded like values given in a file
        self.expand_default = expand_default

    def origin_of(self, path: Path) -> str | None:
        return find_origin(self.origins, path)

    def problem(self, path: Path, message: str) -> None:
        self.problems.append(Problem(dotted(path), message, self.origin_of(path)))

    def build(self, cls: type[T], raw: Any, path: Path = ()) -> T:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            self.problem(path, f"expected a mapping, got {_describe(raw)}")
            raw = {}
        hints = _hints(cls)
        known: dict[str, dataclasses.Field[Any]] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            known[f.name] = f
            for alias in f.metadata.get("aliases", ()):
                known[alias] = f
        for key in raw:
            if key not in known:
                suggestion = difflib.get_close_matches(str(key), list(known), n=1)
                hint = f" (did you mean {suggestion[0]!r}?)" if suggestion else ""
                self.problem((*path, str(key)), f"unknown setting{hint}")
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            names = (f.name, *f.metadata.get("aliases", ()))
            present = [n for n in names if n in raw]
            if len(present) > 1:
                self.problem((*path, present[1]), f"conflicts with {present[0]!r}; set only one")
            if present:
                key = present[0]
                value = self.convert(hints[f.name], raw[key], (*path, key))
                if value is _INVALID:
                    value = _default_of(f, hints[f.name])
                values[f.name] = value
            elif dataclasses.is_dataclass(_strip_annotated(hints[f.name])):
                values[f.name] = self.build(_strip_annotated(hints[f.name]), {}, (*path, f.name))
            elif (
                self.expand_default is not None and isinstance(f.default, str) and "${" in f.default
            ):
                expanded = self.expand_default(f.default, (*path, f.name))
                values[f.name] = f.default if expanded is None else expanded
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                self.problem((*path, f.name), "required setting is missing")
                values[f.name] = _placeholder(hints[f.name])
        try:
            obj = cls(**values)
        except (TypeError, ValueError) as exc:  # a placeholder did not fit; already reported
            self.problem(path, str(exc))
            obj = cls(**{k: v for k, v in values.items() if v is not None})
        check = getattr(obj, "problems", None)
        if callable(check):
            for subkey, message in check():
                self.problem(path + tuple(subkey.split(".")) if subkey else path, message)
        return obj

    def convert(self, tp: Any, value: Any, path: Path) -> Any:
        if not _accepts_text(tp):
            value = _typed(value)
        origin = get_origin(tp)
        if origin is Annotated:
            base, *extras = get_args(tp)
            kinds = [e for e in extras if isinstance(e, Kind)]
            converted = value
            first = kinds[0] if kinds and isinstance(kinds[0], Duration | ByteSize) else None
            if first is None:
                converted = self.convert(base, value, path)
                if converted is _INVALID:
                    return _INVALID
            for kind in kinds:
                try:
                    converted = kind.convert(converted)
                except ValueError as exc:
                    self.problem(path, str(exc))
                    return _INVALID
            return converted
        if _is_optional(tp):
            inner = _strip_optional(tp)
            if value is None:
                # "output.console:" with nothing below it turns the section on with defaults
                if isinstance(inner, type) and dataclasses.is_dataclass(inner):
                    return self.build(inner, {}, path)
                return None
            return self.convert(inner, value, path)
        if tp is Any:
            return value
        if dataclasses.is_dataclass(tp):
            return self.build(tp, value, path)  # type: ignore[arg-type]
        if origin is Literal:
            choices = get_args(tp)
            if isinstance(value, int) and not isinstance(value, bool) and str(value) in choices:
                return str(value)
            if value in choices and not isinstance(value, bool):
                return value
            self.problem(path, f"expected {_type_name(tp)}, got {_describe(value)}")
            return _INVALID
        if origin in (list, typing.List):  # noqa: UP006
            (item_tp,) = get_args(tp)
            if value is None:
                return []
            if not isinstance(value, list):
                value = [value]  # a scalar stands for a one-element list, as in metricbeat
            out = []
            for i, item in enumerate(value):
                converted = self.convert(item_tp, item, (*path, str(i)))
                if converted is not _INVALID:
                    out.append(converted)
            return out
        if origin in (dict, typing.Dict):  # noqa: UP006
            _key_tp, item_tp = get_args(tp)
            if value is None:
                return {}
            if not isinstance(value, dict):
                self.problem(path, f"expected a mapping, got {_describe(value)}")
                return {}
            converted_map = {
                str(k): self.convert(item_tp, v, (*path, str(k))) for k, v in value.items()
            }
            return {k: v for k, v in converted_map.items() if v is not _INVALID}
        if tp is bool:
            if isinstance(value, bool):
                return value
            self.problem(path, f"expected a boolean (true or false), got {_describe(value)}")
            return _INVALID
        if tp is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            self.problem(path, f"expected an integer, got {_describe(value)}")
            return _INVALID
        if tp is float:
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
            self.problem(path, f"expected a number, got {_describe(value)}")
            return _INVALID
        if tp is str:
            if isinstance(value, str):
                return value
            if isinstance(value, int) and not isinstance(value, bool):
                return str(value)
            self.problem(path, f"expected a string, got {_describe(value)} (quote it)")
            return _INVALID
        raise TypeError(f"unsupported settings type {tp!r} at {dotted(path)}")


class _Invalid:
    def __repr__(self) -> str:
        return "<invalid>"


_INVALID: Any = _Invalid()


def _accepts_text(tp: Any) -> bool:
    """Whether a setting takes text as written (so expanded text must not be YAML-typed)."""
    tp = _strip_annotated(tp)
    if _is_optional(tp):
        tp = _strip_annotated(_strip_optional(tp))
    return tp is str or tp is Any


def _strip_annotated(tp: Any) -> Any:
    if get_origin(tp) is Annotated:
        return get_args(tp)[0]
    return tp


def _default_of(f: dataclasses.Field[Any], tp: Any) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return _placeholder(tp)


def _placeholder(tp: Any) -> Any:
    tp = _strip_annotated(tp)
    if _is_optional(tp):
        return None
    origin = get_origin(tp)
    if origin is Literal:
        return get_args(tp)[0]
    if origin in (list, typing.List):  # noqa: UP006
        return []
    if origin in (dict, typing.Dict):  # noqa: UP006
        return {}
    if tp in (bool, int, float, str):
        return tp()
    return None


@dataclass(frozen=True)
class KeyInfo:
    """One accepted key, for the reference file and for secret masking."""

    path: Path
    type_name: str
    default: Any
    doc: str
    secret: bool
    free_form: bool  # the value is a mapping of user-chosen keys
    alias: bool = False  # another accepted name of a setting


def walk_keys(cls: type, prefix: Path = ()) -> Iterator[KeyInfo]:
    """Every key ``cls`` accepts (aliases included), depth first."""
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        tp = _strip_annotated(hints[f.name])
        if _is_optional(tp):
            tp = _strip_annotated(_strip_optional(tp))
        for name in (f.name, *f.metadata.get("aliases", ())):
            path = (*prefix, name)
            if dataclasses.is_dataclass(tp):
                yield from walk_keys(tp, path)  # type: ignore[arg-type]
                continue
            item = get_args(tp)[0] if get_origin(tp) in (list, typing.List) else None  # noqa: UP006
            if item is not None and dataclasses.is_dataclass(item):
                yield from walk_keys(item, (*path, "*"))  # type: ignore[arg-type]
                continue
            default: Any = None
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            yield KeyInfo(
                path=path,
                type_name=_type_name(hints[f.name]),
                default=default,
                doc=str(f.metadata.get("doc", "")),
                secret=bool(f.metadata.get("secret", False)),
                free_form=get_origin(tp) in (dict, typing.Dict) or tp is Any,  # noqa: UP006
                alias=name != f.name,
            )
