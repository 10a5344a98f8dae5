"""``sorabeat modules list|enable|disable``: ``modules.d/X.yml`` is enabled,
``modules.d/X.yml.disabled`` is not; enabling and disabling rename one into the other."""

from __future__ import annotations

import argparse
import os

from sorabeat.cli.common import CliError, load_paths

ENABLED = ".yml"
DISABLED = ".yml.disabled"


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = sub.add_parser("modules", parents=[common], help="list, enable or disable modules")
    actions = parser.add_subparsers(dest="modules_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", parents=[common], help="list enabled and disabled modules")
    listing.set_defaults(handler=list_modules)
    enable = actions.add_parser("enable", parents=[common], help="enable modules")
    enable.add_argument("names", nargs="+", metavar="MODULE")
    enable.set_defaults(handler=enable_modules)
    disable = actions.add_parser("disable", parents=[common], help="disable modules")
    disable.add_argument("names", nargs="+", metavar="MODULE")
    disable.set_defaults(handler=disable_modules)


def modules_dir(args: argparse.Namespace) -> str:
    directory = os.path.join(load_paths(args).config, "modules.d")
    if not os.path.isdir(directory):
        raise CliError(f"modules directory {directory} not found (check --path.config)")
    return directory


def scan(directory: str) -> tuple[list[str], list[str]]:
    """(enabled, disabled) module names, sorted."""
    enabled, disabled = [], []
    for name in os.listdir(directory):
        if name.startswith("."):
            continue
        if name.endswith(DISABLED):
            disabled.append(name[: -len(DISABLED)])
        elif name.endswith(ENABLED):
            enabled.append(name[: -len(ENABLED)])
    return sorted(enabled), sorted(disabled)


def list_modules(args: argparse.Namespace) -> int:
    enabled, disabled = scan(modules_dir(args))
    print("Enabled:")
    for name in enabled:
        print(name)
    print("\nDisabled:")
    for name in disabled:
        print(name)
    return 0


def _switch(args: argparse.Namespace, enable: bool) -> int:
    directory = modules_dir(args)
    enabled, disabled = scan(directory)
    unknown = [n for n in args.names if n not in enabled and n not in disabled]
    if unknown:
        known = ", ".join(sorted({*enabled, *disabled})) or "none"
        raise CliError(
            f"module {', '.join(unknown)} doesn't exist in {directory} (known modules: {known})"
        )
    for name in args.names:
        on, off = (os.path.join(directory, name + ext) for ext in (ENABLED, DISABLED))
        if enable and name in disabled and name not in enabled:
            _rename(off, on)
            print(f"Enabled {name}")
        elif not enable and name in enabled and name not in disabled:
            _rename(on, off)
            print(f"Disabled {name}")
        elif enable and name in enabled:
            print(f"Module {name} is already enabled")
        elif not enable and name in disabled and name not in enabled:
            print(f"Module {name} is already disabled")
        else:
            raise CliError(
                f"both {on} and {off} exist: remove one of them before enabling or disabling"
            )
    return 0


def _rename(source: str, target: str) -> None:
    try:
        os.rename(source, target)
    except OSError as exc:
        raise CliError(f"cannot rename {source} to {target}: {exc.strerror}") from None


def enable_modules(args: argparse.Namespace) -> int:
    return _switch(args, enable=True)


def disable_modules(args: argparse.Namespace) -> int:
    return _switch(args, enable=False)
