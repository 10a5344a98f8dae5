"""Building the pipeline: a part that cannot be built leaves nothing open behind it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sorabeat.config.load import LoadOptions
from sorabeat.event import AgentInfo
from sorabeat.monitoring.registry import Registry
from sorabeat.pipeline import assemble
from sorabeat.pipeline.settings import load_settings
from sorabeat.spool.base import Spool
from sorabeat.spool.disk import DiskSpool
from sorabeat.spool.settings import SpoolSettings
from sorabeat.tls import TLSConfigError

AGENT = AgentInfo(name="n", hostname="h", id="i", ephemeral_id="e", version="0.1.0")


async def test_an_output_that_cannot_be_built_closes_the_spool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sorabeat.yml").write_text(
        "output.logstash: {hosts: ['127.0.0.1:5044']}\n"
        "sorabeat.modules: [{module: sora, hosts: ['127.0.0.1:3000']}]\n"
    )
    loaded = load_settings(LoadOptions(path_home=str(tmp_path), cwd=str(tmp_path), environ={}))

    def refuse(*_: object) -> None:
        raise TLSConfigError("output.logstash.ssl.certificate: no such file")

    built: list[Spool] = []
    real_build_spool = assemble.build_spool

    async def recording_build_spool(*args: Any) -> Spool:
        built.append(await real_build_spool(*args))
        return built[-1]

    monkeypatch.setattr(assemble, "build_output", refuse)
    monkeypatch.setattr(assemble, "build_spool", recording_build_spool)
    with pytest.raises(TLSConfigError):
        await assemble.build_pipeline(loaded, AGENT, Registry())
    (spool,) = built
    assert isinstance(spool, DiskSpool) and spool.closing()  # writer stopped, lock released
    # and the next start gets the directory
    again = await DiskSpool.open(str(tmp_path / "data" / "spool"), SpoolSettings(), Registry())
    await again.close()
