"""`main` registers only the command it runs: the parse must be what the full parser gives."""

from __future__ import annotations

import argparse
import contextlib
import io

import pytest

from sorabeat.cli import COMMANDS, _first_word, build_parser


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[object, str]:
    """The namespace (or the exit code), and what argparse printed to stderr."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            parsed = vars(parser.parse_args(argv))
            handler = parsed.pop("handler", None)  # a lambda is made anew by each register
            result: object = (parsed, getattr(handler, "__qualname__", None))
        except SystemExit as exc:
            result = exc.code
    return result, err.getvalue()


@pytest.mark.parametrize("command", COMMANDS)
def test_a_command_parses_the_same_with_only_its_own_parser(command: str) -> None:
    full = build_parser()
    alone = build_parser((command,))
    for argv in (
        [command],
        [command, "-e", "-v"],
        ["-c", "other.yml", command, "-E", "name=x"],
        [command, "--no-such-flag"],
        [command, "extra", "words"],
    ):
        assert parse(alone, argv) == parse(full, argv), argv


def test_the_first_word_skips_flags_and_their_values() -> None:
    assert _first_word(["-c", "run", "-e", "test", "config"]) == "test"
    assert _first_word(["--path.home", "/x", "-E", "a=b"]) is None
    assert _first_word(["-e", "spool", "inspect"]) == "spool"
