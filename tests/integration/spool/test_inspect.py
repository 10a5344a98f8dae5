"""``sorabeat spool inspect``: exact figures for a damaged spool, the same ones recovery then
acts on, without changing a byte, next to a running spool, from the configured path."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sorabeat.monitoring.registry import Registry
from sorabeat.spool.disk import DiskSpool
from sorabeat.spool.inspection import SpoolReport, inspect_spool
from sorabeat.spool.segment import SEGMENT_HEADER_SIZE, segment_name
from sorabeat.spool.state import write_state
from tests.integration.spool.test_corruption import EVENTS, SETTINGS, build, flip, records, seg
from tests.spool_support import WAIT, read_backlog

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> str:
    directory = str(tmp_path_factory.mktemp("pristine") / "spool")
    asyncio.run(build(directory))
    return directory


@pytest.fixture
def spool_dir(pristine: str, tmp_path: Path) -> str:
    directory = str(tmp_path / "spool")
    shutil.copytree(pristine, directory)
    return directory


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sorabeat", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def snapshot(directory: str) -> dict[str, tuple[str, int, int]]:
    out = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        st_ = os.stat(path)
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        out[name] = (digest, st_.st_size, st_.st_mtime_ns)
    return out


def damage(directory: str) -> None:
    """A bad header (6), a record failing its CRC (13), a write cut short (23), a state at
    3, and a file set aside earlier."""
    flip(seg(directory, 6), 5)
    start, _ = records(seg(directory, 12))[1]
    flip(seg(directory, 12), start + 30)
    start, end = records(seg(directory, 18))[-1]
    os.truncate(seg(directory, 18), end - 7)
    write_state(directory, 3)
    with open(os.path.join(directory, segment_name(2) + ".corrupt"), "wb") as f:
        f.write(b"z" * 500)


def test_inspect_gives_exact_figures_and_changes_nothing(spool_dir: str) -> None:
    damage(spool_dir)
    before = snapshot(spool_dir)
    time.sleep(0.01)  # an mtime changed by the inspection would differ
    done = run_cli("spool", "inspect", "--path", spool_dir, "--json")
    assert done.returncode == 0, done.stderr
    assert snapshot(spool_dir) == before
    report = orjson.loads(done.stdout)
    assert [s["name"] for s in report["segments"]] == [segment_name(n) for n in (0, 6, 12, 18)]
    assert report["position"] == 3
    assert report["records"] == 22  # 24, less the damaged record and the cut one
    assert report["pending"] == 22 - 3
    assert report["lost"] == 1  # event 13; a write cut short was never acknowledged
    assert report["segments"][1]["header"] and report["segments"][1]["records"] == 6
    assert report["segments"][2]["gaps"] == [{"first": 13, "count": 1}]
    assert report["segments"][3]["tail_bytes"] == len(EVENTS[23]) + 18 - 7
    assert report["set_aside"] == [{"name": segment_name(2) + ".corrupt", "bytes": 500}]
    sizes = sum(os.path.getsize(os.path.join(spool_dir, n)) for n in before if ".seg" in n)
    assert report["bytes"] == sizes
    assert report["oldest_event"] == report["newest_event"] == "2026-01-02T03:04:05.678Z"
    files = [p["file"] for p in report["problems"]]
    assert files.count(segment_name(6)) == 1 and files.count(segment_name(2) + ".corrupt") == 1

    text = run_cli("spool", "inspect", "--path", spool_dir)
    assert text.returncode == 0 and "bad header" in text.stdout
    assert "1 events lost" in text.stdout and "acknowledged position: 3" in text.stdout
    assert snapshot(spool_dir) == before


async def agrees_with_recovery(directory: str, report: SpoolReport) -> None:
    metrics = Registry()
    spool = await asyncio.wait_for(DiskSpool.open(directory, SETTINGS, metrics), WAIT)
    assert metrics.total("spool.events.corrupt") == report.lost
    assert len(await read_backlog(spool)) == spool.pending() == report.pending
    await spool.close()


async def test_inspect_counts_what_recovery_then_finds(spool_dir: str) -> None:
    damage(spool_dir)
    await agrees_with_recovery(spool_dir, inspect_spool(spool_dir))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_random_damage_inspect_and_recovery_agree(
    pristine: str, tmp_path: Path, data: st.DataObject
) -> None:
    directory = os.path.join(tempfile.mkdtemp(dir=tmp_path), "spool")
    shutil.copytree(pristine, directory)
    for _ in range(data.draw(st.integers(1, 4))):
        first = data.draw(st.sampled_from([0, 6, 12, 18]))
        path = seg(directory, first)
        size = os.path.getsize(path)
        if data.draw(st.booleans()):
            flip(path, data.draw(st.integers(0, size - 1)), data.draw(st.integers(1, 255)))
        else:
            os.truncate(path, data.draw(st.integers(SEGMENT_HEADER_SIZE, size)))
    before = snapshot(directory)
    report = inspect_spool(directory)
    assert snapshot(directory) == before
    asyncio.run(agrees_with_recovery(directory, report))
    shutil.rmtree(directory)


def test_inspect_next_to_a_running_spool(tmp_path: Path) -> None:
    directory = str(tmp_path / "spool")
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.spool_writer", directory, "7", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert writer.stdout is not None
        for _ in range(1000):  # it holds the lock once it has stored something
            if writer.stdout.readline().startswith(b"D "):
                break
        else:
            pytest.fail("the spool writer stored nothing")
        done = run_cli("spool", "inspect", "--path", directory, "--json")
        assert done.returncode == 0, done.stderr
        report = orjson.loads(done.stdout)
        assert report["in_use"] is True and report["records"] > 0
        text = run_cli("spool", "inspect", "--path", directory)
        assert "in use by a running sorabeat" in text.stdout
    finally:
        writer.kill()
        writer.wait(10)
    report = orjson.loads(run_cli("spool", "inspect", "--path", directory, "--json").stdout)
    assert report["in_use"] is False


FILE_OUTPUT = "output.file:\n  path: out\n  filename: events\n"


@pytest.mark.parametrize(
    ("queue", "where"),
    [("", "data/spool"), ("queue.spool:\n  path: elsewhere/sp\n", "elsewhere/sp")],
)
def test_inspect_finds_the_configured_spool(tmp_path: Path, queue: str, where: str) -> None:
    (tmp_path / "sorabeat.yml").write_text(FILE_OUTPUT + queue)
    (tmp_path / "sorabeat.yml").chmod(0o600)
    asyncio.run(build(str(tmp_path / where)))
    done = run_cli("spool", "inspect", "--json", "--path.home", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = orjson.loads(done.stdout)
    assert report["directory"] == str(tmp_path / where) and report["records"] == 24


def test_inspect_errors_are_clear(tmp_path: Path) -> None:
    missing = run_cli("spool", "inspect", "--path", str(tmp_path / "nope"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert not (tmp_path / "nope").exists()
    (tmp_path / "sorabeat.yml").write_text(FILE_OUTPUT + "queue.mem: {}\n")
    (tmp_path / "sorabeat.yml").chmod(0o600)
    mem = run_cli("spool", "inspect", "--path.home", str(tmp_path), cwd=tmp_path)
    assert mem.returncode == 1 and "queue.mem" in mem.stderr and "Traceback" not in mem.stderr
