"""Which deflate library compresses Lumberjack windows, at which of its own levels.

Every candidate writes the zlib format (RFC 1950) that Logstash's Java ``Inflater`` and
go-lumber inflate, so the choice only changes speed and bytes on the wire. Measured on
real-shaped ``sora.connections`` events (current profile, ~3.9 KB each, windows of 2048;
``tools/bench/compression.py`` prints the whole table; CPU time of one core, size as a
share of the raw frames), against the standard library at the level asked for:

- levels 1..3 ask for speed: ISA-L (``isal``) at its level 1 (asked 1) or 2 (asked 2, 3)
  compresses ~4x faster than stdlib zlib at those levels. Its output is as small as
  zlib's at level 1 (0.127) and ~12% / ~23% larger than zlib's at 2 / 3 (0.123 against
  0.110 / 0.100). ISA-L's level 3 is no faster than zlib-ng's and larger, so it is unused;
- levels 4..9 ask for bytes: zlib-ng (``zlib-ng``) at the same level, 1.4x-2.5x faster
  than stdlib zlib with output within 2% of it (smaller at 4, 5, 7, 8). ISA-L has nothing
  that small. Whoever ships over a slow link sets 4: smaller than stdlib zlib at 3 and
  still faster.

Inflation (the receiver behind ``sorabeat receive``) uses zlib-ng's inflater when it can,
~3x faster than stdlib zlib's here (2.1 against 6.0 us per 3.9 KB event).

Both libraries are compiled wheels that release the GIL while they compress, so a window
compressed in a worker thread leaves the event loop free and runs on another core. When
a library cannot be imported, the next one in the plan is used, down to the standard
library's ``zlib``, which is always there.
"""

from __future__ import annotations

import functools
import importlib
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Protocol

ISAL = "isal"
ZLIB_NG = "zlib-ng"
STDLIB = "zlib"
LIBRARIES = (ISAL, ZLIB_NG, STDLIB)  # every library a plan may name

# asked level -> (library, its level), best first; the last is always the standard library
_PLANS: dict[int, tuple[tuple[str, int], ...]] = {
    1: ((ISAL, 1), (ZLIB_NG, 1), (STDLIB, 1)),
    2: ((ISAL, 2), (ZLIB_NG, 2), (STDLIB, 2)),
    3: ((ISAL, 2), (ZLIB_NG, 3), (STDLIB, 3)),
    **{level: ((ZLIB_NG, level), (STDLIB, level)) for level in range(4, 10)},
}

_MODULES = {ISAL: "isal.isal_zlib", ZLIB_NG: "zlib_ng.zlib_ng"}
_DISTRIBUTIONS = {ISAL: "isal", ZLIB_NG: "zlib_ng"}


@dataclass(frozen=True, slots=True)
class Deflater:
    """One zlib-format compressor at one of its levels; safe to call from any thread."""

    library: str
    version: str
    level: int  # the library's own level
    asked: int  # the compression_level it stands for
    _compress: Callable[[bytes, int], bytes]

    def __call__(self, data: bytes) -> bytes:
        return self._compress(data, self.level)

    def stream(self, _asked: int) -> Deflate:
        """A fresh zlib stream at the library's own level (the ``NewDeflate`` hook of
        ``protocol.encode_window``: the level it passes is ``asked``, mapped already)."""
        new: Callable[[int], Deflate] = _module(self.library).compressobj
        return new(self.level)

    def describe(self) -> str:
        return f"level {self.asked}: {self.library} {self.version} at its level {self.level}"


class Deflate(Protocol):
    """One zlib-format stream being written: what ``zlib.compressobj()`` returns."""

    def compress(self, data: bytes, /) -> bytes: ...

    def flush(self, mode: int = ..., /) -> bytes: ...


def _module(library: str) -> ModuleType:
    return zlib if library == STDLIB else importlib.import_module(_MODULES[library])


@functools.cache
def _load(library: str) -> tuple[Callable[[bytes, int], bytes], str] | None:
    """The library's compress function and version, or None if it cannot be imported."""
    if library == STDLIB:
        return zlib.compress, zlib.ZLIB_RUNTIME_VERSION
    try:
        module = importlib.import_module(_MODULES[library])
        package = importlib.import_module(_DISTRIBUTIONS[library])
    except ImportError:
        return None
    compress: Callable[[bytes, int], bytes] = module.compress
    return compress, str(getattr(package, "__version__", "?"))


def deflater(level: int, libraries: Sequence[str] = LIBRARIES) -> Deflater:
    """The best importable compressor for ``compression_level`` ``level`` (1..9), among
    ``libraries`` (benchmarks pass ``("zlib",)`` to measure the standard library)."""
    if level not in _PLANS:
        raise ValueError(f"compression level {level} (1..9 allowed)")
    for library, own_level in _PLANS[level]:
        if library not in libraries:
            continue
        loaded = _load(library)
        if loaded is not None:
            compress, version = loaded
            return Deflater(library, version, own_level, level, compress)
    raise ValueError(f"none of {', '.join(libraries)} can compress at level {level}")


def describe(level: int, libraries: Sequence[str] = LIBRARIES) -> str:
    """What ``sorabeat test output`` prints about compression."""
    if level <= 0:
        return "disabled (compression_level: 0)"
    return deflater(level, libraries).describe()


class Inflater(Protocol):
    """What ``zlib.decompressobj()`` returns, as the frame decoder uses it."""

    @property
    def unconsumed_tail(self) -> bytes: ...

    @property
    def unused_data(self) -> bytes: ...

    @property
    def eof(self) -> bool: ...

    def decompress(self, data: bytes | bytearray, max_length: int = 0, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Inflation:
    library: str
    new: Callable[[], Inflater]  # a fresh inflater for one zlib stream
    errors: tuple[type[Exception], ...]  # what it raises on corrupt data


@functools.cache
def inflation(libraries: tuple[str, ...] = (ZLIB_NG, STDLIB)) -> Inflation:
    """The fastest importable zlib-format inflater among ``libraries``."""
    if ZLIB_NG in libraries and _load(ZLIB_NG) is not None:
        module = importlib.import_module(_MODULES[ZLIB_NG])
        return Inflation(ZLIB_NG, module.decompressobj, (module.error, zlib.error))
    return Inflation(STDLIB, zlib.decompressobj, (zlib.error,))
