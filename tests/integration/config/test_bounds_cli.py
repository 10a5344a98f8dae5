"""`sorabeat test config` on hostile YAML, as a real process with bounded time and memory."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.cli.test_cli import setup_dir
from tests.unit.config.test_yamlbounds import alias_bomb

MEMORY_LIMIT = 1024 * 1024 * 1024  # address space: the interpreter and its imports fit easily


def limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (alias_bomb(), "more than 100000 nodes once aliases are expanded"),
        ("a: &x [*x]\n", "alias cycle"),
        ("a: " + "{b: " * 3000 + "1" + "}" * 3000 + "\n", "nested deeper than 64 levels"),
    ],
    ids=["bomb", "cycle", "deep"],
)
def test_hostile_yaml_is_one_clear_error(tmp_path: Path, text: str, words: str) -> None:
    home = setup_dir(tmp_path / "home", "output.console: {}\n" + text)
    result = subprocess.run(
        [sys.executable, "-m", "sorabeat", "test", "config", "--path.home", str(home)],
        cwd=home,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=limited,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "MemoryError" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "invalid YAML" in line]
    assert len(lines) == 1, result.stderr
    assert f"{home / 'sorabeat.yml'}:" in lines[0]
    assert words in lines[0]
