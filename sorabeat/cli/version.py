"""``sorabeat version``."""

from __future__ import annotations

import argparse
import platform

from sorabeat import __version__


def version_line() -> str:
    system = f"{platform.system().lower()}/{platform.machine()}"
    return f"sorabeat version {__version__} (python {platform.python_version()}, {system})"


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = sub.add_parser("version", parents=[common], help="print the version")
    parser.set_defaults(handler=lambda args: print(version_line()) or 0)
