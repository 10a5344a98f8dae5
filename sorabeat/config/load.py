"""Load the configuration the way metricbeat does.

``-c`` files merged in order (later ones override key by key), then ``-E`` overrides,
``--path.*`` flags, the module files found through ``sorabeat.config.modules.path``,
``${...}`` references; then validation that reports every problem at once.
"""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any, Generic, TypeVar

from sorabeat.config.expand import expand, resolver
from sorabeat.config.raw import (
    ConfigFileError,
    RawConfig,
    merge,
    parse_override,
    parse_yaml,
    parse_yaml_list,
)
from sorabeat.config.schema import Problem, Validator
from sorabeat.config.secrets import secret_values

DEFAULT_CONFIG_FILE = "sorabeat.yml"

S = TypeVar("S")


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` lists everything wrong with it."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted(problems, key=_position)
        super().__init__("\n".join(str(p) for p in self.problems))


def _position(problem: Problem) -> tuple[int, str, int]:
    if problem.origin is None:
        return (1, "", 0)
    name, _, line = problem.origin.rpartition(":")
    if line.isdigit():
        return (0, name, int(line))
    return (0, problem.origin, 0)


@dataclass(frozen=True)
class Paths:
    home: str
    config: str
    data: str
    logs: str


@dataclass
class LoadOptions:
    config_files: list[str] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    path_home: str | None = None
    path_config: str | None = None
    path_data: str | None = None
    path_logs: str | None = None
    strict_perms: bool = True
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    secrets: Callable[[str], str | None] | None = None
    cwd: str | None = None


@dataclass(frozen=True)
class LoadedConfig(Generic[S]):
    settings: S
    raw: RawConfig
    paths: Paths
    files: list[str]
    # the text of every secret setting and every keystore value used: never to be shown
    secret_values: frozenset[str] = frozenset()


def resolve_paths(raw: RawConfig, opts: LoadOptions) -> Paths:
    """path.* from flags, else from the files; relative paths are relative to the cwd."""
    cwd = opts.cwd or os.getcwd()

    def pick(flag: str | None, key: str) -> str | None:
        if flag:
            return flag
        value = raw.get(("path", key))
        return str(value) if isinstance(value, str) and value else None

    def absolute(p: str) -> str:
        return os.path.normpath(os.path.join(cwd, os.path.expanduser(p)))

    home = absolute(pick(opts.path_home, "home") or cwd)
    config = absolute(pick(opts.path_config, "config") or home)
    data = absolute(pick(opts.path_data, "data") or os.path.join(home, "data"))
    logs = absolute(pick(opts.path_logs, "logs") or os.path.join(home, "logs"))
    return Paths(home=home, config=config, data=data, logs=logs)


def check_permissions(path: str) -> str | None:
    """Metricbeat's strict.perms rule: owned by us or root, writable by the owner only."""
    st = os.stat(path)
    uid = os.geteuid()
    if st.st_uid not in (uid, 0):
        return (
            f"config file ({path!r}) must be owned by the user identifier (uid={uid}) or root "
            f"(to ignore this check, use --strict.perms=false)"
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        mode = stat.filemode(st.st_mode)
        return (
            f"config file ({path!r}) can only be writable by the owner but the permissions "
            f"are \"{mode}\" (to fix the permissions use: 'chmod go-w {path}')"
        )
    return None


def _read_text(
    path: str, strict: bool, problems: list[Problem], missing_ok: bool = False
) -> str | None:
    if missing_ok and not os.path.lexists(path):
        return None
    try:
        if strict:
            denied = check_permissions(path)
            if denied:
                problems.append(Problem("", denied, path))
                return None
        return FsPath(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(Problem("", "config file not found", path))
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem("", f"cannot read config file: {exc}", path))
    return None


def _read_files(opts: LoadOptions, missing_ok: bool = False) -> tuple[RawConfig, list[str]]:
    """The ``-c`` files merged in order, then the ``-E`` overrides; ConfigError if unreadable
    (or missing, unless ``missing_ok``)."""
    problems: list[Problem] = []
    cwd = opts.cwd or os.getcwd()
    flag_config = os.path.join(cwd, opts.path_config or opts.path_home or "")
    files = opts.config_files or [DEFAULT_CONFIG_FILE]
    resolved = [os.path.normpath(os.path.join(flag_config, f)) for f in files]

    raw = RawConfig()
    for path in resolved:
        text = _read_text(path, opts.strict_perms, problems, missing_ok)
        if text is None:
            continue
        try:
            raw = merge(raw, parse_yaml(text, path))
        except ConfigFileError as exc:
            problems.append(Problem("", str(exc)))
    for override in opts.overrides:
        try:
            raw = merge(raw, parse_override(override))
        except ConfigFileError as exc:
            problems.append(Problem("", str(exc)))

    if problems:
        # validating what could be read would only add noise ("no output") to the real cause
        raise ConfigError(problems)
    return raw, resolved


def load_paths(opts: LoadOptions) -> Paths:
    """Only the ``path.*`` directories (for commands such as ``keystore`` and ``modules``,
    which must work while the rest of the configuration cannot be resolved yet, or before
    there is any: ``keystore create`` comes before the first ``sorabeat.yml``)."""
    raw, _ = _read_files(opts, missing_ok=True)
    return resolve_paths(raw, opts)


def load(opts: LoadOptions, schema: type[S]) -> LoadedConfig[S]:
    """Load, merge, expand and validate against ``schema`` (the settings tree, a dataclass);
    raise ConfigError listing every problem."""
    problems: list[Problem] = []
    raw, resolved = _read_files(opts)
    paths = resolve_paths(raw, opts)
    for key in ("home", "config", "data", "logs"):
        raw.set(("path", key), getattr(paths, key), raw.origins.get(("path", key), "--path"))

    def from_env(name: str) -> str | None:
        return opts.environ.get(name)

    from_secrets: set[str] = set()
    lookups = [from_env]
    if opts.secrets is not None:
        secrets = opts.secrets

        def from_keystore(name: str) -> str | None:
            value = secrets(name)
            if value is not None:
                from_secrets.add(value)  # whatever the keystore holds is secret wherever used
            return value

        lookups.insert(0, from_keystore)
    module_files = _load_module_files(raw, opts, problems, lookups)
    expand(raw, *lookups)

    validator = Validator(raw.origins, resolver(raw, *lookups))
    settings = validator.build(schema, raw.data)
    problems.extend(raw.problems)
    problems.extend(validator.problems)
    if problems:
        raise ConfigError(problems)
    return LoadedConfig(
        settings=settings,
        raw=raw,
        paths=paths,
        files=resolved + module_files,
        secret_values=frozenset(from_secrets | secret_values(raw.data, schema)),
    )


def _load_module_files(
    raw: RawConfig,
    opts: LoadOptions,
    problems: list[Problem],
    lookups: Sequence[Callable[[str], str | None]],
) -> list[str]:
    pattern_raw = RawConfig()
    value: Any = raw.get(
        ("sorabeat", "config", "modules", "path"), "${path.config}/modules.d/*.yml"
    )
    if not isinstance(value, str):
        return []  # validation reports the wrong type
    pattern_raw.set(("pattern",), value, "sorabeat.config.modules.path")
    pattern_raw.data["path"] = raw.data.get("path", {})
    expand(pattern_raw, *lookups)
    problems.extend(pattern_raw.problems)
    pattern = str(pattern_raw.data["pattern"])
    inline = raw.get(("sorabeat", "modules"))
    entries: list[Any] = list(inline) if isinstance(inline, list) else []
    if inline is not None and not isinstance(inline, list):
        return []
    found = sorted(glob.glob(pattern))
    for path in found:
        text = _read_text(path, opts.strict_perms, problems)
        if text is None:
            continue
        try:
            entries.extend(parse_yaml_list(text, path, ("sorabeat", "modules"), len(entries), raw))
        except ConfigFileError as exc:
            problems.append(Problem("", str(exc)))
    if found:
        raw.data.setdefault("sorabeat", {})
        if not isinstance(raw.data["sorabeat"], dict):
            return found
        raw.data["sorabeat"]["modules"] = entries
    return found
