"""CRC checkpoints of a segment: the running CRC32 of its records at a few offsets.

The running CRC at offset ``o`` is the CRC32 of the segment's bytes from the end of its
header up to ``o`` (0 at the header's end, the seal's CRC at the sealed size). Knowing it
at ``a`` and at ``b``, the bytes between are checked with one CRC pass in C, which releases
the GIL: ``crc32(bytes[a:b], crc_at_a) == crc_at_b``. This holds whatever lies before
``a``, so a range checks out or not on its own bytes alone.

They are taken when opening a spool, from bytes already verified there (a seal's CRC pass,
or the record-by-record scan of a segment found clean), every CHECKPOINT_SPACING bytes,
and by the writer's running CRC of what it wrote, after each group: the reader then checks
what it reads range by range instead of record by record. They are kept in memory only
(nothing on disk changes) and only save time: a range that does not check out is scanned
record by record, which finds and counts the damage as before.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator

CHECKPOINT_SPACING = 1 << 20  # bytes between checkpoints: about one read of the reader


class Checkpoints:
    """Running CRCs by offset, in increasing offset order."""

    __slots__ = ("_crcs", "_offsets")

    def __init__(self, marks: list[tuple[int, int]] | None = None) -> None:
        self._offsets: list[int] = []
        self._crcs: list[int] = []
        for offset, crc in marks or ():
            self.add(offset, crc)

    def __len__(self) -> int:
        return len(self._offsets)

    def add(self, offset: int, crc: int) -> None:
        """A checkpoint past the last one (one at or before it is ignored: out of order)."""
        if self._offsets and offset <= self._offsets[-1]:
            return
        self._offsets.append(offset)
        self._crcs.append(crc)

    def mark(self, offset: int, crc: int) -> None:
        """Like ``add``, for a writer that marks every group it writes: the last checkpoint
        is moved forward instead while it stands within CHECKPOINT_SPACING of the one before
        it, so a segment keeps about one per MiB however small its groups are."""
        offsets = self._offsets
        if (
            len(offsets) >= 2
            and offset > offsets[-1]
            and offsets[-1] - offsets[-2] < (CHECKPOINT_SPACING)
        ):
            offsets[-1] = offset
            self._crcs[-1] = crc
        else:
            self.add(offset, crc)

    def at(self, offset: int) -> int | None:
        """The running CRC at ``offset`` if a checkpoint is there."""
        index = bisect_left(self._offsets, offset)
        if index < len(self._offsets) and self._offsets[index] == offset:
            return self._crcs[index]
        return None

    def after(self, offset: int, limit: int) -> Iterator[tuple[int, int]]:
        """The checkpoints past ``offset`` up to ``limit``, in order."""
        index = bisect_right(self._offsets, offset)
        offsets, crcs = self._offsets, self._crcs
        while index < len(offsets) and offsets[index] <= limit:
            yield offsets[index], crcs[index]
            index += 1
