"""What an operator does with the sorabeat command, on real subprocesses: run and stop it,
keep secrets in the keystore, switch modules, profile, disable publishing, complete words."""

from __future__ import annotations

import asyncio
import base64
import os
import pstats
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tools.emulators.scripted_http import Request, ScriptedServer

DEADLINE = 30.0


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sorabeat(
    *args: str, home: Path, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sorabeat", *args, "--path.home", str(home)],
        cwd=home,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def make_home(tmp_path: Path, main: str, module: str | None = None) -> Path:
    home = tmp_path / "home"
    (home / "modules.d").mkdir(parents=True)
    (home / "sorabeat.yml").write_text(main)
    (home / "sorabeat.yml").chmod(0o600)
    # a timeout over the period: a refused connection, not a poll that ran out of time
    # while a loaded machine started the process, is what every poll ends with
    module = module or (
        f"- module: sora\n  period: 200ms\n  timeout: 10s\n  hosts: ['127.0.0.1:{closed_port()}']\n"
    )
    (home / "modules.d" / "sora.yml").write_text(module)
    (home / "modules.d" / "sora.yml").chmod(0o600)
    return home


FILE_OUTPUT = "output.file:\n  path: out\n  filename: events\nqueue.mem: {}\n"


def log_text(home: Path) -> str:
    logs = home / "logs"
    if not logs.exists():
        return ""
    return "".join(p.read_text(errors="replace") for p in sorted(logs.iterdir()))


async def start(home: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sorabeat",
        "run",
        "--path.home",
        str(home),
        *args,
        cwd=home,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def wait_for(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def stop(process: asyncio.subprocess.Process) -> tuple[int, float, str]:
    """SIGTERM; (exit code, seconds it took, stderr)."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(process.communicate(), DEADLINE)
    return process.returncode or 0, time.monotonic() - started, err.decode(errors="replace")


# --- run: SIGTERM, -N, --profile, environment -----------------------------------------------


@pytest.mark.timeout(90)
async def test_sigterm_stops_within_shutdown_timeout_with_exit_0(tmp_path: Path) -> None:
    home = make_home(tmp_path, FILE_OUTPUT + "sorabeat.shutdown_timeout: 3s\n")
    process = await start(home)
    events = home / "out" / "events.ndjson"
    try:
        await wait_for(lambda: events.exists() and events.stat().st_size > 0, "events")
    finally:
        code, took, err = await stop(process)
    assert code == 0, err
    # generous: the bound is the timeout plus interpreter exit on a loaded machine
    assert took < 3 + 15, took
    assert "received SIGTERM, stopping" in log_text(home)
    assert "sorabeat stopped" in log_text(home)
    first = orjson.loads(events.read_bytes().splitlines()[0])
    assert "cannot connect" in first["error"]["message"]  # the closed port, as intended


@pytest.mark.timeout(90)
async def test_no_publish_flag_acknowledges_without_sending(tmp_path: Path) -> None:
    home = make_home(tmp_path, FILE_OUTPUT)
    process = await start(home, "-N", "-d", "publish")
    try:
        await wait_for(lambda: "acknowledged without sending" in log_text(home), "a discard")
    finally:
        code, _, err = await stop(process)
    assert code == 0, err
    assert not (home / "out" / "events.ndjson").exists()
    assert "publishing disabled by -N" in log_text(home)


@pytest.mark.timeout(90)
async def test_profile_is_written_on_exit_and_loads(tmp_path: Path) -> None:
    home = make_home(tmp_path, FILE_OUTPUT)
    profile = tmp_path / "cpu.prof"
    process = await start(home, "--profile", str(profile))
    try:
        await wait_for(lambda: "started" in log_text(home), "start")
    finally:
        code, _, err = await stop(process)
    assert code == 0, err
    stats = pstats.Stats(str(profile))
    functions = {
        f"{Path(file).parent.name}/{Path(file).name}:{name}"
        for file, _, name in stats.stats  # type: ignore[attr-defined]
    }
    assert "cli/run.py:run" in functions and "pipeline/run.py:run" in functions


@pytest.mark.timeout(90)
@pytest.mark.parametrize("to_files", [None, True])
async def test_systemd_environment_logs_to_stderr_unless_files_are_set(
    tmp_path: Path, to_files: bool | None
) -> None:
    extra = "" if to_files is None else "logging.to_files: true\n"
    home = make_home(tmp_path, FILE_OUTPUT + extra)
    process = await start(home, "--environment", "systemd")
    early = b""
    try:
        if to_files:
            await wait_for(lambda: "started" in log_text(home), "the log file")
        else:
            assert process.stderr is not None
            while b"started" not in early:
                line = await asyncio.wait_for(process.stderr.readline(), DEADLINE)
                assert line, "stderr closed before sorabeat started"
                early += line
    finally:
        code, _, err = await stop(process)
    err = early.decode() + err
    assert code == 0, err
    if to_files:
        assert "sorabeat stopped" in log_text(home) and "started" not in err
    else:
        assert not (home / "logs").exists()
        assert "sorabeat stopped" in err and "\tINFO\t[sorabeat]\t" in err


# --- the monitoring endpoint and the metrics line of a running sorabeat ------------------------


@pytest.mark.timeout(90)
async def test_running_sorabeat_serves_metrics_and_logs_them(tmp_path: Path) -> None:
    port = closed_port()
    home = make_home(
        tmp_path,
        FILE_OUTPUT
        + f"http.enabled: true\nhttp.host: 127.0.0.1\nhttp.port: {port}\n"
        + "logging.metrics.period: 300ms\n",
    )
    process = await start(home)
    try:
        await wait_for(lambda: "Non-zero metrics in the last 300ms" in log_text(home), "metrics")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            metrics = (await client.get("/metrics")).text
            stats = (await client.get("/stats")).json()
            health = await client.get("/health")
    finally:
        code, _, err = await stop(process)
    assert code == 0, err
    fams = {f.name: f for f in text_string_to_metric_families(metrics)}
    assert sum(s.value for s in fams["sorabeat_sora_polls_failed"].samples) >= 1
    assert stats["events"]["acked"] >= 1 and stats["beat"]["info"]["uptime"]["ms"] > 0
    assert health.status_code == 200
    line = next(
        ln for ln in log_text(home).splitlines() if "Non-zero metrics in the last 300ms" in ln
    )
    detail = orjson.loads(line.split("\t")[-1])
    assert "sora" in detail["monitoring"]["metrics"]
    assert "Total metrics" in log_text(home)


@pytest.mark.timeout(60)
async def test_busy_http_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        home = make_home(
            tmp_path, FILE_OUTPUT + f"http.enabled: true\nhttp.host: 127.0.0.1\nhttp.port: {port}\n"
        )
        result = sorabeat("run", home=home)
    assert result.returncode == 1
    assert f"http: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


# --- secrets: keystore into a running config, never in logs or export config ----------------


SECRETS = {
    "SORA_PWD": "keystore-pa55word",
    "SORA_KEY": "keystore-api-k3y",
}
LITERAL = "kibana-literal-s3cret"
ENV_SECRET = "env-s3cret-header"


@pytest.mark.timeout(120)
async def test_keystore_secrets_reach_sora_but_never_logs_or_export(tmp_path: Path) -> None:
    seen: list[Request] = []

    async def echo(request: Request) -> bytes:
        seen.append(request)
        # a body that is not JSON: the poller logs a snippet of it, secrets included
        body = f"oops {request.headers.get('authorization')} {request.headers.get('x-api-key')}"
        body += f" {request.headers.get('proxy-authorization')}"
        data = body.encode()
        return (
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(data)}\r\n\r\n".encode()
            + data
        )

    server = ScriptedServer(echo)
    host, port = await server.start()
    module = (
        f"- module: sora\n  metricsets: [stats]\n  period: 200ms\n  hosts: ['{host}:{port}']\n"
        "  username: sorauser\n  password: ${SORA_PWD}\n"
        "  headers:\n    x-api-key: ${SORA_KEY}\n    Proxy-Authorization: ${PROXY_TOKEN}\n"
    )
    main = FILE_OUTPUT + f"setup.kibana.password: {LITERAL}\nlogging.level: debug\n"
    home = make_home(tmp_path, main, module)
    env = {"PROXY_TOKEN": ENV_SECRET}
    assert sorabeat("keystore", "create", home=home).returncode == 0
    for key, value in SECRETS.items():
        added = sorabeat("keystore", "add", key, "--stdin", home=home, stdin=value + "\n")
        assert added.returncode == 0, added.stderr

    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "sorabeat",
            "--path.home",
            str(home),
            "-d",
            "*",
            cwd=home,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **env},
        )
        try:
            await wait_for(lambda: "invalid JSON" in log_text(home), "the logged snippet")
        finally:
            code, _, err = await stop(process)
        # a command that logs to stderr (its poll fails the same way) masks them too
        probe = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "sorabeat",
            "test",
            "modules",
            "--path.home",
            str(home),
            cwd=home,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **env},
        )
        _, probe_err = await asyncio.wait_for(probe.communicate(), DEADLINE)
    finally:
        await server.close()
    assert code == 0, err
    assert probe.returncode == 1 and b"invalid JSON" in probe_err
    err += probe_err.decode(errors="replace")

    # the secrets did reach Sora, resolved from the keystore
    basic = base64.b64encode(f"sorauser:{SECRETS['SORA_PWD']}".encode()).decode()
    assert seen[0].headers["authorization"] == f"Basic {basic}"
    assert seen[0].headers["x-api-key"] == SECRETS["SORA_KEY"]

    logged = log_text(home) + err
    exported = sorabeat("export", "config", home=home, env=env)
    assert exported.returncode == 0, exported.stderr
    for secret in [*SECRETS.values(), LITERAL, ENV_SECRET, basic]:
        assert secret not in logged, secret
        assert secret not in exported.stdout, secret
    assert "xxxxx" in logged and "xxxxx" in exported.stdout


# --- keystore command ---------------------------------------------------------------------------


def test_keystore_commands_round_trip(tmp_path: Path) -> None:
    home = make_home(tmp_path, FILE_OUTPUT + "name: ${SHIPPER_NAME}\n")
    missing = sorabeat("keystore", "list", home=home)
    assert missing.returncode == 1 and "keystore create" in missing.stderr
    # the configuration cannot load before the key exists, yet the keystore commands work
    assert sorabeat("test", "config", home=home).returncode == 1
    created = sorabeat("keystore", "create", home=home)
    assert created.returncode == 0 and "Created sorabeat keystore" in created.stdout
    path = home / "data" / "sorabeat.keystore"
    assert (path.stat().st_mode & 0o777) == 0o600
    again = sorabeat("keystore", "create", home=home)
    assert again.returncode == 1 and "--force" in again.stderr
    added = sorabeat("keystore", "add", "SHIPPER_NAME", "--stdin", home=home, stdin="edge-7\n")
    assert added.returncode == 0, added.stderr
    dup = sorabeat("keystore", "add", "SHIPPER_NAME", "--stdin", home=home, stdin="x\n")
    assert dup.returncode == 1 and "already exists" in dup.stderr
    forced = sorabeat(
        "keystore", "add", "SHIPPER_NAME", "--stdin", "--force", home=home, stdin="edge-8"
    )
    assert forced.returncode == 0
    assert sorabeat("keystore", "add", "OTHER", "--stdin", home=home, stdin="v4lue").returncode == 0
    listed = sorabeat("keystore", "list", home=home)
    assert listed.stdout == "OTHER\nSHIPPER_NAME\n" and "edge" not in listed.stdout
    exported = sorabeat("export", "config", home=home)
    assert exported.returncode == 0 and "name: xxxxx" in exported.stdout
    assert "edge-8" not in exported.stdout
    assert sorabeat("test", "config", home=home).returncode == 0
    removed = sorabeat("keystore", "remove", "OTHER", home=home)
    assert removed.returncode == 0
    assert sorabeat("keystore", "list", home=home).stdout == "SHIPPER_NAME\n"
    gone = sorabeat("keystore", "remove", "OTHER", home=home)
    assert gone.returncode == 1 and "could not find" in gone.stderr


def test_keystore_with_wrong_permissions_or_corrupt_is_refused(tmp_path: Path) -> None:
    home = make_home(tmp_path, FILE_OUTPUT + "name: ${SHIPPER_NAME}\n")
    assert sorabeat("keystore", "create", home=home).returncode == 0
    sorabeat("keystore", "add", "SHIPPER_NAME", "--stdin", home=home, stdin="edge-7")
    path = home / "data" / "sorabeat.keystore"
    path.chmod(0o644)
    for command in (["test", "config"], ["keystore", "list"], ["run"]):
        refused = sorabeat(*command, home=home)
        assert refused.returncode == 1, command
        assert "chmod 600" in refused.stderr and "Traceback" not in refused.stderr
    assert sorabeat("test", "config", "--strict.perms=false", home=home).returncode == 0
    path.chmod(0o600)
    path.write_bytes(path.read_bytes()[:-10] + b"AAAAAAAAA\n")
    corrupt = sorabeat("test", "config", home=home)
    assert corrupt.returncode == 1 and "cannot be decrypted" in corrupt.stderr
    assert "Traceback" not in corrupt.stderr


def test_keystore_add_without_terminal_or_bad_key(tmp_path: Path) -> None:
    home = make_home(tmp_path, FILE_OUTPUT)
    sorabeat("keystore", "create", home=home)
    no_tty = sorabeat("keystore", "add", "K", home=home, stdin="")
    assert no_tty.returncode == 1 and "--stdin" in no_tty.stderr
    bad = sorabeat("keystore", "add", "no spaces", "--stdin", home=home, stdin="v")
    assert bad.returncode == 2 and "invalid key" in bad.stderr


# --- modules command ----------------------------------------------------------------------------


def test_modules_list_enable_disable(tmp_path: Path) -> None:
    home = make_home(tmp_path, FILE_OUTPUT)
    (home / "modules.d" / "sora-edge.yml.disabled").write_text("- module: sora\n  hosts: [x]\n")
    listed = sorabeat("modules", "list", home=home)
    assert listed.stdout == "Enabled:\nsora\n\nDisabled:\nsora-edge\n"
    disabled = sorabeat("modules", "disable", "sora", home=home)
    assert disabled.returncode == 0 and disabled.stdout == "Disabled sora\n"
    assert (home / "modules.d" / "sora.yml.disabled").exists()
    assert not (home / "modules.d" / "sora.yml").exists()
    no_module = sorabeat("test", "config", home=home)
    assert no_module.returncode == 1 and "no Sora module is enabled" in no_module.stderr
    enabled = sorabeat("modules", "enable", "sora", "sora-edge", home=home)
    assert enabled.stdout == "Enabled sora\nEnabled sora-edge\n"
    assert (
        sorabeat("modules", "list", home=home).stdout == "Enabled:\nsora\nsora-edge\n\nDisabled:\n"
    )
    already = sorabeat("modules", "enable", "sora", home=home)
    assert already.returncode == 0 and "already enabled" in already.stdout
    unknown = sorabeat("modules", "enable", "nginx", home=home)
    assert unknown.returncode == 1
    assert "module nginx doesn't exist" in unknown.stderr and "sora, sora-edge" in unknown.stderr


def test_modules_without_directory_is_an_error(tmp_path: Path) -> None:
    home = make_home(tmp_path, FILE_OUTPUT)
    result = sorabeat(
        "modules",
        "list",
        "--path.config",
        str(tmp_path / "elsewhere"),
        "-c",
        str(home / "sorabeat.yml"),
        home=home,
    )
    assert result.returncode == 1 and "modules directory" in result.stderr


# --- usage errors and completion ----------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["modules"],
        ["modules", "frob"],
        ["modules", "enable"],
        ["keystore"],
        ["keystore", "add"],
        ["keystore", "remove"],
        ["keystore", "list", "--bogus"],
        ["completion"],
        ["completion", "zsh"],
        ["run", "--profile"],
        ["run", "--no-such"],
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    result = sorabeat(*args, home=tmp_path)
    assert result.returncode == 2, result
    assert "usage:" in result.stderr and "Traceback" not in result.stderr


def complete(script: str, *words: str, cwd: Path | None = None) -> list[str]:
    """Ask the completion function for the last of ``words`` as bash would."""
    quoted = " ".join(f"'{w}'" for w in ("sorabeat", *words))
    program = (
        f"{script}\nCOMP_WORDS=({quoted}); COMP_CWORD={len(words)}; _sorabeat; "
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    result = subprocess.run(
        ["bash", "-c", program], capture_output=True, text=True, timeout=30, check=True, cwd=cwd
    )
    return result.stdout.split()


def test_bash_completion(tmp_path: Path) -> None:
    generated = sorabeat("completion", "bash", home=tmp_path)
    assert generated.returncode == 0
    script = generated.stdout
    assert complete(script, "k") == ["keystore"]
    assert set(complete(script, "")) >= {"run", "test", "modules", "keystore", "completion"}
    assert complete(script, "keystore", "")[:4] == ["create", "add", "remove", "list"]
    assert complete(script, "-c", "x.yml", "te") == ["test"]
    assert complete(script, "test", "config", "--path.") == [
        "--path.home",
        "--path.config",
        "--path.data",
        "--path.logs",
    ]
    assert "--profile" in complete(script, "run", "--")
    assert complete(script, "--environment", "sys") == ["systemd"]
    assert complete(script, "modules", "e") == ["enable"]
    assert complete(script, "test", "modules", "s") == ["sora", "stats"]
    (tmp_path / "conf-a.yml").write_text("")
    assert complete(script, "-c", "conf-", cwd=tmp_path) == ["conf-a.yml"]


def test_unwritable_log_directory_is_a_clear_error(tmp_path: Path) -> None:
    home = make_home(tmp_path, FILE_OUTPUT)
    (home / "logs").write_text("a file where the directory should be")
    result = sorabeat("run", home=home)
    assert result.returncode == 1 and "cannot write log files in" in result.stderr
    assert "Traceback" not in result.stderr
