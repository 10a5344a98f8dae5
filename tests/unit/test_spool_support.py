"""The test helpers themselves: a helper that races the spool makes tests flaky."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sorabeat.spool.segment import segment_name
from tests import spool_support


def test_segment_bytes_survives_a_segment_deleted_after_the_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = tmp_path / segment_name(10)
    kept.write_bytes(b"x" * 100)
    gone = tmp_path / segment_name(0)
    gone.write_bytes(b"x" * 50)
    listed = spool_support.segment_paths(str(tmp_path))
    os.unlink(gone)  # as the spool does between the helper's listing and its stat

    monkeypatch.setattr(spool_support, "segment_paths", lambda directory: listed)
    assert spool_support.segment_bytes(str(tmp_path)) == 100
