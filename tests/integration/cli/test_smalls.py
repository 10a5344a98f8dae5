"""Small command-line faults: each ends with one clear line and the right exit code."""

from __future__ import annotations

import argparse
from pathlib import Path

from sorabeat.cli import build_parser
from tests.integration.cli.test_cli import sorabeat


def test_demo_keep_in_a_directory_that_cannot_be_created(tmp_path: Path) -> None:
    afile = tmp_path / "a-file"
    afile.write_text("")
    for keep, words in (
        ("/proc/nope", "--keep: cannot create /proc/nope: "),
        (str(afile), f"--keep: cannot create {afile}: "),
        (str(afile / "below"), f"--keep: cannot create {afile / 'below'}: "),
    ):
        result = sorabeat("demo", "--keep", keep, "--duration", "1", cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines() == [result.stderr.strip()]  # one line
        assert result.stderr.startswith(words), result.stderr


def test_keystore_create_before_there_is_a_config_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    created = sorabeat("keystore", "create", "--path.home", str(home), cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert (home / "data" / "sorabeat.keystore").is_file()
    listed = sorabeat("keystore", "list", "--path.home", str(home), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    # paths come from the flags while no config file exists, named with -c or not
    missing = sorabeat("keystore", "list", "-c", "x.yml", "--path.home", str(home), cwd=tmp_path)
    assert missing.returncode == 0, missing.stderr


def configure(home: Path, main: str, module: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    for path, text in (("sorabeat.yml", main), ("modules.d/sora.yml", module)):
        (home / path).parent.mkdir(exist_ok=True)
        (home / path).write_text(text)
        (home / path).chmod(0o600)
    return home


STATS_ONLY = "- module: sora\n  hosts: ['127.0.0.1:1']\n  metricsets: [stats]\n"


def test_test_modules_for_a_metricset_not_configured(tmp_path: Path) -> None:
    home = configure(tmp_path / "home", "output.console: {}\n", STATS_ONLY)
    result = sorabeat("test", "modules", "sora", "connections", "--path.home", str(home), cwd=home)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "metricset connections is not configured" in result.stderr


def test_setup_with_the_logstash_output_has_no_dangling_heading(tmp_path: Path) -> None:
    home = configure(tmp_path / "home", "output.logstash.hosts: ['127.0.0.1:1']\n", STATS_ONLY)
    result = sorabeat("setup", "--path.home", str(home), cwd=home)
    assert result.returncode == 1
    assert "index-management:" not in result.stdout
    assert "Index management needs the Elasticsearch output" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_receive_option_has_help_text(tmp_path: Path) -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    global_flags = {a.dest for a in parser._actions}
    receive = subparsers.choices["receive"]
    own = [a for a in receive._actions if a.option_strings and a.dest not in global_flags]
    assert len(own) > 10
    assert [a.option_strings[-1] for a in own if not a.help] == []
    shown = sorabeat("receive", "--help", cwd=tmp_path)
    assert shown.returncode == 0
    text = " ".join(shown.stdout.split())
    for action in own:
        assert f"{action.option_strings[-1]} " in text
        assert " ".join(str(action.help).split()[:3]) in text
