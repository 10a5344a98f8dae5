"""The acknowledged position: the file ``state`` in the spool directory.

It holds one number, the sequence number of the oldest event not yet acknowledged (every
event numbered below it was delivered or dropped for good), framed with a magic, a version
and a CRC32. It is replaced atomically: a temporary file is written and fsynced, renamed
over ``state``, and the directory fsynced, so a crash leaves the old or the new position,
never a mix. A position that is older than the truth only costs duplicates.
"""

from __future__ import annotations

import contextlib
import os

from sorabeat.spool.segment import fsync_directory
from sorabeat.spool.stamp import Stamp

STATE_NAME = "state"
STATE_TEMP = "state.tmp"
_STATE = Stamp(b"SBST", "a sorabeat spool state file")
STATE_SIZE = _STATE.size


class BadStateError(ValueError):
    """The state file's bytes are not a position this version wrote."""


def encode_state(position: int) -> bytes:
    return _STATE.encode(position)


def decode_state(data: bytes) -> int:
    if len(data) != STATE_SIZE:
        raise BadStateError(f"{len(data)} bytes instead of {STATE_SIZE}")
    try:
        return _STATE.decode(data)
    except ValueError as exc:
        raise BadStateError(str(exc)) from None


def read_state(directory: str) -> int | None:
    """The persisted position; None when there is no state file. Raises BadStateError."""
    try:
        with open(os.path.join(directory, STATE_NAME), "rb") as f:
            data = f.read(STATE_SIZE + 1)
    except FileNotFoundError:
        return None
    return decode_state(data)


def write_state(directory: str, position: int) -> None:
    """Replace the state file atomically and durably (blocking: run it off the event loop)."""
    temp = os.path.join(directory, STATE_TEMP)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        data = encode_state(position)
        if os.write(fd, data) != len(data):
            raise OSError("short write of the spool state file")
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        _remove_quietly(temp)
        raise
    os.close(fd)
    os.replace(temp, os.path.join(directory, STATE_NAME))
    fsync_directory(directory)


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
