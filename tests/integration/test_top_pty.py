"""`sorabeat top` for real: in a pseudo-terminal, against a `sorabeat simulate` subprocess."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from tests.integration.procs import running, simulator

ROWS, COLUMNS = 30, 100
DEADLINE = 60.0  # seconds for the whole exchange; a loaded machine is slow, never endless


class Terminal:
    """A child process on the slave side of a pty; what it draws is read from the master."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        env = {**os.environ, "TERM": "xterm", "LINES": str(ROWS), "COLUMNS": str(COLUMNS)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sorabeat", *args],
            stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env, start_new_session=True,
        )  # fmt: skip
        os.close(slave)
        self.screen = b""

    def read_until(self, wanted: bytes, deadline: float, after: int = 0) -> None:
        while wanted not in self.screen[after:]:
            left = deadline - time.monotonic()
            assert left > 0, (
                f"{wanted!r} never appeared; the screen so far: {self.screen[-3000:]!r}"
            )
            ready, _, _ = select.select([self.master], [], [], min(left, 0.5))
            if ready:
                try:
                    self.screen += os.read(self.master, 65536)
                except OSError:  # the child is gone (EIO)
                    assert wanted in self.screen, self.screen[-3000:]

    def drain(self) -> None:
        """Keep the pty readable until the child exits (a full pty would block it)."""
        while self.proc.poll() is None:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    self.screen += os.read(self.master, 65536)
                except OSError:
                    return

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)
        os.close(self.master)


def test_top_shows_the_channels_of_a_simulated_node_and_quits_on_q(tmp_path: Path) -> None:
    sim = simulator(tmp_path, connections=30)
    with running(sim):
        host, port = sim.address()
        terminal = Terminal(["top", "--host", f"{host}:{port}", "--period", "0.5"], tmp_path)
        try:
            deadline = time.monotonic() + DEADLINE
            terminal.read_until(b"CHANNEL", deadline)
            terminal.read_until(b"room-000", deadline)  # a channel row
            terminal.read_until(b"bit/s", deadline)
            os.write(terminal.master, b"c")  # sort by connections: the screen is redrawn
            drawn = len(terminal.screen)
            terminal.read_until(b"\x1b", deadline, after=drawn)
            os.write(terminal.master, b"q")
            started = time.monotonic()
            while terminal.proc.poll() is None and time.monotonic() - started < 30:
                terminal.drain()
            assert terminal.proc.wait(1) == 0, terminal.screen[-2000:]
            assert b"Traceback" not in terminal.screen
        finally:
            terminal.close()


def test_top_without_a_terminal_says_it_needs_one(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sorabeat", "top", "--host", "127.0.0.1:9"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 1
    assert "needs a terminal" in result.stderr
    assert "Traceback" not in result.stderr
