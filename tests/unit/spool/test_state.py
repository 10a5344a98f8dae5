"""The acknowledged-position file: framing, damage, atomic replacement."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sorabeat.spool.state import (
    STATE_NAME,
    STATE_SIZE,
    STATE_TEMP,
    BadStateError,
    decode_state,
    encode_state,
    read_state,
    write_state,
)

positions = st.integers(0, 2**64 - 1)


@given(positions)
def test_round_trip(position: int) -> None:
    data = encode_state(position)
    assert len(data) == STATE_SIZE
    assert decode_state(data) == position


@given(positions, st.data())
def test_any_damaged_byte_is_refused(position: int, data: st.DataObject) -> None:
    damaged = bytearray(encode_state(position))
    where = data.draw(st.integers(0, len(damaged) - 1))
    damaged[where] ^= data.draw(st.integers(1, 255))
    with pytest.raises(BadStateError):
        decode_state(bytes(damaged))


@given(positions, st.integers(0, STATE_SIZE * 2).filter(lambda n: n != STATE_SIZE))
def test_a_wrong_length_is_refused(position: int, length: int) -> None:
    data = (encode_state(position) * 2)[:length]
    with pytest.raises(BadStateError, match="bytes instead of"):
        decode_state(data)


def test_missing_file_is_none(tmp_path: object) -> None:
    assert read_state(str(tmp_path)) is None


def test_write_replaces_atomically_and_leaves_no_temp(tmp_path: os.PathLike[str]) -> None:
    directory = os.fspath(tmp_path)
    write_state(directory, 5)
    write_state(directory, 2**40)
    assert read_state(directory) == 2**40
    assert sorted(os.listdir(directory)) == [STATE_NAME]


def test_a_leftover_temp_file_does_not_matter(tmp_path: os.PathLike[str]) -> None:
    directory = os.fspath(tmp_path)
    write_state(directory, 9)
    with open(os.path.join(directory, STATE_TEMP), "wb") as f:
        f.write(b"half a state")  # a crash during the next write
    assert read_state(directory) == 9
    write_state(directory, 10)
    assert read_state(directory) == 10


def test_garbage_file_is_refused(tmp_path: os.PathLike[str]) -> None:
    directory = os.fspath(tmp_path)
    with open(os.path.join(directory, STATE_NAME), "wb") as f:
        f.write(b"\x00" * STATE_SIZE)
    with pytest.raises(BadStateError):
        read_state(directory)
