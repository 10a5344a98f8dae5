"""A real full disk for tests: a tiny tmpfs (the tests run as root, as CI does)."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

FS_SIZE = 256 * 1024


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[str]:
    mountpoint = tmp_path / "fs"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={FS_SIZE}", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.fail(
            "this test needs a real full disk: mounting a 256KiB tmpfs failed "
            f"({mounted.stderr.strip() or mounted.returncode}); run the tests as root "
            "with CAP_SYS_ADMIN (as CI does)"
        )
    try:
        yield str(mountpoint)
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def fill(path: str, leave: int) -> None:
    """Take every free byte but about ``leave`` (tmpfs counts whole pages)."""
    reserve = path + ".reserve"
    with open(reserve, "wb") as f:
        f.write(bytes(leave))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    error = 0
    try:
        while not error:
            try:
                os.write(fd, bytes(4096))
            except OSError as exc:
                error = exc.errno or -1
    finally:
        os.close(fd)
    assert error == errno.ENOSPC
    os.unlink(reserve)
