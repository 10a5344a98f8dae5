"""The Lumberjack v2 codec: exact bytes, round trips, every malformed input, any chunking."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sorabeat.lumberjack.protocol import (
    FRAMES_PER_PIECE,
    AckReader,
    AckTracker,
    Event,
    FrameDecoder,
    ProtocolError,
    WindowEnd,
    WindowStart,
    ack_frame,
    compressed_frame,
    encode_window,
    json_frames,
    window_frame,
)

payload = st.binary(min_size=1, max_size=300)
payload_lists = st.lists(payload, min_size=1, max_size=40)
levels = st.integers(min_value=0, max_value=9)


def j(seq: int, data: bytes) -> bytes:
    return b"2J" + struct.pack(">II", seq, len(data)) + data


def c(inner: bytes) -> bytes:
    body = zlib.compress(inner)
    return b"2C" + struct.pack(">I", len(body)) + body


def decode(data: bytes, **kw: int) -> list[object]:
    return list(FrameDecoder(**kw).feed(data))


def events_of(frames: list[object]) -> list[bytes]:
    return [f.payload for f in frames if isinstance(f, Event)]


# --- encoding: exact bytes ------------------------------------------------------------------


def test_uncompressed_window_bytes_are_exact() -> None:
    data = encode_window([b'{"a":1}', b"{}"], 0)
    assert data == (
        b"2W\x00\x00\x00\x02"
        + b"2J\x00\x00\x00\x01\x00\x00\x00\x07"
        + b'{"a":1}'
        + b"2J\x00\x00\x00\x02\x00\x00\x00\x02{}"
    )


def test_compressed_window_keeps_w_outside_and_uses_zlib_format() -> None:
    data = encode_window([b'{"a":1}', b"{}"], 3)
    assert data[:6] == b"2W\x00\x00\x00\x02"
    assert data[6:8] == b"2C"
    (size,) = struct.unpack(">I", data[8:12])
    body = data[12:]
    assert size == len(body)
    assert body[0] == 0x78  # zlib header (RFC 1950), not gzip (0x1f) nor raw deflate
    assert zlib.decompress(body) == json_frames([b'{"a":1}', b"{}"])


def test_a_large_window_is_compressed_piece_by_piece_into_one_stream() -> None:
    """The compressor never holds the whole window's frames (~8 MB for 2048 connection
    events): it gets them FRAMES_PER_PIECE at a time, numbered on across the pieces."""
    payloads = [b'{"n":%05d}' % i for i in range(2 * FRAMES_PER_PIECE + 7)]  # all one size
    largest: list[int] = []

    class Recording:
        def __init__(self, level: int) -> None:
            self.inner = zlib.compressobj(level)

        def compress(self, data: bytes, /) -> bytes:
            largest.append(len(data))
            return self.inner.compress(data)

        def flush(self, mode: int = zlib.Z_FINISH, /) -> bytes:
            return self.inner.flush(mode)

    data = encode_window(payloads, 3, Recording)
    assert len(largest) == 3
    assert max(largest) == len(json_frames(payloads[:FRAMES_PER_PIECE]))
    (size,) = struct.unpack(">I", data[8:12])
    assert size == len(data) - 12
    assert zlib.decompress(data[12:]) == json_frames(payloads)  # seq 1..N, one stream
    frames = decode(data)
    assert [f.seq for f in frames if isinstance(f, Event)] == list(range(1, len(payloads) + 1))


def test_json_frames_number_from_first() -> None:
    assert json_frames([b"{}"], 5) == b"2J\x00\x00\x00\x05\x00\x00\x00\x02{}"


def test_sequence_numbers_restart_at_one_every_window() -> None:
    for _ in range(2):
        frames = decode(encode_window([b"{}"] * 3))
        assert [f.seq for f in frames if isinstance(f, Event)] == [1, 2, 3]


def test_payloads_are_passed_through_untouched() -> None:
    odd = b'{"x":"<&>\\u0000","y":NaN}'  # not even valid JSON: never re-parsed
    assert events_of(decode(encode_window([odd], 0))) == [odd]


def test_empty_payload_and_oversized_window_are_refused_by_the_encoder() -> None:
    with pytest.raises(ValueError, match="empty"):
        json_frames([b"{}", b""])
    with pytest.raises(ValueError, match="10001"):
        window_frame(10001)


def test_ack_frame_bytes() -> None:
    assert ack_frame(2048) == b"2A\x00\x00\x08\x00"


# --- round trips ----------------------------------------------------------------------------


@given(payload_lists, levels)
def test_round_trip(payloads: list[bytes], level: int) -> None:
    frames = decode(encode_window(payloads, level))
    assert frames[0] == WindowStart(len(payloads))
    assert frames[-1] == WindowEnd(len(payloads), len(payloads))
    assert events_of(frames) == payloads
    assert [f.seq for f in frames if isinstance(f, Event)] == list(range(1, len(payloads) + 1))


@given(st.lists(payload_lists, min_size=1, max_size=4), levels, st.data())
@settings(max_examples=150)
def test_any_chunking_gives_the_same_frames(
    windows: list[list[bytes]], level: int, data: st.DataObject
) -> None:
    stream = b"".join(encode_window(w, level) for w in windows)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=30), label="cuts"))
    decoder = FrameDecoder()
    frames: list[object] = []
    previous = 0
    for cut in [*cuts, len(stream)]:
        frames.extend(decoder.feed(stream[previous:cut]))
        previous = cut
    assert frames == decode(stream)
    assert events_of(frames) == [p for w in windows for p in w]


@pytest.mark.parametrize("level", [0, 1, 9])
def test_feeding_one_byte_at_a_time(level: int) -> None:
    payloads = [b'{"n":%d}' % i for i in range(20)]
    stream = encode_window(payloads, level) + encode_window(payloads[:3], level)
    decoder = FrameDecoder()
    frames: list[object] = []
    for i in range(len(stream)):
        frames.extend(decoder.feed(stream[i : i + 1]))
    assert frames == decode(stream)
    assert decoder.buffered == 0


def test_nested_compressed_frames_are_accepted() -> None:
    stream = b"2W" + struct.pack(">I", 3) + c(j(1, b"{}") + c(j(2, b"[]") + j(3, b"1")))
    assert events_of(decode(stream)) == [b"{}", b"[]", b"1"]


def test_empty_window_starts_and_ends_at_once() -> None:
    assert decode(window_frame(0)) == [WindowStart(0), WindowEnd(0, 0)]


def test_window_end_reports_the_highest_seq_for_logstash_style_acks() -> None:
    # pylogbeat numbers events with a counter that never restarts
    stream = window_frame(2) + j(41, b"{}") + j(42, b"{}")
    assert decode(stream)[-1] == WindowEnd(2, 42)


# --- malformed input ------------------------------------------------------------------------

W2 = b"2W\x00\x00\x00\x02"


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        (b"1W\x00\x00\x00\x01", r"version '1' \(0x31\) at byte 0.*v1 is not supported"),
        (b"\x16\x03\x01\x02\x00", r"version 0x16 at byte 0.*TLS"),
        (W2 + b"2X", r"unknown frame type 'X' \(0x58\) at byte 6"),
        (W2 + b"2D\x00\x00\x00\x01\x00\x00\x00\x01", r"D frame .* at byte 6 in protocol v2"),
        (W2 + b"2J\x00\x00\x00\x01\x00\x00\x00\x00", r"J frame at byte 6 .* length of 0"),
        (W2 + b"2J\x00\x00\x00\x01\x00\x00\x10\x00", r"length of 4096 \(1..100 allowed\)"),
        (W2 + b"2C\x00\x00\x00\x00", r"C frame at byte 6 has a length of 0"),
        (W2 + b"2C\x00\x00\x00\x05hello", r"corrupt zlib data in the C frame at byte 6"),
        (W2 + b"2C" + struct.pack(">I", 5) + zlib.compress(j(1, b"{}"))[:5], r"truncated zlib"),
        (b"2W\x00\x00\x27\x11", r"W frame at byte 0 announces 10001 events \(at most 10000\)"),
        (j(1, b"{}"), r"data frame at byte 0 before any window \(W\) frame"),
        (c(j(1, b"{}")), r"data frame at byte 0 before any window"),
        (W2 + j(1, b"{}") + W2, r"W frame at byte 18 inside an unfinished window \(1 of 2"),
        (W2 + j(1, b"{}") + j(2, b"{}") + j(3, b"{}"), r"at byte 30 beyond the 2 events"),
        (W2 + c(j(1, b"{}") + b"2J\x00"), r"truncated frame at the end of the compressed content"),
        (
            W2 + c(j(1, b"{}") + b"2Q"),
            r"unknown frame type 'Q' \(0x51\) at byte 12 inside the C frame at byte 6",
        ),
        (W2 + c(j(1, b"{}")) + b"2W", r"W frame at byte \d+ inside an unfinished window"),
    ],
)
def test_malformed_input_names_what_and_where(stream: bytes, message: str) -> None:
    # split in two to show errors do not depend on how bytes arrive
    decoder = FrameDecoder(max_payload=100)

    def feed_in_two() -> None:
        decoder.feed(stream[: len(stream) // 2])
        decoder.feed(stream[len(stream) // 2 :] + b"\x00" * 8)

    with pytest.raises(ProtocolError, match=message):
        feed_in_two()


def test_bytes_after_the_zlib_stream_are_refused() -> None:
    body = zlib.compress(j(1, b"{}")) + b"junk"
    stream = W2 + b"2C" + struct.pack(">I", len(body)) + body
    with pytest.raises(ProtocolError, match="4 bytes after the end of the zlib stream"):
        decode(stream)


def test_a_zlib_bomb_is_refused() -> None:
    body = zlib.compress(b"2J" + b"\x00" * 2_000_000)
    stream = W2 + b"2C" + struct.pack(">I", len(body)) + body
    with pytest.raises(ProtocolError, match="inflates to more than"):
        decode(stream, max_payload=100_000)


def test_offsets_count_from_the_start_of_the_stream_across_feeds() -> None:
    decoder = FrameDecoder()
    decoder.feed(encode_window([b"{}"] * 3))
    with pytest.raises(ProtocolError, match=r"at byte 42\b"):
        decoder.feed(b"2Z")


def test_a_smaller_window_limit_is_configurable() -> None:
    with pytest.raises(ProtocolError, match="at most 5"):
        decode(window_frame(6), max_window=5)


# --- ACKs -----------------------------------------------------------------------------------


@given(st.lists(st.integers(0, 2**32 - 1), max_size=20), st.data())
def test_ack_reader_parses_any_chunking(seqs: list[int], data: st.DataObject) -> None:
    stream = b"".join(ack_frame(s) for s in seqs)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    reader = AckReader()
    got: list[int] = []
    previous = 0
    for cut in [*cuts, len(stream)]:
        got.extend(reader.feed(stream[previous:cut]))
        previous = cut
    assert got == seqs


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        (b"2A\x00\x00\x00\x00" + b"2W\x00\x00\x00\x01", r"expected an ACK frame, got 'W'.*byte 6"),
        (b"1A\x00\x00\x00\x01", r"version '1'"),
        (b"\x15\x03\x03\x00\x02\x02", r"looks like TLS"),
    ],
)
def test_ack_reader_refuses_other_frames(stream: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        AckReader().feed(stream)


def test_tracker_keepalive_partial_and_complete() -> None:
    tracker = AckTracker()
    tracker.sent(10)
    tracker.sent(5)
    assert tracker.ack(0) is None  # keepalive
    progress = tracker.ack(4)
    assert progress is not None
    assert (progress.acked, progress.newly, progress.complete) == (
        4,
        4,
        False,
    )
    assert tracker.ack(0) is None
    assert tracker.ack(3) is None  # lower than seen: keep the highest
    progress = tracker.ack(10)
    assert progress is not None
    assert (progress.newly, progress.complete) == (6, True)
    assert tracker.in_flight == 1
    progress = tracker.ack(5)  # the next window, numbered from 1 again
    assert progress is not None
    assert progress.complete
    assert tracker.in_flight == 0


def test_tracker_refuses_an_ack_above_the_window() -> None:
    tracker = AckTracker()
    tracker.sent(3)
    with pytest.raises(ProtocolError, match="ACK 4 is above the window of 3"):
        tracker.ack(4)


def test_tracker_refuses_an_ack_with_nothing_in_flight() -> None:
    with pytest.raises(ProtocolError, match="no window is in flight"):
        AckTracker().ack(1)


def test_compressed_frame_header() -> None:
    assert compressed_frame(b"xyz") == b"2C\x00\x00\x00\x03xyz"
