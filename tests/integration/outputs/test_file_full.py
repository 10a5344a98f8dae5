"""output.file on a real full disk: publish never raises, waits and retries, and once space
returns the file holds only whole lines, each event once."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import orjson
import pytest

from sorabeat.outputs.backoff import BackoffSettings
from sorabeat.outputs.file import FileOutput
from sorabeat.outputs.settings import FileSettings
from tests.integration.tiny_fs import fill


async def test_a_full_disk_is_retried_and_leaves_no_broken_line(
    tiny_fs: str, caplog: pytest.LogCaptureFixture
) -> None:
    directory = os.path.join(tiny_fs, "out")
    filler = os.path.join(tiny_fs, "filler")
    fill(filler, leave=8 * 1024)
    out = FileOutput(
        FileSettings(rotate_every_kb=100_000), directory, BackoffSettings(init=0.05, max=0.1)
    )
    events = [orjson.dumps({"n": i, "pad": "p" * 300}) for i in range(100)]  # ~30 KB: too much
    acked: list[int] = []
    publishing = asyncio.ensure_future(out.publish(events, acked.append))
    for _ in range(200):
        if "cannot write" in caplog.text:
            break
        await asyncio.sleep(0.05)
    assert "cannot write" in caplog.text and "No space left on device" in caplog.text
    assert not publishing.done()  # it waits; it does not raise
    os.unlink(filler)  # space returns
    await asyncio.wait_for(publishing, 30)
    await out.close()
    assert acked[-1] == len(events)
    assert acked == sorted(acked)
    lines = Path(directory, "sorabeat.ndjson").read_bytes().splitlines()
    assert [orjson.loads(line)["n"] for line in lines] == list(range(100))


@pytest.fixture(autouse=True)
def _errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="sorabeat.publish")
