"""The spool's CRC32 is zlib's, whoever computes it: files written with zlib-ng installed
read the same without it, and the other way round."""

from __future__ import annotations

import subprocess
import sys
import zlib

from hypothesis import given
from hypothesis import strategies as st

from sorabeat.spool import crc


@given(st.binary(max_size=70_000), st.integers(0, 2**32 - 1))
def test_the_fast_crc32_equals_zlibs(data: bytes, start: int) -> None:
    assert crc.crc32(data, start) == zlib.crc32(data, start)
    assert crc.crc32(memoryview(data)[1:]) == zlib.crc32(data[1:])


def test_without_zlib_ng_the_standard_library_computes_it() -> None:
    code = (
        "import sys, zlib; sys.modules['zlib_ng'] = None; "
        "from sorabeat.spool import crc; print(crc.crc32 is zlib.crc32)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "True", result.stderr


def test_with_zlib_ng_installed_it_is_used() -> None:
    assert crc.crc32 is not zlib.crc32
