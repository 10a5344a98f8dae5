"""Loading: -c merging, -E, ${VAR}, paths, permissions, module files, and every problem named."""

from __future__ import annotations

from pathlib import Path

import pytest

from sorabeat.config.load import ConfigError, LoadedConfig, LoadOptions, load

MODULE = """\
- module: sora
  metricsets: ["stats"]
  period: 5s
  hosts: ["127.0.0.1:3000"]
"""


def write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def make(tmp_path: Path, main: str, *, module: str | None = MODULE) -> None:
    write(tmp_path / "sorabeat.yml", main)
    if module is not None:
        write(tmp_path / "modules.d" / "sora.yml", module)


def run_load(tmp_path: Path, **kw: object) -> LoadedConfig:
    opts = LoadOptions(path_home=str(tmp_path), cwd=str(tmp_path), environ={}, **kw)  # type: ignore[arg-type]
    return load(opts)


def problems(tmp_path: Path, **kw: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        run_load(tmp_path, **kw)
    return [str(p) for p in info.value.problems]


def test_minimal_config_loads_modules_from_modules_d(tmp_path: Path) -> None:
    make(tmp_path, "output.console: {}\n")
    loaded = run_load(tmp_path)
    (module,) = loaded.settings.modules
    assert module.metricsets == ["stats"]
    assert module.period == 5.0
    assert module.effective_timeout == 5.0  # timeout defaults to the period, as metricbeat
    assert loaded.settings.output.enabled() == ["console"]
    assert str(tmp_path / "modules.d" / "sora.yml") in loaded.files


def test_paths_default_under_home_and_relative_to_cwd(tmp_path: Path) -> None:
    make(tmp_path, "output.console: {}\n")
    loaded = run_load(tmp_path, path_data="var/data")
    assert loaded.paths.home == str(tmp_path)
    assert loaded.paths.config == str(tmp_path)
    assert loaded.paths.data == str(tmp_path / "var" / "data")
    assert loaded.paths.logs == str(tmp_path / "logs")


def test_later_files_override_key_by_key(tmp_path: Path) -> None:
    make(tmp_path, "output.logstash:\n  hosts: [a:5044]\n  timeout: 10s\n")
    write(
        tmp_path / "secrets.yml",
        "output.logstash:\n  timeout: 20s\n  ssl.key_passphrase: s3cret\n",
        0o600,
    )
    loaded = run_load(tmp_path, config_files=["sorabeat.yml", "secrets.yml"])
    ls = loaded.settings.output.logstash
    assert ls is not None
    assert ls.hosts == ["a:5044"]  # kept from the first file
    assert ls.timeout == 20.0  # overridden by the second
    assert ls.ssl.key_passphrase == "s3cret"


def test_dotted_and_nested_keys_merge(tmp_path: Path) -> None:
    make(tmp_path, "output.logstash.hosts: [a]\noutput:\n  logstash:\n    timeout: 5s\n")
    ls = run_load(tmp_path).settings.output.logstash
    assert ls is not None and ls.hosts == ["a"] and ls.timeout == 5.0


def test_dash_e_overrides_are_yaml_typed(tmp_path: Path) -> None:
    make(tmp_path, "output.logstash.hosts: [a]\n")
    loaded = run_load(
        tmp_path,
        overrides=[
            'output.logstash.hosts=["b:1", "c:2"]',
            "output.logstash.compression_level=0",
            "name=box",
        ],
    )
    ls = loaded.settings.output.logstash
    assert ls is not None
    assert ls.hosts == ["b:1", "c:2"]
    assert ls.compression_level == 0
    assert loaded.settings.name == "box"


def test_variables_from_environment_settings_and_defaults(tmp_path: Path) -> None:
    make(
        tmp_path,
        "output.logstash:\n  hosts: ['${LS_HOST}:5044']\n  timeout: ${LS_TIMEOUT:7s}\n"
        "  compression_level: ${LEVEL}\nname: ${path.home}\n",
    )
    opts = LoadOptions(
        path_home=str(tmp_path), cwd=str(tmp_path), environ={"LS_HOST": "ls.example", "LEVEL": "5"}
    )
    loaded = load(opts)
    ls = loaded.settings.output.logstash
    assert ls is not None
    assert ls.hosts == ["ls.example:5044"]
    assert ls.timeout == 7.0
    assert ls.compression_level == 5  # expanded text is read as the number it says
    assert loaded.settings.name == str(tmp_path)


def test_secret_lookup_comes_before_environment(tmp_path: Path) -> None:
    make(tmp_path, "output.elasticsearch:\n  hosts: [es]\n  password: ${ES_PWD}\n")
    opts = LoadOptions(
        path_home=str(tmp_path),
        cwd=str(tmp_path),
        environ={"ES_PWD": "from-env"},
        secrets=lambda name: "from-keystore" if name == "ES_PWD" else None,
    )
    es = load(opts).settings.output.elasticsearch
    assert es is not None and es.password == "from-keystore"


def test_unresolved_variable_is_named(tmp_path: Path) -> None:
    make(tmp_path, "output.logstash.hosts: ['${NOPE}']\n")
    (problem,) = problems(tmp_path)
    assert "sorabeat.yml:1" in problem and "${NOPE}" in problem


def test_every_problem_is_reported_with_file_and_line(tmp_path: Path) -> None:
    make(
        tmp_path,
        "output.logstash:\n  hosts: [a]\n  timeout: 3x\n  hostz: 1\nlogging.level: loud\n",
        module="- module: sora\n  metricsets: [stats, conns]\n  period: -5s\n",
    )
    found = problems(tmp_path)
    main = str(tmp_path / "sorabeat.yml")
    mod = str(tmp_path / "modules.d" / "sora.yml")
    assert any(p.startswith(f"{main}:3: output.logstash.timeout: invalid duration") for p in found)
    assert any(p.startswith(f"{main}:4: output.logstash.hostz: unknown setting") for p in found)
    assert any(p.startswith(f"{main}:5: logging.level: expected one of") for p in found)
    assert any(
        p.startswith(f"{mod}:2: sorabeat.modules.0.metricsets.1:") and "'conns'" in p for p in found
    )
    assert any(
        p.startswith(f"{mod}:3: sorabeat.modules.0.period: duration must be > 0") for p in found
    )
    assert len(found) == 5


@pytest.mark.parametrize(
    ("main", "expected"),
    [
        ("logging.level: info\n", "no output is enabled"),
        (
            "output.console: {}\noutput.file: {}\n",
            "only one output may be enabled, found output.console, output.file",
        ),
        ("output.logstash: {}\n", "output.logstash.hosts: at least one host is needed"),
        (
            "output.console: {}\nqueue.mem: {}\nqueue.spool: {}\n",
            "set either queue.spool or queue.mem",
        ),
        (
            "output.console: {}\noutput: {console: {}}\noutput.console.pretty: true\nname: a\nname: b\n",
            "duplicate key",
        ),
        ("output.console: [unclosed\n", "invalid YAML"),
        ("- just\n- a list\n", "expected a mapping of settings"),
    ],
)
def test_config_mistakes(tmp_path: Path, main: str, expected: str) -> None:
    make(tmp_path, main)
    found = problems(tmp_path)
    assert any(expected in p for p in found), found


def test_disabled_output_does_not_count(tmp_path: Path) -> None:
    make(tmp_path, "output.console: {}\noutput.logstash:\n  enabled: false\n")
    assert run_load(tmp_path).settings.output.enabled() == ["console"]


def test_missing_config_file(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, config_files=["nowhere.yml"])
    assert "nowhere.yml" in problem and "not found" in problem


def test_group_writable_config_is_refused_unless_strict_perms_off(tmp_path: Path) -> None:
    make(tmp_path, "output.console: {}\n")
    (tmp_path / "sorabeat.yml").chmod(0o664)
    (problem,) = problems(tmp_path)
    assert "can only be writable by the owner" in problem and "chmod go-w" in problem
    assert run_load(tmp_path, strict_perms=False).settings.output.enabled() == ["console"]


def test_module_files_are_checked_for_permissions_too(tmp_path: Path) -> None:
    make(tmp_path, "output.console: {}\n")
    (tmp_path / "modules.d" / "sora.yml").chmod(0o666)
    (problem,) = problems(tmp_path)
    assert "modules.d/sora.yml" in problem


def test_disabled_module_files_are_ignored(tmp_path: Path) -> None:
    make(tmp_path, "output.console: {}\n", module=None)
    write(tmp_path / "modules.d" / "sora.yml.disabled", MODULE)
    assert run_load(tmp_path).settings.modules == []


def test_inline_modules_and_module_files_add_up(tmp_path: Path) -> None:
    make(
        tmp_path,
        "output.console: {}\nsorabeat.modules:\n- module: sora\n  hosts: ['h2:3000']\n",
    )
    hosts = [m.hosts for m in run_load(tmp_path).settings.modules]
    assert hosts == [["h2:3000"], ["127.0.0.1:3000"]]


def test_module_defaults_and_several_entries(tmp_path: Path) -> None:
    make(
        tmp_path,
        "output.console: {}\n",
        module="- module: sora\n- module: sora\n  hosts: ['https://sora2:443/']\n  timeout: 2s\n  enabled: false\n",
    )
    all_modules = run_load(tmp_path).settings.sorabeat.modules
    assert all_modules[0].metricsets == ["stats", "connections"]
    assert all_modules[0].period == 10.0 and all_modules[0].hosts == ["localhost:3000"]
    assert all_modules[1].effective_timeout == 2.0
    assert len(run_load(tmp_path).settings.modules) == 1  # the disabled one is not polled


def test_defaults_that_name_other_settings_are_expanded(tmp_path: Path) -> None:
    make(tmp_path, "output.file: {}\nqueue.spool: {max_size: 2GiB}\n")
    loaded = run_load(tmp_path, path_data="/var/lib/sb")
    assert loaded.settings.output.file is not None
    assert loaded.settings.output.file.path == "/var/lib/sb/sorabeat"
    assert loaded.settings.queue.spool is not None
    assert loaded.settings.queue.spool.path == "/var/lib/sb/spool"


def test_nested_default_references_are_expanded(tmp_path: Path) -> None:
    make(tmp_path, "output.console: {}\nname: ${A:${B}}\ntags: ['${C:${D:x}}']\n")
    opts = LoadOptions(path_home=str(tmp_path), cwd=str(tmp_path), environ={"B": "bee"})
    loaded = load(opts)
    assert loaded.settings.name == "bee"
    assert loaded.settings.tags == ["x"]


@pytest.mark.parametrize("value", [".inf", ".nan", "-.inf"])
def test_durations_must_be_finite(tmp_path: Path, value: str) -> None:
    make(tmp_path, f"output.console: {{}}\nsorabeat.shutdown_timeout: {value}\n")
    found = problems(tmp_path)
    assert any(
        "sorabeat.shutdown_timeout" in p and ("finite" in p or ">= 0" in p) for p in found
    ), found


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ("{'Bad Name': x}", "not a valid HTTP header name"),
        ("{Authorization: 'Bearer tökén'}", "ASCII text on one line"),
    ],
)
def test_module_headers_are_checked_without_echoing_the_value(
    tmp_path: Path, headers: str, words: str
) -> None:
    make(tmp_path, "output.console: {}\n", module=f"- module: sora\n  headers: {headers}\n")
    (problem,) = problems(tmp_path)
    assert words in problem and "tökén" not in problem


def test_the_channels_metricset_is_accepted_and_named_when_misspelt(tmp_path: Path) -> None:
    make(
        tmp_path,
        "output.console: {}\n",
        module="- module: sora\n  metricsets: [stats, connections, channels]\n",
    )
    (module,) = run_load(tmp_path).settings.modules
    assert module.metricsets == ["stats", "connections", "channels"]
    make(tmp_path, "output.console: {}\n", module="- module: sora\n  metricsets: [channel]\n")
    assert any(
        "metricsets.0: expected one of 'stats', 'connections', 'channels', got string 'channel'"
        in p
        for p in problems(tmp_path)
    )
