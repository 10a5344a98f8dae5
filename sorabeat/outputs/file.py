"""``output.file``: events as NDJSON in size-rotated files.

The active file is ``<filename>.ndjson``; on rotation it becomes ``<filename>.ndjson.1``,
older ones shift up, and the oldest beyond ``number_of_files`` is deleted.

A write that fails (a full disk, a directory that went away) is undone back to the last
complete line, logged, and retried with backoff: the events stay in the spool meanwhile, and
no half line is ever followed by another event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence

from sorabeat.outputs.backoff import Backoff, BackoffSettings
from sorabeat.outputs.base import AckFn
from sorabeat.outputs.settings import FileSettings

log = logging.getLogger("sorabeat.publish")


class FileOutput:
    name = "file"
    max_in_flight = 1

    def __init__(
        self, settings: FileSettings, directory: str, backoff: BackoffSettings | None = None
    ) -> None:
        self.directory = directory
        self.active = os.path.join(directory, f"{settings.filename}.ndjson")
        self.limit = settings.rotate_every_kb * 1024
        self.keep = settings.number_of_files
        self.mode = settings.permissions
        self.batch_size = settings.bulk_max_size
        self.backoff = backoff or BackoffSettings()
        self._fd: int | None = None
        self._size = 0  # bytes of complete lines in the active file
        self._rotate_first = settings.rotate_on_startup

    def rotated(self, n: int) -> str:
        return f"{self.active}.{n}"

    def _open(self) -> int:
        if self._fd is None:
            os.makedirs(self.directory, exist_ok=True)
            if self._rotate_first:
                self._rotate_first = False
                if os.path.exists(self.active) and os.path.getsize(self.active):
                    self._rotate()
            self._fd = os.open(self.active, os.O_WRONLY | os.O_CREAT | os.O_APPEND, self.mode)
            self._size = os.fstat(self._fd).st_size
        return self._fd

    def _close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def _rotate(self) -> None:
        self._close()
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
        try:
            while view:
                written = os.write(fd, view)
                view = view[written:]
        except OSError:
            # undo the part that made it, so the next line does not continue a broken one
            with contextlib.suppress(OSError):
                os.ftruncate(fd, self._size)
            self._close()
            raise
        self._size += len(data)

    def _write_from(self, events: Sequence[bytes], start: int, ack: AckFn) -> int:
        """Write ``events[start:]``, rotating as needed; return how many are written in all
        (reported through ``ack`` too). Raises OSError after undoing a partial write."""
        done = start
        self._open()
        chunk: list[bytes] = []
        chunk_size = 0
        for event in events[start:]:
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
        return done

    async def publish(self, events: Sequence[bytes], ack: AckFn) -> None:
        backoff = Backoff(self.backoff)
        written = [0]  # events safely in a file, kept across failed attempts

        def progress(count: int) -> None:
            written[0] = count
            ack(count)

        while True:
            try:
                progress(self._write_from(events, written[0], progress))
                return
            except OSError as exc:
                wait = backoff.next_wait()
                log.error(
                    "file output: cannot write %s: %s; retrying in %.1fs",
                    self.active,
                    exc.strerror or exc,
                    wait,
                )
                await asyncio.sleep(wait)

    async def close(self) -> None:
        self._close()
