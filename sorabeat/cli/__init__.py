"""The ``sorabeat`` command line, shaped like metricbeat's.

Each command lives in its own module with a ``register(subparsers, common)`` function that
adds its parser and sets ``handler`` (``args -> exit code``). Global flags (``-c``, ``-E``,
``-e``, ``-d``, ``--path.*``, ...) are accepted before or after the command, as metricbeat
accepts them. Exit codes: 0 success, 1 an error (a bad configuration, a failed check),
2 a usage error.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import re
import sys
from collections.abc import Sequence

from sorabeat.cli.common import CliError, add_global_flags

COMMANDS = (
    "run",
    "setup",
    "test",
    "export",
    "modules",
    "keystore",
    "spool",
    "version",
    "simulate",
    "receive",
    "demo",
    "top",
    "completion",
)

_SINGLE_DASH_LONG = re.compile(
    r"^-(path\.(?:home|config|data|logs)|strict\.perms|environment|once)(=.*)?$"
)


def normalize_flags(argv: Sequence[str]) -> list[str]:
    """libbeat accepts ``-path.home`` for ``--path.home``; so do we."""
    out = []
    for arg in argv:
        m = _SINGLE_DASH_LONG.match(arg)
        out.append(f"-{arg}" if m else arg)
    return out


_VALUE_FLAGS = frozenset(
    {
        "-c",
        "--c",
        "-E",
        "--E",
        "-d",
        "--d",
        "--environment",
        "--path.home",
        "--path.config",
        "--path.data",
        "--path.logs",
        "--strict.perms",
    }
)


def _first_word(argv: Sequence[str]) -> str | None:
    """The first argument that is neither a flag nor a flag's value: the command, or a
    wrong one for argparse to name."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in _VALUE_FLAGS:
            skip = True
            continue
        if not arg.startswith("-"):
            return arg
    return None


def _has_command(argv: Sequence[str]) -> bool:
    return _first_word(argv) is not None


def build_parser(commands: Sequence[str] = COMMANDS) -> argparse.ArgumentParser:
    """The parser with ``commands`` registered (all of them by default)."""
    parser = argparse.ArgumentParser(
        prog="sorabeat",
        description="Ships Sora (WebRTC SFU) statistics to Logstash or Elasticsearch.",
        # an option of a command (spool inspect --path) must not read as an abbreviation
        # of a global one (--path.home, --path.data, ...)
        allow_abbrev=False,
    )
    add_global_flags(parser, top_level=True)
    common = argparse.ArgumentParser(add_help=False)
    add_global_flags(common, top_level=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in commands:
        importlib.import_module(f"sorabeat.cli.{name}").register(subparsers, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = normalize_flags(sys.argv[1:] if argv is None else argv)
    asks_help = bool({"-h", "--help"} & set(args_list))
    if not _has_command(args_list) and not asks_help:
        args_list = ["run", *args_list]  # no command given: metricbeat runs
    command = _first_word(args_list)
    # A known command without a help flag parses the same with only its own parser, and
    # the other commands' modules (the simulator, the receiver, certificate making, top's
    # curses: ~4 MiB and ~100 modules) stay unimported in a long-running node. Help, and
    # an unknown command's error, list every command.
    known = command in COMMANDS and not asks_help
    parser = build_parser((command,) if known and command is not None else COMMANDS)
    args = parser.parse_args(args_list)
    try:
        code: int = args.handler(args)
    except CliError as exc:
        if exc.message:
            print(exc.message, file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    finally:
        logging.shutdown()
    return code
