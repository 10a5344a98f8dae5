"""Real proxy servers Debian packages, run in the foreground on loopback for a test: Dante
(``danted``, SOCKS5, with or without username/password) and tinyproxy (HTTP, CONNECT).

Dante checks SOCKS5 passwords against the system's users: ``proxy_user()`` creates a
throwaway system user (as root, as ``.ci/run`` runs) and sets its password.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.procs import free_port

PROXY_USER = "sorabeat-proxy-test"
PROXY_PASSWORD = "Pr0xy-S3cret-pw"


def _binary(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if path is None:
        pytest.fail(
            f"{name} is not installed: apt-get install dante-server tinyproxy (.ci/run does)"
        )
    return path


def proxy_user() -> tuple[str, str]:
    """A system user Dante accepts, with a known password."""
    try:
        pwd.getpwnam(PROXY_USER)
    except KeyError:
        if not _is_root():
            pytest.fail(f"system user {PROXY_USER} is missing and only root can create it")
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PROXY_USER],
            check=True,
            capture_output=True,
        )
    if _is_root():
        subprocess.run(["chpasswd"], input=f"{PROXY_USER}:{PROXY_PASSWORD}".encode(), check=True)
    return PROXY_USER, PROXY_PASSWORD


def _is_root() -> bool:
    return os.geteuid() == 0


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited {proc.returncode}: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on {port}: {log.read_text()[-2000:]}")


@contextlib.contextmanager
def _foreground(args: list[str], port: int, log: Path, what: str) -> Iterator[None]:
    proc = subprocess.Popen(
        args, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        _wait_listening(port, proc, log, what)
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextlib.contextmanager
def dante(
    workdir: Path, *, authenticate: bool = False, blocked_ports: tuple[int, ...] = ()
) -> Iterator[int]:
    """A Dante SOCKS5 server on 127.0.0.1; yields its port. ``blocked_ports``: CONNECTs to
    them are refused by a rule (reply 0x02)."""
    port = free_port()
    blocks = "".join(
        f"socks block {{ from: 127.0.0.0/8 to: 0.0.0.0/0 port = {p} command: connect }}\n"
        for p in blocked_ports
    )
    conf = workdir / f"danted-{port}.conf"
    conf.write_text(
        "logoutput: stderr\n"
        f"internal: 127.0.0.1 port = {port}\n"
        "external: 127.0.0.1\n"
        f"socksmethod: {'username' if authenticate else 'none'}\n"
        "clientmethod: none\n"
        "user.privileged: root\n"
        "user.unprivileged: nobody\n"
        "client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }\n"
        f"{blocks}"
        # one line per tunnel in the log ("... -> 127.0.0.1.<proxy port> 127.0.0.1.<target>")
        "socks pass {\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n  command: connect\n  log: connect\n}\n"
    )
    log = workdir / f"danted-{port}.log"  # read by tests: tunnels opened
    with _foreground([_binary("danted"), "-f", str(conf), "-N", "1"], port, log, "danted"):
        yield port


@contextlib.contextmanager
def tinyproxy(workdir: Path, *, credentials: tuple[str, str] | None = None) -> Iterator[int]:
    """A tinyproxy HTTP proxy on 127.0.0.1 (CONNECT to any port); yields its port. Its log
    (``tinyproxy-<port>.log``) shows each request it forwarded."""
    port = free_port()
    log = workdir / f"tinyproxy-{port}.log"
    auth = f"BasicAuth {credentials[0]} {credentials[1]}\n" if credentials else ""
    conf = workdir / f"tinyproxy-{port}.conf"
    conf.write_text(
        f"Port {port}\n"
        "Listen 127.0.0.1\n"
        "User nobody\n"
        "Group nogroup\n"
        "Timeout 60\n"
        "MaxClients 50\n"
        "LogLevel Info\n"
        "Allow 127.0.0.1\n"
        f"{auth}"
    )
    with _foreground([_binary("tinyproxy"), "-d", "-c", str(conf)], port, log, "tinyproxy"):
        yield port
