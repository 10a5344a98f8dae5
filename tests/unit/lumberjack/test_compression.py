"""The compressor of Lumberjack windows: every level of every library inflates with stdlib
zlib (what Logstash's Java Inflater and go-lumber use), and a library that cannot be
imported falls back to the next, down to the standard library."""

from __future__ import annotations

import subprocess
import sys
import zlib

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sorabeat.lumberjack import compression, protocol
from tools.bench.sample_events import connection_events

LIBRARY_LEVELS = [(compression.ISAL, level) for level in range(0, 4)] + [
    (library, level)
    for library in (compression.ZLIB_NG, compression.STDLIB)
    for level in range(1, 10)
]


def window_frames(count: int) -> bytes:
    return protocol.json_frames(connection_events(count, connections=500))


@pytest.mark.parametrize(("library", "own_level"), LIBRARY_LEVELS)
def test_every_level_of_every_library_inflates_with_stdlib_zlib(
    library: str, own_level: int
) -> None:
    loaded = compression._load(library)
    assert loaded is not None, f"{library} is a dependency and must import here"
    compress, _ = loaded
    frames = window_frames(40)
    packed = compress(frames, own_level)
    assert zlib.decompress(packed) == frames
    # the way a streaming server reads it: a bounded inflater, chunk by chunk
    inflater = zlib.decompressobj()
    out = b"".join(inflater.decompress(packed[i : i + 997]) for i in range(0, len(packed), 997))
    assert out + inflater.flush() == frames and inflater.eof


@pytest.mark.parametrize("level", range(1, 10))
def test_each_asked_level_round_trips_through_the_frame_decoder(level: int) -> None:
    deflate = compression.deflater(level)
    events = connection_events(30, connections=500)
    window = protocol.window_frame(30) + protocol.compressed_frame(
        deflate(protocol.json_frames(events))
    )
    frames = protocol.FrameDecoder().feed(window)
    assert [f.payload for f in frames if isinstance(f, protocol.Event)] == events


@pytest.mark.parametrize("level", range(1, 10))
def test_each_asked_level_streams_a_window_the_decoder_and_zlib_inflate(level: int) -> None:
    """What the output sends: the window compressed piece by piece by the chosen library."""
    events = connection_events(protocol.FRAMES_PER_PIECE + 30, connections=500)
    window = protocol.encode_window(events, level, compression.deflater(level).stream)
    frames = protocol.FrameDecoder().feed(window)
    assert [f.payload for f in frames if isinstance(f, protocol.Event)] == events
    assert zlib.decompress(window[12:]) == protocol.json_frames(events)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=40), st.integers(1, 9))
def test_any_payloads_round_trip_at_any_level(payloads: list[bytes], level: int) -> None:
    frames = protocol.json_frames(payloads)
    assert zlib.decompress(compression.deflater(level)(frames)) == frames


def test_the_chosen_libraries_are_the_measured_ones() -> None:
    assert [compression.deflater(level).library for level in range(1, 10)] == (
        [compression.ISAL] * 3 + [compression.ZLIB_NG] * 6
    )
    assert compression.deflater(3).level == 2
    assert compression.deflater(7).level == 7


def test_the_standard_library_can_be_pinned_for_benchmarks() -> None:
    for level in range(1, 10):
        pinned = compression.deflater(level, (compression.STDLIB,))
        assert (pinned.library, pinned.level) == (compression.STDLIB, level)
        frames = window_frames(5)
        assert pinned(frames) == zlib.compress(frames, level)


def test_a_level_outside_1_to_9_is_refused() -> None:
    with pytest.raises(ValueError, match="compression level 10"):
        compression.deflater(10)
    assert compression.describe(0).startswith("disabled")


FALLBACK = """
import sys, zlib
for name in sys.argv[1:]:
    sys.modules[name] = None  # what an absent package looks like to import
from sorabeat.lumberjack import compression
import orjson
print(orjson.dumps([[compression.deflater(l).library, compression.deflater(l).level,
    zlib.decompress(compression.deflater(l)(b"x" * 1000 + b"y" * 7)) == b"x" * 1000 + b"y" * 7]
    for l in range(1, 10)]).decode())
"""


def run_without(*modules: str) -> list[list[object]]:
    result = subprocess.run(
        [sys.executable, "-c", FALLBACK, *modules], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    rows: list[list[object]] = orjson.loads(result.stdout)
    return rows


def test_without_isal_the_fast_levels_use_zlib_ng_at_the_same_level() -> None:
    rows = run_without("isal", "isal.isal_zlib")
    assert rows == [[compression.ZLIB_NG, level, True] for level in range(1, 10)]


def test_without_either_package_the_standard_library_compresses() -> None:
    rows = run_without("isal", "isal.isal_zlib", "zlib_ng", "zlib_ng.zlib_ng")
    assert rows == [[compression.STDLIB, level, True] for level in range(1, 10)]


@pytest.mark.parametrize(
    "libraries", [(compression.ZLIB_NG, compression.STDLIB), (compression.STDLIB,)]
)
def test_inflation_of_either_library_reads_every_compressor_and_refuses_garbage(
    libraries: tuple[str, ...],
) -> None:
    inflate = compression.inflation(libraries)
    assert inflate.library == libraries[0]
    frames = window_frames(20)
    for level in range(1, 10):
        inflater = inflate.new()
        assert inflater.decompress(compression.deflater(level)(frames), 1 << 30) == frames
        assert inflater.eof and not inflater.unused_data
    with pytest.raises(inflate.errors):
        inflate.new().decompress(b"\x78\x9cgarbage-not-deflate", 1 << 20)


def test_the_receiver_inflates_with_zlib_ng_unless_it_is_missing() -> None:
    assert compression.inflation().library == compression.ZLIB_NG
    code = (
        "import sys; sys.modules['zlib_ng'] = None; sys.modules['zlib_ng.zlib_ng'] = None; "
        "from sorabeat.lumberjack import compression; print(compression.inflation().library)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == compression.STDLIB, result.stderr
