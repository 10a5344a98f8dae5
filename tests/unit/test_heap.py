"""glibc malloc settings of `sorabeat run`, checked in a fresh interpreter each time."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest

from sorabeat.heap import tune_malloc

# After a large buffer is freed, is the next one of that size mapped again (fixed mmap
# threshold) or carved from the heap (glibc's default: the threshold rose to its size)?
SCRIPT = """
import ctypes, sys
from sorabeat.heap import tune_malloc

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
tuned = tune_malloc() if sys.argv[1] == "tune" else None
buffer = bytearray(8 << 20)
del buffer
before = libc.mallinfo2().hblks
buffer = bytearray(8 << 20)
print(tuned, libc.mallinfo2().hblks - before)
"""


def glibc() -> bool:
    try:
        ctypes.CDLL(None).mallinfo2  # noqa: B018
    except AttributeError:
        return False
    return sys.platform.startswith("linux")


def run(mode: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_"))}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


@pytest.mark.skipif(not glibc(), reason="mallopt and mallinfo2 are glibc's (2.33+)")
def test_large_buffers_are_mapped_again_after_one_was_freed() -> None:
    assert run("default") == "None 0"  # glibc's dynamic threshold: from the heap
    assert run("tune") == "True 1"


@pytest.mark.skipif(not glibc(), reason="mallopt and mallinfo2 are glibc's (2.33+)")
def test_malloc_settings_in_the_environment_win() -> None:
    assert run("tune", MALLOC_ARENA_MAX="4") == "False 0"


def test_nothing_changes_where_the_operator_tuned_malloc() -> None:
    assert tune_malloc({"GLIBC_TUNABLES": "glibc.malloc.arena_max=1"}) is False
