"""``sorabeat simulate`` as a real subprocess."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

ADDRESS = re.compile(
    r"^sora simulator \(profile (\S+), (\d+) connections\) listening on (http://\S+)$"
)


def first_line(process: subprocess.Popen[str], deadline: float = 30.0) -> str:
    """The first stdout line, or fail after ``deadline`` seconds (no blocking read).

    stdout is a pipe, so the line only arrives if sorabeat flushes it."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(deadline):
            raise AssertionError(f"no output within {deadline}s")
    return process.stdout.readline().rstrip("\n")


@pytest.fixture
def spawn() -> Iterator[list[subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def start(processes: list[subprocess.Popen[str]], *args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "sorabeat", "simulate", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
    )
    processes.append(process)
    return process


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_prints_the_bound_address_serves_and_exits_0_on_a_signal(
    spawn: list[subprocess.Popen[str]], sig: signal.Signals
) -> None:
    process = start(
        spawn, "--listen", "127.0.0.1:0", "--connections", "5", "--profile", "2018", "--seed", "3"
    )
    match = ADDRESS.match(first_line(process))
    assert match is not None
    assert match[1] == "2018"
    assert match[2] == "5"
    url = match[3]
    assert not url.endswith(":0")
    with httpx.Client(timeout=10) as http:
        response = http.post(url, headers={"x-sora-target": "Sora_20171101.GetStatsAllConnections"})
        assert response.status_code == 200
        assert len(response.json()) == 5
        assert "connection_id" in response.json()[0]
    process.send_signal(sig)
    assert process.wait(15) == 0
    assert process.stderr is not None
    assert "Traceback" not in process.stderr.read()


def test_start_up_fault_and_seed_are_obeyed(spawn: list[subprocess.Popen[str]]) -> None:
    process = start(spawn, "--listen", "127.0.0.1:0", "--fault", "500", "--schedulers", "2")
    match = ADDRESS.match(first_line(process))
    assert match is not None
    with httpx.Client(timeout=10) as http:
        stats = {"x-sora-target": "Sora_20171010.GetStatsReport"}
        assert http.post(match[3], headers=stats).status_code == 500
        http.post(match[3], headers={"x-sora-target": "Simulator.SetFault"}, json={"fault": "none"})
        report = http.post(match[3], headers=stats).json()
        assert len(report["erlang_vm"]["statistics"]["active_tasks"]) == 3
    process.terminate()
    assert process.wait(15) == 0


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["--listen", "nonsense"], 2, "expected host:port"),
        (["--listen", "127.0.0.1:70000"], 2, "expected host:port"),
        (["--profile", "2016"], 2, "invalid choice"),
        (["--connections", "-3"], 2, "whole number"),
        (["--connections", "200000"], 2, "between 0 and"),
        (["--churn", "nan"], 2, "finite number"),
    ],
)
def test_usage_errors_exit_2_without_a_traceback(
    spawn: list[subprocess.Popen[str]], args: list[str], code: int, words: str
) -> None:
    process = start(spawn, *args)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == code
    assert words in stderr
    assert "Traceback" not in stderr


def test_a_port_in_use_exits_1_with_the_reason(spawn: list[subprocess.Popen[str]]) -> None:
    first = start(spawn, "--listen", "127.0.0.1:0")
    match = ADDRESS.match(first_line(first))
    assert match is not None
    port = match[3].rsplit(":", 1)[1]
    second = start(spawn, "--listen", f"127.0.0.1:{port}")
    _, stderr = second.communicate(timeout=30)
    assert second.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in stderr
    assert "in use" in stderr
    assert "Traceback" not in stderr
    first.terminate()
    started = time.monotonic()
    assert first.wait(15) == 0
    assert time.monotonic() - started < 15
