"""What every command shares: the global flags, loading the configuration, logging."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from typing import Any

from sorabeat import logs
from sorabeat.config import load as config_load
from sorabeat.config.load import ConfigError, LoadOptions, Paths
from sorabeat.credentials import (
    MIN_MASKED_LENGTH,
    ScrubbingWriter,
    SecretScrubber,
    install_scrubber,
    short_secrets,
)
from sorabeat.keystore import Keystore, KeystoreError, keystore_path
from sorabeat.pipeline.settings import LoadedSettings, load_settings

# Signals that stop a long-running command gracefully, as libbeat does: SIGHUP too (a closed
# terminal or a supervisor's stop must not kill the process and lose what is in flight).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class CliError(Exception):
    """Ends the command with ``code``, printing ``message`` to stderr (no traceback)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_global_flags(parser: argparse.ArgumentParser, *, top_level: bool) -> None:
    """metricbeat's persistent flags; below a command they must not reset values given
    before it, hence SUPPRESS there."""

    def default(value: Any) -> Any:
        return value if top_level else argparse.SUPPRESS

    group = parser.add_argument_group("global flags")
    group.add_argument(
        "-c",
        "--c",
        dest="config",
        action="append",
        default=default([]),
        metavar="FILE",
        help="configuration file, relative to path.config (repeatable; later files override)",
    )
    group.add_argument(
        "-E",
        "--E",
        dest="overrides",
        action="append",
        default=default([]),
        metavar="KEY=VALUE",
        help='override a setting (repeatable), e.g. -E output.logstash.hosts=["ls:5044"]',
    )
    group.add_argument(
        "-e",
        "--e",
        dest="log_stderr",
        action="store_true",
        default=default(False),
        help="log to stderr instead of files",
    )
    group.add_argument(
        "-d",
        "--d",
        dest="selectors",
        action="append",
        default=default([]),
        metavar="SELECTORS",
        help='enable debug output for comma-separated selectors ("*" for all)',
    )
    group.add_argument(
        "-v",
        "--v",
        dest="verbose",
        action="store_true",
        default=default(False),
        help="log at INFO level",
    )
    for key in ("home", "config", "data", "logs"):
        group.add_argument(
            f"--path.{key}",
            dest=f"path_{key}",
            default=default(None),
            metavar="DIR",
            help=f"path.{key} directory",
        )
    group.add_argument(
        "--strict.perms",
        dest="strict_perms",
        type=_bool,
        default=default(True),
        metavar="BOOL",
        help="refuse config files writable by group or others (default true)",
    )
    group.add_argument(
        "--environment",
        dest="environment",
        default=default(None),
        choices=["default", "systemd", "container", "macos_service", "windows_service"],
        help="the environment sorabeat runs in (systemd: log to stderr for journald)",
    )


def load_options(args: argparse.Namespace) -> LoadOptions:
    return LoadOptions(
        config_files=list(args.config),
        overrides=list(args.overrides),
        path_home=args.path_home,
        path_config=args.path_config,
        path_data=args.path_data,
        path_logs=args.path_logs,
        strict_perms=args.strict_perms,
    )


def _config_error(exc: ConfigError) -> CliError:
    lines = "\n".join(f"  {p}" for p in exc.problems)
    count = len(exc.problems)
    noun = "problem" if count == 1 else "problems"
    return CliError(f"Invalid configuration ({count} {noun}):\n{lines}")


def load_paths(args: argparse.Namespace) -> Paths:
    """The path.* directories only: what ``keystore`` and ``modules`` need."""
    try:
        return config_load.load_paths(load_options(args))
    except ConfigError as exc:
        raise _config_error(exc) from None


def open_keystore(paths: Paths, strict_perms: bool) -> Keystore | None:
    passphrase = Keystore.passphrase_from(os.environ)
    try:
        return Keystore.open(keystore_path(paths.data), passphrase, strict_perms=strict_perms)
    except KeystoreError as exc:
        raise CliError(str(exc)) from None


def load_config(args: argparse.Namespace) -> LoadedSettings:
    """Load the configuration, ``${NAME}`` looked up in the keystore first, or end the
    command listing every problem."""
    opts = load_options(args)
    try:
        store = open_keystore(config_load.load_paths(opts), opts.strict_perms)
        if store is not None:
            opts.secrets = store.get
        loaded = load_settings(opts)
    except ConfigError as exc:
        raise _config_error(exc) from None
    # until a command sets up its own logging (run: files), what it logs goes to stderr,
    # masked like everything else (not through Python's unfiltered last-resort handler)
    logs.configure(
        loaded.settings.logging,
        to_stderr=True,
        selectors=selectors(args),
        secrets=loaded.secret_values,
    )
    scrub_output(loaded)
    return loaded


def scrub_output(loaded: LoadedSettings) -> SecretScrubber:
    """From here on, whatever the command prints passes the scrubber (a server's reply
    echoing a credential, a message quoting a setting), on stdout and stderr alike."""
    scrubber = SecretScrubber(loaded.secret_values)
    install_scrubber(scrubber)
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, ScrubbingWriter):
            stream.flush()
            stream.scrubber = scrubber
        else:
            setattr(sys, name, ScrubbingWriter(stream, scrubber))
    short = short_secrets(loaded.secret_values)
    if short:
        logging.getLogger("sorabeat.config").warning(
            "%d secret value(s) are shorter than %d characters: they are masked where they "
            "are a whole value, but cannot be recognised inside other text; use longer ones",
            short,
            MIN_MASKED_LENGTH,
        )
    return scrubber


def selectors(args: argparse.Namespace) -> list[str]:
    return [s.strip() for arg in args.selectors for s in arg.split(",") if s.strip()]


def setup_logging(args: argparse.Namespace, loaded: LoadedSettings) -> None:
    try:
        _configure_logging(args, loaded)
    except OSError as exc:
        where = exc.filename or loaded.paths.logs
        raise CliError(
            f"cannot write log files in {where}: {exc.strerror} (check --path.logs and "
            "logging.files.path, or log to stderr with -e)"
        ) from None


def _configure_logging(args: argparse.Namespace, loaded: LoadedSettings) -> None:
    logs.configure(
        loaded.settings.logging,
        to_stderr=args.log_stderr,
        selectors=selectors(args),
        environment=args.environment,
        secrets=loaded.secret_values,
        logs_dir=loaded.paths.logs,
    )
