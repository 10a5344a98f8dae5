"""Record framing and the scanner that reads it back, damaged or not."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sorabeat.spool.record import (
    HEADER_SIZE,
    MAGIC,
    Damage,
    Gap,
    encode_records,
    record_size,
    scan,
)
from sorabeat.spool.segment import (
    SEGMENT_HEADER_SIZE,
    BadSegmentHeaderError,
    decode_segment_header,
    encode_segment_header,
    parse_segment_name,
    segment_name,
)

payload_lists = st.lists(st.binary(min_size=0, max_size=300), min_size=1, max_size=12)
firsts = st.integers(min_value=0, max_value=2**64 - 100)


def offsets(payloads: list[bytes]) -> list[int]:
    """Start offset of each record, plus the end."""
    out = [0]
    for p in payloads:
        out.append(out[-1] + record_size(len(p)))
    return out


def test_layout_is_magic_crc_length_seq_payload() -> None:
    data = encode_records(7, [b"abc"])
    magic, crc, length, seq = struct.unpack_from("<2sIIQ", data)
    assert (magic, length, seq) == (MAGIC, 3, 7)
    assert crc == zlib.crc32(data[6:])  # length, seq and payload
    assert data[HEADER_SIZE:] == b"abc" and len(data) == record_size(3) == 21


@given(payload_lists, firsts)
def test_round_trip(payloads: list[bytes], first: int) -> None:
    data = encode_records(first, payloads)
    assert len(data) == offsets(payloads)[-1]
    result = scan(data, 0, first, final=True)
    assert result.records == [(first + i, p) for i, p in enumerate(payloads)]
    assert (result.state, result.offset, result.expected) == (
        "end",
        len(data),
        first + len(payloads),
    )
    assert (result.lost, result.skipped_bytes, result.count) == (0, 0, len(payloads))


@given(payload_lists, firsts, st.data())
def test_any_cut_reads_a_prefix_then_the_rest(
    payloads: list[bytes], first: int, data: st.DataObject
) -> None:
    encoded = encode_records(first, payloads)
    cut = data.draw(st.integers(0, len(encoded)))
    head = scan(encoded[:cut], 0, first, final=False)
    whole = [o for o in offsets(payloads) if o <= cut]
    assert head.offset == whole[-1]  # stops at the last record boundary before the cut
    assert head.state == ("end" if cut == whole[-1] else "more")
    assert head.lost == 0 and head.skipped_bytes == 0
    rest = scan(encoded, head.offset, head.expected, final=True)
    assert head.records + rest.records == [(first + i, p) for i, p in enumerate(payloads)]


@given(payload_lists, st.data())
def test_floor_skips_acknowledged_records(payloads: list[bytes], data: st.DataObject) -> None:
    floor = data.draw(st.integers(0, len(payloads) + 2))
    result = scan(encode_records(0, payloads), 0, 0, final=True, floor=floor)
    assert [s for s, _ in result.records] == list(range(floor, len(payloads)))
    assert result.count == max(0, len(payloads) - floor)
    assert result.expected == len(payloads)


@given(payload_lists, st.integers(1, 5))
def test_max_records_stops_at_a_boundary(payloads: list[bytes], most: int) -> None:
    encoded = encode_records(0, payloads)
    result = scan(encoded, 0, 0, final=True, max_records=most)
    taken = min(most, len(payloads))
    assert len(result.records) == taken
    assert result.offset == offsets(payloads)[taken]
    assert result.state == ("full" if taken < len(payloads) else "end")


@given(st.lists(st.binary(max_size=200), min_size=3, max_size=8), st.data())
def test_a_damaged_record_in_the_middle_is_skipped_and_counted(
    payloads: list[bytes], data: st.DataObject
) -> None:
    encoded = bytearray(encode_records(100, payloads))
    bounds = offsets(payloads)
    victim = data.draw(st.integers(0, len(payloads) - 2))
    where = data.draw(st.integers(bounds[victim], bounds[victim + 1] - 1))
    encoded[where] ^= data.draw(st.integers(1, 255))
    result = scan(bytes(encoded), 0, 100, final=True)
    survivors = [(100 + i, p) for i, p in enumerate(payloads) if i != victim]
    assert result.records == survivors
    assert result.lost == 1 and result.state == "end"
    assert result.skipped_bytes == bounds[victim + 1] - bounds[victim]


@given(st.lists(st.binary(max_size=200), min_size=1, max_size=6), st.data())
def test_a_damaged_last_record_is_an_unreadable_tail(
    payloads: list[bytes], data: st.DataObject
) -> None:
    encoded = bytearray(encode_records(0, payloads))
    bounds = offsets(payloads)
    where = data.draw(st.integers(bounds[-2], bounds[-1] - 1))
    encoded[where] ^= data.draw(st.integers(1, 255))
    result = scan(bytes(encoded), 0, 0, final=True)
    assert result.records == [(i, p) for i, p in enumerate(payloads[:-1])]
    assert result.state == "tail" and result.offset == bounds[-2]


@given(st.lists(st.binary(max_size=100), min_size=1, max_size=6), st.data())
def test_a_write_cut_short_is_a_tail_never_a_loss(
    payloads: list[bytes], data: st.DataObject
) -> None:
    encoded = encode_records(0, payloads)
    bounds = offsets(payloads)
    cut = data.draw(st.integers(bounds[-2] + 1, bounds[-1] - 1))
    result = scan(encoded[:cut], 0, 0, final=True)
    assert result.records == [(i, p) for i, p in enumerate(payloads[:-1])]
    assert (result.state, result.offset, result.lost) == ("tail", bounds[-2], 0)
    assert not result.bad_tail_record


def test_a_whole_last_record_with_a_bad_crc_is_told_apart_from_a_cut() -> None:
    encoded = bytearray(encode_records(0, [b"one", b"two"]))
    encoded[-1] ^= 1
    result = scan(bytes(encoded), 0, 0, final=True)
    assert result.state == "tail" and result.bad_tail_record


@given(st.binary(min_size=1, max_size=300), payload_lists)
def test_garbage_before_records_is_skipped(garbage: bytes, payloads: list[bytes]) -> None:
    encoded = encode_records(5, payloads)
    result = scan(garbage + encoded, 0, 5, final=True)
    assert result.records == [(5 + i, p) for i, p in enumerate(payloads)]
    assert result.skipped_bytes == len(garbage) and result.lost == 0


def test_lost_counts_the_numbers_missing_between_good_records() -> None:
    a = encode_records(10, [b"a", b"b"])
    c = encode_records(15, [b"c"])
    result = scan(a + b"\x00" * 40 + c, 0, 10, final=True)
    assert [s for s, _ in result.records] == [10, 11, 15]
    assert result.lost == 3
    # numbers below the floor were acknowledged already: not lost
    assert scan(a + b"\x00" * 40 + c, 0, 10, final=True, floor=14).lost == 1


def test_a_stale_copy_of_an_older_record_is_skipped() -> None:
    data = encode_records(0, [b"a", b"b"]) + encode_records(1, [b"b-again"])
    data += encode_records(2, [b"c"])
    result = scan(data, 0, 0, final=True)
    assert result.records == [(0, b"a"), (1, b"b"), (2, b"c")]
    assert result.lost == 0 and result.skipped_bytes == record_size(7)


def test_a_length_running_past_the_end_is_not_a_cut_when_records_follow() -> None:
    good = encode_records(0, [b"x" * 30, b"y" * 30, b"z" * 30])
    damaged = bytearray(good)
    struct.pack_into("<I", damaged, 6, 10**6)  # first record's length
    result = scan(bytes(damaged), 0, 0, final=True)
    assert [s for s, _ in result.records] == [1, 2] and result.lost == 1
    # not final: it may be a record continuing in the next read
    assert scan(bytes(damaged), 0, 0, final=False).state == "more"


def test_zeros_are_an_unreadable_tail() -> None:
    result = scan(encode_records(0, [b"a"]) + bytes(100), 0, 0, final=True)
    assert result.records == [(0, b"a")] and result.state == "tail"


def test_segment_header_round_trip_and_damage() -> None:
    header = encode_segment_header(123456)
    assert len(header) == SEGMENT_HEADER_SIZE
    assert decode_segment_header(header) == 123456
    for i in range(len(header)):
        damaged = bytearray(header)
        damaged[i] ^= 0x40
        with pytest.raises(BadSegmentHeaderError):
            decode_segment_header(bytes(damaged))
    with pytest.raises(BadSegmentHeaderError, match="only 10 bytes"):
        decode_segment_header(header[:10])
    with pytest.raises(BadSegmentHeaderError):
        decode_segment_header(bytes(SEGMENT_HEADER_SIZE))


@given(st.integers(0, 2**64 - 1))  # sequence numbers are u64
def test_segment_names_sort_by_number(first: int) -> None:
    name = segment_name(first)
    assert parse_segment_name(name) == first and len(name) == 24
    assert name < segment_name(first + 1)


@given(st.integers(2**64, 10**20 - 1))
def test_twenty_digits_beyond_the_u64_range_name_no_segment(first: int) -> None:
    assert parse_segment_name(segment_name(first)) is None


def test_other_names_are_not_segments() -> None:
    for name in ("state", "lock", "1.seg", "00000000000000000001.seg.tmp", "x.seg.corrupt"):
        assert parse_segment_name(name) is None


def test_a_record_hidden_in_a_damaged_payload_does_not_replace_the_real_one() -> None:
    # record 1's payload frames a valid record numbered 2 (payloads are opaque bytes)
    fake = encode_records(2, [b"forged"])
    payloads = [b"zero", b"<" + fake + b">", b"two", b"three"]
    encoded = bytearray(encode_records(0, payloads))
    bounds = offsets(payloads)
    encoded[bounds[1] + 2] ^= 0xFF  # record 1's CRC: the record is lost, its payload is not read
    result = scan(bytes(encoded), 0, 0, final=True)
    assert result.records == [(0, b"zero"), (2, b"two"), (3, b"three")]
    assert result.lost == 1 and result.gaps == [Gap(1, 1)]
    assert result.damage == [Damage(bounds[1], bounds[2] - bounds[1])]


def test_an_unconfirmed_record_is_still_taken_when_nothing_better_follows() -> None:
    payloads = [b"zero", b"one", b"two"]
    encoded = bytearray(encode_records(0, payloads) + b"\x00" * 9)  # then garbage
    encoded[offsets(payloads)[1] + 2] ^= 0xFF  # record 1 lost; record 2 is followed by junk
    result = scan(bytes(encoded), 0, 0, final=True)
    assert [s for s, _ in result.records] == [0, 2] and result.lost == 1


@given(
    st.lists(st.binary(max_size=120), min_size=1, max_size=10),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), max_size=4),
    st.integers(0, 10**6),
    st.booleans(),
)
def test_random_damage_returns_exactly_the_untouched_records(
    payloads: list[bytes], flips: list[tuple[int, int]], cut_at: int, cut: bool
) -> None:
    """Flipped bytes anywhere and a cut end: every record whose bytes are intact comes back,
    none is invented, and ``lost`` counts exactly those missing before the last one read."""
    encoded = bytearray(encode_records(50, payloads))
    bounds = offsets(payloads)
    touched: set[int] = set()
    for where, mask in flips:
        where %= len(encoded)
        encoded[where] ^= mask
        touched.update(i for i in range(len(payloads)) if bounds[i] <= where < bounds[i + 1])
    end = cut_at % (len(encoded) + 1) if cut else len(encoded)
    touched.update(i for i in range(len(payloads)) if bounds[i + 1] > end)
    result = scan(bytes(encoded[:end]), 0, 50, final=True)
    original = {50 + i: p for i, p in enumerate(payloads)}
    assert all(original.get(seq) == p for seq, p in result.records)  # none invented
    seqs = [s for s, _ in result.records]
    assert seqs == sorted(set(seqs))
    intact = [50 + i for i in range(len(payloads)) if i not in touched]
    assert set(intact) <= set(seqs)
    last = seqs[-1] if seqs else 49
    assert result.lost == sum(1 for s in range(50, last) if s not in seqs)
    assert result.lost == sum(g.count for g in result.gaps)
