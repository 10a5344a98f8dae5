"""``output.file``: events as NDJSON in size-rotated files.

The active file is ``<filename>.ndjson``; on rotation it becomes ``<filename>.ndjson.1``,
older ones shift up, and the oldest beyond ``number_of_files`` is deleted.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from sorabeat.outputs.base import AckFn
from sorabeat.outputs.settings import FileSettings


class FileOutput:
    name = "file"
    max_in_flight = 1

    def __init__(self, settings: FileSettings, directory: str) -> None:
        self.directory = directory
        self.active = os.path.join(directory, f"{settings.filename}.ndjson")
        self.limit = settings.rotate_every_kb * 1024
        self.keep = settings.number_of_files
        self.mode = settings.permissions
        self.batch_size = settings.bulk_max_size
        os.makedirs(directory, exist_ok=True)
        self._fd: int | None = None
        self._size = 0
        if (
            settings.rotate_on_startup
            and os.path.exists(self.active)
            and os.path.getsize(self.active)
        ):
            self._rotate()

    def rotated(self, n: int) -> str:
        return f"{self.active}.{n}"

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.active, os.O_WRONLY | os.O_CREAT | os.O_APPEND, self.mode)
            self._size = os.fstat(self._fd).st_size
        return self._fd

    def _rotate(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        oldest = self.rotated(self.keep - 1)
        if os.path.exists(oldest):
            os.remove(oldest)
        for n in range(self.keep - 2, 0, -1):
            if os.path.exists(self.rotated(n)):
                os.replace(self.rotated(n), self.rotated(n + 1))
        if os.path.exists(self.active):
            os.replace(self.active, self.rotated(1))
        self._size = 0

    def _write(self, data: bytes) -> None:
        fd = self._open()
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        self._size += len(data)

    async def publish(self, events: Sequence[bytes], ack: AckFn) -> None:
        self._open()
        chunk: list[bytes] = []
        chunk_size = 0
        done = 0
        for event in events:
            line = len(event) + 1
            if self._size + chunk_size + line > self.limit and (self._size + chunk_size) > 0:
                if chunk:
                    self._write(b"\n".join(chunk) + b"\n")
                    done += len(chunk)
                    ack(done)
                    chunk, chunk_size = [], 0
                self._rotate()
            chunk.append(event)
            chunk_size += line
        if chunk:
            self._write(b"\n".join(chunk) + b"\n")
            done += len(chunk)
        ack(done)

    async def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
