"""The command line as users meet it: real subprocesses, exit codes, messages, no tracebacks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

MODULE = "- module: sora\n  hosts: ['127.0.0.1:3000']\n"


def sorabeat(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sorabeat", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def setup_dir(tmp_path: Path, main: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "sorabeat.yml").write_text(main)
    (tmp_path / "sorabeat.yml").chmod(0o600)
    (tmp_path / "modules.d").mkdir()
    (tmp_path / "modules.d" / "sora.yml").write_text(MODULE)
    (tmp_path / "modules.d" / "sora.yml").chmod(0o600)
    return tmp_path


def test_version(tmp_path: Path) -> None:
    result = sorabeat("version", cwd=tmp_path)
    assert result.returncode == 0
    assert re.fullmatch(
        r"sorabeat version \d+\.\d+\.\d+ \(python 3\.\d+\.\d+, \w+/\w+\)\n", result.stdout
    )


def test_unknown_command_and_flag_are_usage_errors(tmp_path: Path) -> None:
    bad = sorabeat("frobnicate", cwd=tmp_path)
    assert bad.returncode == 2 and "invalid choice: 'frobnicate'" in bad.stderr
    flag = sorabeat("version", "--no-such-flag", cwd=tmp_path)
    assert flag.returncode == 2 and "usage:" in flag.stderr


def test_test_config_ok(tmp_path: Path) -> None:
    setup_dir(tmp_path, "output.console: {}\n")
    result = sorabeat("test", "config", "--path.home", str(tmp_path), cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "Config OK\n"), result.stderr


def test_test_config_lists_every_problem_without_traceback(tmp_path: Path) -> None:
    setup_dir(
        tmp_path, "output.logstash:\n  hosts: [a]\n  timeout: soon\noutput.console: {}\nbogus: 1\n"
    )
    result = sorabeat("test", "config", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "Invalid configuration (3 problems)" in result.stderr
    assert "sorabeat.yml:3: output.logstash.timeout: invalid duration 'soon'" in result.stderr
    assert "sorabeat.yml:5: bogus: unknown setting" in result.stderr
    assert "only one output may be enabled" in result.stderr


def test_global_flags_work_after_the_command_and_single_dash(tmp_path: Path) -> None:
    home = setup_dir(tmp_path / "home", "output.console: {}\n")
    after = sorabeat(
        "test", "config", "-path.home", str(home), "-E", "output.console.pretty=true", cwd=tmp_path
    )
    assert after.returncode == 0, after.stderr


def test_strict_perms(tmp_path: Path) -> None:
    setup_dir(tmp_path, "output.console: {}\n")
    (tmp_path / "sorabeat.yml").chmod(0o666)
    refused = sorabeat("test", "config", cwd=tmp_path)
    assert refused.returncode == 1 and "can only be writable by the owner" in refused.stderr
    allowed = sorabeat("test", "config", "--strict.perms=false", cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stderr


def test_no_module_is_an_error(tmp_path: Path) -> None:
    setup_dir(tmp_path, "output.console: {}\n")
    (tmp_path / "modules.d" / "sora.yml").rename(tmp_path / "modules.d" / "sora.yml.disabled")
    result = sorabeat("test", "config", cwd=tmp_path)
    assert result.returncode == 1 and "no Sora module is enabled" in result.stderr


@pytest.mark.parametrize("secret", ["pa55word", "kp-s3cret", "id:apikey", "Bearer tok"])
def test_export_config_masks_secrets(tmp_path: Path, secret: str) -> None:
    setup_dir(
        tmp_path,
        "output.elasticsearch:\n  hosts: [es]\n  username: u\n  password: ${ES_PWD}\n"
        "  ssl.key_passphrase: kp-s3cret\nsetup.kibana.api_key: 'id:apikey'\n"
        "sorabeat.modules:\n- module: sora\n  headers: {Authorization: 'Bearer tok'}\n",
    )
    result = sorabeat("export", "config", cwd=tmp_path, env={"ES_PWD": "pa55word"})
    assert result.returncode == 0, result.stderr
    assert secret not in result.stdout
    assert "xxxxx" in result.stdout and "username: u" in result.stdout


def test_test_config_builds_tls_contexts_as_run_would(tmp_path: Path) -> None:
    setup_dir(tmp_path, "output.console: {}\n")
    (tmp_path / "modules.d" / "sora.yml").write_text(
        "- module: sora\n  hosts: ['https://sora:443/']\n"
        "  ssl.certificate_authorities: ['/nonexistent/ca.pem']\n"
    )
    for command in (["test", "config"], ["run", "-e"]):
        result = sorabeat(*command, cwd=tmp_path)
        assert result.returncode == 1, result.stdout + result.stderr
        assert (
            "sorabeat.modules.0.ssl.certificate_authorities: cannot load /nonexistent/ca.pem"
            in result.stderr
        )
        assert "Traceback" not in result.stderr
