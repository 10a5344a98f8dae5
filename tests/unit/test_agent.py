"""Agent identity persisted in path.data/meta.json, and one process per data directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sorabeat.agent import agent_info, lock_data_dir


def test_agent_id_survives_restarts_and_ephemeral_id_does_not(tmp_path: Path) -> None:
    first = agent_info(str(tmp_path), None)
    second = agent_info(str(tmp_path), "sora01")
    assert first.id == second.id == json.loads((tmp_path / "meta.json").read_text())["uuid"]
    assert first.ephemeral_id != second.ephemeral_id
    assert second.name == "sora01" and first.name == first.hostname
    assert (tmp_path / "meta.json").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"uuid": 5}', b"[]"])
def test_an_unreadable_meta_file_gets_a_new_id(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "meta.json").write_bytes(content)
    info = agent_info(str(tmp_path), None)
    assert json.loads((tmp_path / "meta.json").read_text())["uuid"] == info.id


def test_a_second_process_on_the_same_data_directory_is_refused(tmp_path: Path) -> None:
    held = lock_data_dir(str(tmp_path))
    try:
        code = (
            "import sys; from sorabeat.agent import lock_data_dir, DataDirLockedError\n"
            f"try: lock_data_dir({str(tmp_path)!r})\n"
            "except DataDirLockedError as e: print(e); sys.exit(3)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=30
        )
        assert result.returncode == 3
        assert "used by another sorabeat process" in result.stdout
    finally:
        held.close()
    lock_data_dir(str(tmp_path)).close()  # free again once the holder is gone
