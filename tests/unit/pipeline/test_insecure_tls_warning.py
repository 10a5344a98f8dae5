"""``ssl.verification_mode: none`` is said once per output and per https Sora module at start."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sorabeat.config.load import LoadOptions
from sorabeat.event import AgentInfo
from sorabeat.monitoring.registry import Registry
from sorabeat.pipeline.assemble import build_pipeline, insecure_tls_warnings
from sorabeat.pipeline.settings import LoadedSettings, load_settings

AGENT = AgentInfo(name="n", hostname="h", id="i", ephemeral_id="e", version="0.1.0")


def loaded(tmp_path: Path, main: str, modules: str) -> LoadedSettings:
    (tmp_path / "sorabeat.yml").write_text(main)
    (tmp_path / "modules.d").mkdir(exist_ok=True)
    (tmp_path / "modules.d" / "sora.yml").write_text(modules)
    return load_settings(LoadOptions(path_home=str(tmp_path), cwd=str(tmp_path), environ={}))


SECURE_MODULE = "- module: sora\n  hosts: ['https://sora.example:3000']\n"
UNVERIFIED_MODULES = (
    "- module: sora\n  hosts: ['https://a:3000']\n  ssl.verification_mode: none\n"
    "- module: sora\n  hosts: ['http://b:3000']\n  ssl.verification_mode: none\n"  # no TLS
    "- module: sora\n  hosts: ['https://c:3000']\n  ssl.verification_mode: certificate\n"
)


@pytest.mark.parametrize(
    ("main", "modules", "expected"),
    [
        ("output.logstash.hosts: ['ls:5044']\n", SECURE_MODULE, []),
        (
            "output.logstash: {hosts: ['ls:5044'], ssl.verification_mode: none}\n",
            SECURE_MODULE,
            ["output.logstash"],
        ),
        (
            "output.logstash: {hosts: ['ls:5044'], ssl.verification_mode: none,"
            " ssl.enabled: false}\n",
            SECURE_MODULE,
            [],
        ),
        (
            "output.elasticsearch: {hosts: ['https://es:9200'], ssl.verification_mode: none}\n",
            UNVERIFIED_MODULES,
            ["sorabeat.modules.0 (https://a:3000)", "output.elasticsearch"],
        ),
        (
            "output.elasticsearch: {hosts: ['es:9200'], protocol: https,"
            " ssl.verification_mode: none}\n",
            SECURE_MODULE,
            ["output.elasticsearch"],
        ),
        (
            "output.elasticsearch: {hosts: ['http://es:9200'], ssl.verification_mode: none}\n",
            SECURE_MODULE,
            [],
        ),
        ("output.console: {}\n", UNVERIFIED_MODULES, ["sorabeat.modules.0 (https://a:3000)"]),
    ],
)
def test_one_warning_per_unverified_tls_use(
    tmp_path: Path, main: str, modules: str, expected: list[str]
) -> None:
    warnings = insecure_tls_warnings(loaded(tmp_path, main, modules).settings)
    assert [w.split(": ssl.verification_mode is none")[0] for w in warnings] == expected
    assert all("not verified" in w for w in warnings)


async def test_the_run_log_says_it_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = loaded(
        tmp_path,
        "output.logstash: {hosts: ['127.0.0.1:5044'], ssl.verification_mode: none}\n"
        "queue.mem: {}\n",
        UNVERIFIED_MODULES,
    )
    with caplog.at_level(logging.WARNING, "sorabeat"):
        pipeline = await build_pipeline(config, AGENT, Registry())
    await pipeline.spool.close()
    await pipeline.output.close()
    lines = [r.getMessage() for r in caplog.records if "verification_mode is none" in r.message]
    assert len(lines) == 2, lines
    assert lines[0].startswith("sorabeat.modules.0 (https://a:3000): ")
    assert lines[1].startswith("output.logstash: ")
