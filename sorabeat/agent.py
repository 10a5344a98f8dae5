"""Who is shipping: agent identity persisted in ``path.data/meta.json``, and the lock that
keeps two sorabeat processes off one data directory."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
import uuid
from typing import IO

from sorabeat import __version__
from sorabeat.event import AgentInfo

log = logging.getLogger("sorabeat")


class DataDirLockedError(Exception):
    pass


def write_atomically(path: str, data: bytes, mode: int = 0o600) -> None:
    """Write a small file so that a crash leaves either the old or the new content."""
    directory = os.path.dirname(path) or "."
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def agent_id(data_dir: str) -> str:
    """The persisted agent id; created on first start, recreated if the file is unreadable."""
    path = os.path.join(data_dir, "meta.json")
    try:
        with open(path, "rb") as f:
            meta = json.load(f)
        value = meta.get("uuid") if isinstance(meta, dict) else None
        if isinstance(value, str) and value:
            return value
        log.warning("%s has no uuid; a new agent id is created", path)
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        log.warning("%s is unreadable (%s); a new agent id is created", path, exc)
    new_id = str(uuid.uuid4())
    os.makedirs(data_dir, exist_ok=True)
    meta_json = {"uuid": new_id, "first_start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    write_atomically(path, json.dumps(meta_json).encode())
    return new_id


def agent_info(data_dir: str, name: str | None) -> AgentInfo:
    hostname = socket.gethostname()
    return AgentInfo(
        name=name or hostname,
        hostname=hostname,
        id=agent_id(data_dir),
        ephemeral_id=str(uuid.uuid4()),
        version=__version__,
    )


def lock_data_dir(data_dir: str) -> IO[bytes]:
    """Hold ``sorabeat.lock`` for the life of the process (the OS drops it on any exit)."""
    os.makedirs(data_dir, exist_ok=True)
    path = os.path.join(data_dir, "sorabeat.lock")
    handle = open(path, "a+b")  # noqa: SIM115 - held open for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise DataDirLockedError(
            f"data path {data_dir} is used by another sorabeat process; give each one its own "
            "--path.data"
        ) from None
    return handle
