"""`sorabeat test output` as a user runs it: each step printed, exit 0 only when all pass."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.integration.procs import free_port, receiver, running, write_config
from tools.emulators.elasticsearch import ElasticsearchEmulator

MODULE = [{"module": "sora", "hosts": ["127.0.0.1:3000"]}]


async def run_test_output(home: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sorabeat", "test", "output", "--path.home", str(home),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_logstash_steps_against_a_receiver_and_a_dead_port(tmp_path: Path) -> None:
    port = free_port()
    recv = receiver(tmp_path, port, tmp_path / "out.ndjson")
    with running(recv):
        recv.address()
        write_config(tmp_path / "ok", {"output.logstash.hosts": [f"127.0.0.1:{port}"]}, MODULE)
        code, out = await run_test_output(tmp_path / "ok")
    assert code == 0, out
    for step in ("parse host", "dns lookup", "dial up", "talk to server"):
        assert step in out, out
    assert "WARN secure connection disabled" in out
    assert "  compression: level 3: isal " in out, out  # the default level's library
    write_config(tmp_path / "dead", {"output.logstash.hosts": [f"127.0.0.1:{free_port()}"]}, MODULE)
    code, out = await run_test_output(tmp_path / "dead")
    assert code == 1, out
    assert "refused" in out.lower(), out
    assert "Traceback" not in out


async def test_elasticsearch_steps_against_the_emulator(tmp_path: Path) -> None:
    emulator = ElasticsearchEmulator(version="8.15.2")
    await emulator.start()
    try:
        write_config(tmp_path / "es", {"output.elasticsearch.hosts": [emulator.url]}, MODULE)
        code, out = await run_test_output(tmp_path / "es")
    finally:
        await emulator.close()
    assert code == 0, out
    assert "8.15.2" in out, out
