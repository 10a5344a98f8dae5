"""``sorabeat test config|output|modules``: check the setup without running it."""

from __future__ import annotations

import argparse

from sorabeat.cli.common import CliError, load_config


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = sub.add_parser("test", parents=[common], help="test the configuration or the output")
    tests = parser.add_subparsers(dest="test_command", metavar="WHAT", required=True)
    config = tests.add_parser("config", parents=[common], help="check the configuration")
    config.set_defaults(handler=test_config)


def test_config(args: argparse.Namespace) -> int:
    loaded = load_config(args)
    if not loaded.settings.modules:
        raise CliError("no Sora module is enabled: add one to modules.d/ or to sorabeat.modules")
    print("Config OK")
    return 0
