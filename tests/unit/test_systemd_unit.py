"""conf/sorabeat.service: what systemd thinks of it, and the settings an operator relies on."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

UNIT = Path(__file__).resolve().parents[2] / "conf" / "sorabeat.service"


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """Sections of key -> every value given (systemd allows a key more than once)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"setting outside a section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line: {line}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    assert shutil.which("systemd-analyze"), "install the Debian package systemd"
    text = UNIT.read_text()
    # the real binary is installed by the .deb; verify checks it exists, so point at one
    copy = tmp_path / "sorabeat.service"
    copy.write_text(
        text.replace("ExecStart=/usr/share/sorabeat/bin/sorabeat", "ExecStart=/bin/true")
    )
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    # systemd only warns ("ignoring") about settings it cannot parse: any output is a problem
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_the_unit_runs_sorabeat_as_the_package_lays_it_out() -> None:
    service = parse_unit(UNIT.read_text())["Service"]
    (exec_start,) = service["ExecStart"]
    argv = shlex.split(exec_start)
    assert argv[0] == "/usr/share/sorabeat/bin/sorabeat"
    flags = dict(zip(argv[1::2], argv[2::2], strict=True))
    assert flags == {
        "--environment": "systemd",
        "-c": "/etc/sorabeat/sorabeat.yml",
        "--path.home": "/usr/share/sorabeat",
        "--path.config": "/etc/sorabeat",
        "--path.data": "/var/lib/sorabeat",
        "--path.logs": "/var/log/sorabeat",
    }
    assert service["User"] == ["sorabeat"] and service["Restart"] == ["always"]


def test_the_unit_is_hardened() -> None:
    service = parse_unit(UNIT.read_text())["Service"]
    expected = {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectKernelLogs": "yes",
        "ProtectControlGroups": "yes",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    }
    for key, value in expected.items():
        assert service.get(key) == [value], key
    writable = service["ReadWritePaths"][0].split()
    assert sorted(writable) == ["/var/lib/sorabeat", "/var/log/sorabeat"]
    assert parse_unit(UNIT.read_text())["Install"]["WantedBy"] == ["multi-user.target"]
