from __future__ import annotations

import os
from pathlib import Path

from sorabeat.outputs.file import FileOutput
from sorabeat.outputs.settings import FileSettings


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines() if path.exists() else []


async def test_writes_ndjson_and_acks(tmp_path: Path) -> None:
    out = FileOutput(FileSettings(), str(tmp_path))
    acked: list[int] = []
    await out.publish([b'{"a":1}', b'{"a":2}'], acked.append)
    await out.close()
    assert lines(tmp_path / "sorabeat.ndjson") == [b'{"a":1}', b'{"a":2}']
    assert acked[-1] == 2
    assert os.stat(tmp_path / "sorabeat.ndjson").st_mode & 0o777 == 0o600


async def test_rotation_keeps_number_of_files(tmp_path: Path) -> None:
    settings = FileSettings(rotate_every_kb=1, number_of_files=3, rotate_on_startup=False)
    out = FileOutput(settings, str(tmp_path))
    event = b'{"pad":"' + b"x" * 290 + b'"}'  # 300 bytes + newline
    written = []
    for i in range(20):
        e = event.replace(b"x" * 3, b"%03d" % i, 1)
        written.append(e)
        await out.publish([e], lambda n: None)
    await out.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["sorabeat.ndjson", "sorabeat.ndjson.1", "sorabeat.ndjson.2"]
    for name in names:
        assert (tmp_path / name).stat().st_size <= 1024
    kept = (
        lines(tmp_path / "sorabeat.ndjson.2")
        + lines(tmp_path / "sorabeat.ndjson.1")
        + lines(tmp_path / "sorabeat.ndjson")
    )
    assert kept == written[-len(kept) :]  # the newest survive, in order


async def test_rotate_on_startup(tmp_path: Path) -> None:
    (tmp_path / "sorabeat.ndjson").write_bytes(b'{"old":1}\n')
    out = FileOutput(FileSettings(), str(tmp_path))
    await out.publish([b'{"new":1}'], lambda n: None)
    await out.close()
    assert lines(tmp_path / "sorabeat.ndjson.1") == [b'{"old":1}']
    assert lines(tmp_path / "sorabeat.ndjson") == [b'{"new":1}']
