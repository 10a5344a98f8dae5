"""Real processes for end-to-end tests: `sorabeat simulate`, `sorabeat receive`, `sorabeat run`.

Each helper waits on a condition with a deadline, never on a fixed sleep, and every process
is killed when the test ends.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml

ADDRESS = re.compile(rb"(?:https?://)?(127\.0\.0\.1|\[::1\]|localhost):(\d+)")


class Proc:
    """A `python -m sorabeat ...` subprocess with its stdout/stderr captured to files."""

    def __init__(self, args: list[str], workdir: Path, name: str) -> None:
        self.stdout_path = workdir / f"{name}.stdout"
        self.stderr_path = workdir / f"{name}.stderr"
        self.args = args
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "sorabeat", *args],
            cwd=workdir,
            stdout=self.stdout_path.open("wb"),
            stderr=self.stderr_path.open("wb"),
            start_new_session=True,
        )

    def stdout(self) -> bytes:
        return self.stdout_path.read_bytes()

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def address(self, timeout: float = 30) -> tuple[str, int]:
        """The host:port the process printed when it started listening."""
        m = wait_for(
            lambda: ADDRESS.search(self.stdout()), timeout, f"{self.args[0]} address", self
        )
        return m.group(1).decode(), int(m.group(2))

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(sig)

    def stop(self, timeout: float = 30) -> int:
        self.signal(signal.SIGTERM)
        return self.popen.wait(timeout)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(30)

    def alive(self) -> bool:
        return self.popen.poll() is None


def wait_for(
    condition: Callable[[], Any], timeout: float, what: str, proc: Proc | None = None
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and not proc.alive():
            raise AssertionError(
                f"{what}: process exited {proc.popen.returncode}: {proc.stderr()[-2000:]}"
            )
        time.sleep(0.05)
    detail = f"\nstderr: {proc.stderr()[-2000:]}" if proc is not None else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")


@contextlib.contextmanager
def running(*procs: Proc) -> Iterator[None]:
    try:
        yield
    finally:
        for p in procs:
            if p.alive():
                p.kill()


def simulator(workdir: Path, *extra: str, profile: str = "current", connections: int = 5) -> Proc:
    return Proc(
        [
            "simulate",
            "--listen",
            "127.0.0.1:0",
            "--profile",
            profile,
            "--connections",
            str(connections),
            "--churn",
            "0",
            "--seed",
            "7",
            *extra,
        ],
        workdir,
        "simulate",
    )


def control(address: tuple[str, int], target: str, body: dict[str, Any] | None = None) -> Any:
    """Call a simulator control target (Simulator.SetFault, Simulator.GetServed, ...)."""
    response = httpx.post(
        f"http://{address[0]}:{address[1]}/",
        headers={"x-sora-target": target},
        content=orjson.dumps(body or {}),
        timeout=10,
        trust_env=False,
    )
    response.raise_for_status()
    return response.json()


def write_config(home: Path, settings: dict[str, Any], modules: list[dict[str, Any]]) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "sorabeat.yml").write_text(yaml.safe_dump(settings))
    (home / "sorabeat.yml").chmod(0o600)
    (home / "modules.d").mkdir(exist_ok=True)
    (home / "modules.d" / "sora.yml").write_text(yaml.safe_dump(modules))
    (home / "modules.d" / "sora.yml").chmod(0o600)


def sorabeat_run(home: Path, *extra: str, name: str = "sorabeat") -> Proc:
    return Proc(["run", "-e", "--path.home", str(home), *extra], home, name)


def ndjson(path: Path) -> list[dict[str, Any]]:
    """Complete lines of an NDJSON file (a line being written is left out)."""
    if not path.exists():
        return []
    data = path.read_bytes()
    return [orjson.loads(line) for line in data.split(b"\n")[:-1] if line]


def free_port() -> int:
    """A loopback port nothing listens on now (for a server that must come back on it)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def receiver(workdir: Path, port: int, out: Path, *extra: str, name: str = "receive") -> Proc:
    return Proc(
        ["receive", "--listen", f"127.0.0.1:{port}", "--output", str(out), *extra], workdir, name
    )
