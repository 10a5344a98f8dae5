"""A node shipping to Logstash over plain TCP loads no code it never runs: every module
stays in memory for the life of the process (cryptography's bindings alone are ~8 MiB)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from tests.integration.procs import Proc, running, simulator, wait_for, write_config

# `sorabeat run` as `python -m sorabeat` would run it, stopped (SIGTERM, as an operator
# would) once the receiver has events; then the names of every module it imported
SCRIPT = """
import os, signal, sys, threading, time
from pathlib import Path
out, modules_file, home = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]

def stop_once_shipped():
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out.exists() and out.read_bytes().count(b"\\n")):
        time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGTERM)

threading.Thread(target=stop_once_shipped, daemon=True).start()
from sorabeat.cli import main
code = main(["run", "-e", "--path.home", home])
modules_file.write_text("\\n".join(sorted(sys.modules)))
sys.exit(code)
"""

NEVER_IMPORTED = (
    "cryptography",  # no TLS, no keystore
    "sorabeat.certs",
    "sorabeat.es.output",
    "sorabeat.es.client",
    "sorabeat.kibana.client",
    "sorabeat.simulator",
    "sorabeat.lumberjack.server",
    "sorabeat.lumberjack.receiver",
    "sorabeat.top",
    "curses",
    "sorabeat.cli.demo",
    "sorabeat.cli.receive",
    "sorabeat.cli.simulate",
    "sorabeat.cli.top",
)


def test_a_logstash_node_without_tls_imports_no_unused_part(tmp_path: Path) -> None:
    sim = simulator(tmp_path, connections=3)
    out = tmp_path / "received.ndjson"
    recv = Proc(["receive", "--listen", "127.0.0.1:0", "--output", str(out)], tmp_path, "receive")
    with running(sim, recv):
        sora = sim.address()
        logstash = recv.address()
        home = tmp_path / "home"
        write_config(
            home,
            {"output.logstash": {"hosts": [f"127.0.0.1:{logstash[1]}"]}},
            [
                {
                    "module": "sora",
                    "metricsets": ["stats", "connections"],
                    "period": "0.5s",
                    "timeout": "0.4s",
                    "hosts": [f"{sora[0]}:{sora[1]}"],
                }
            ],
        )
        modules_file = tmp_path / "modules.txt"
        run = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(out), str(modules_file), str(home)],
            cwd=tmp_path,
            capture_output=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr.decode(errors="replace")[-2000:]
        events = wait_for(lambda: out.read_bytes().count(b"\n"), 10, "events", recv)
        assert events and orjson.loads(out.read_bytes().split(b"\n")[0])
    modules = set(modules_file.read_text().split("\n"))
    assert "sorabeat.lumberjack.output" in modules  # it did run the output
    loaded = sorted(
        m for m in modules for name in NEVER_IMPORTED if m == name or m.startswith(name + ".")
    )
    assert loaded == []
