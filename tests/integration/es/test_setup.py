"""Index management end to end: ``sorabeat setup`` and ``export template`` as real
subprocesses against the emulator, then the loaded template deciding what a cluster
accepts (sample events of every generation go in; a type violation is refused)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import orjson
import pytest

from sorabeat.es.settings import DeadLetterIndex, NonIndexablePolicy
from sorabeat.monitoring.registry import Registry
from tests.es_support import AckRecorder, es_settings, make_events, new_output
from tests.sora_samples import sample_events
from tools.emulators.elasticsearch import ElasticsearchEmulator

pytestmark = pytest.mark.timeout(120)
CLI = "from sorabeat.cli import main; raise SystemExit(main())"
TEMPLATE = "sorabeat-0.1.0"


async def sorabeat(home: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CLI,
        *args,
        "--path.home",
        str(home),
        "-e",  # log to stderr, not to files
        cwd=home,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def write_config(home: Path, url: str, extra: str = "") -> None:
    # no Kibana here: plain "setup" runs the index management part only
    (home / "sorabeat.yml").write_text(
        f'output.elasticsearch:\n  hosts: ["{url}"]\nsetup.dashboards.enabled: false\n{extra}'
    )
    (home / "sorabeat.yml").chmod(0o600)


async def test_setup_loads_the_policy_and_data_stream_template_once(tmp_path: Path) -> None:
    async with ElasticsearchEmulator() as es:
        write_config(tmp_path, es.url)
        code, out, err = await sorabeat(tmp_path, "setup", "--index-management")
        assert code == 0, err
        assert "Loaded ILM policy sorabeat\n" in out
        assert f"Loaded index template {TEMPLATE} (pattern {TEMPLATE}, data stream)" in out
        template = es.templates[TEMPLATE]
        assert template["index_patterns"] == [TEMPLATE]  # not the daily indices
        assert template["data_stream"] == {}
        assert template["template"]["settings"]["index"]["lifecycle"] == {"name": "sorabeat"}
        rollover = es.policies["sorabeat"]["phases"]["hot"]["actions"]["rollover"]
        assert rollover == {"max_primary_shard_size": "50gb", "max_age": "30d"}
        code, out, err = await sorabeat(tmp_path, "setup")
        assert code == 0, err
        assert "ILM policy sorabeat already exists; not overwritten" in out
        assert f"Index template {TEMPLATE} already exists; not overwritten" in out
        code, out, err = await sorabeat(tmp_path, "setup", "-E", "setup.ilm.overwrite=true")
        assert code == 0, err
        assert "Loaded ILM policy sorabeat\n" in out
        puts = [r.path for r in es.requests if r.method == "PUT"]
        policy = "/_ilm/policy/sorabeat"
        assert puts == [policy, f"/_index_template/{TEMPLATE}", policy]


async def test_setup_policy_file_and_check_exists(tmp_path: Path) -> None:
    async with ElasticsearchEmulator() as es:
        policy = {"policy": {"phases": {"hot": {"actions": {"rollover": {"max_age": "1d"}}}}}}
        (tmp_path / "policy.json").write_bytes(orjson.dumps(policy))
        write_config(
            tmp_path,
            es.url,
            f"setup.ilm.policy_name: mine\nsetup.ilm.policy_file: {tmp_path / 'policy.json'}\n"
            "setup.ilm.check_exists: false\n",
        )
        for _ in range(2):  # without the check, the policy is loaded every time
            code, out, err = await sorabeat(tmp_path, "setup", "--index-management")
            assert code == 0, err
            assert "Loaded ILM policy mine" in out
        assert es.policies["mine"] == policy["policy"]
        assert [r.method for r in es.requests if r.path == "/_ilm/policy/mine"] == ["PUT", "PUT"]
        settings = es.templates[TEMPLATE]["template"]["settings"]["index"]
        assert settings["lifecycle"] == {"name": "mine"}
        (tmp_path / "policy.json").write_text('{"phases": {}}')
        code, _, err = await sorabeat(tmp_path, "setup", "--index-management")
        assert code == 1
        assert 'must hold an object with a "policy" object' in err
        assert "Traceback" not in err


async def test_setup_without_ilm_loads_the_daily_template_once(tmp_path: Path) -> None:
    async with ElasticsearchEmulator() as es:
        write_config(tmp_path, es.url, "setup.ilm.enabled: false\n")
        code, out, err = await sorabeat(tmp_path, "setup", "--index-management")
        assert code == 0, err
        assert f"Loaded index template {TEMPLATE} (pattern sorabeat-0.1.0-*)" in out
        assert "Connected to elasticsearch 8.15.0" in out
        assert es.templates[TEMPLATE]["index_patterns"] == ["sorabeat-0.1.0-*"]
        code, out, err = await sorabeat(tmp_path, "setup")  # plain setup runs every part
        assert code == 0, err
        assert "already exists; not overwritten" in out
        code, out, _ = await sorabeat(tmp_path, "setup", "-E", "setup.template.overwrite=true")
        assert code == 0
        assert "Loaded index template" in out
        puts = [r for r in es.requests if r.method == "PUT"]
        assert len(puts) == 2
        assert "data_stream" not in es.templates[TEMPLATE]
        assert "ILM" not in out and not es.policies


async def test_a_pinned_metadata_version_gets_a_template_for_its_logstash_indices(
    tmp_path: Path,
) -> None:
    """Logstash's documented index, %{[@metadata][beat]}-%{[@metadata][version]}-date, with
    the version pinned: mapped by the template, not dynamically (service.address as text)."""
    async with ElasticsearchEmulator() as es:
        write_config(tmp_path, es.url, 'metadata_version: "8.11.0"\n')
        code, out, err = await sorabeat(tmp_path, "setup", "--index-management")
        assert code == 0, err
        assert f"Loaded index template {TEMPLATE} (pattern {TEMPLATE}, data stream)" in out
        assert "Loaded index template sorabeat-8.11.0 (pattern sorabeat-8.11.0-*)" in out
        pinned = es.templates["sorabeat-8.11.0"]
        assert pinned["index_patterns"] == ["sorabeat-8.11.0-*"]
        assert "data_stream" not in pinned  # Logstash writes daily indices
        # both load together again (no overlap at one priority, which Elasticsearch refuses)
        code, out, err = await sorabeat(tmp_path, "setup", "-E", "setup.template.overwrite=true")
        assert code == 0, err
        assert out.count("Loaded index template") == 2
        # what Logstash would write, through the bulk API: the template maps it
        out_es = new_output(es_settings(es.url, index="sorabeat-8.11.0-%{+yyyy.MM.dd}"), Registry())
        samples = sample_events()
        await out_es.publish(samples, AckRecorder(len(samples)))
        await out_es.close()
        mappings = es.indices["sorabeat-8.11.0-2026.01.02"].mappings
        assert mappings["service.address"] == "keyword"
        assert mappings["sora.stats.erlang_vm.statistics.active_tasks_mean"] == "double"
    # a Logstash output index renames @metadata.beat, and the indices with it
    async with ElasticsearchEmulator() as es:
        write_config(
            tmp_path,
            es.url,
            'metadata_version: "8.11.0"\nsetup.ilm.enabled: false\n'
            "output.logstash:\n  enabled: false\n  index: SoraProd\n",
        )
        code, out, err = await sorabeat(tmp_path, "setup", "--index-management")
        assert code == 0, err
        assert es.templates["soraprod-8.11.0"]["index_patterns"] == ["soraprod-8.11.0-*"]
        assert es.templates[TEMPLATE]["index_patterns"] == [f"{TEMPLATE}-*"]


@pytest.mark.parametrize(
    "extra",
    [
        'metadata_version: "0.1.0"\n',  # the pin is sorabeat's own version
        'metadata_version: "8.11.0"\nsetup.template.pattern: "sorabeat-*"\n',  # user's own
        'metadata_version: "8.11.0"\nsetup.template.name: "mine"\n',
    ],
)
async def test_no_second_template_when_the_first_already_decides(
    tmp_path: Path, extra: str
) -> None:
    async with ElasticsearchEmulator() as es:
        write_config(tmp_path, es.url, "setup.ilm.enabled: false\n" + extra)
        code, out, err = await sorabeat(tmp_path, "setup", "--index-management")
        assert code == 0, err
        assert out.count("Loaded index template") == 1
        assert len(es.templates) == 1


async def test_setup_errors_are_clear(tmp_path: Path) -> None:
    async with ElasticsearchEmulator(users={"elastic": "right"}) as es:
        write_config(tmp_path, es.url)
        code, _out, err = await sorabeat(tmp_path, "setup", "--index-management")
        assert code == 1
        assert "Index management failed" in err
        assert "credentials refused (401)" in err
        assert "Traceback" not in err
    (tmp_path / "sorabeat.yml").write_text("output.console: {}\n")
    code, _, err = await sorabeat(tmp_path, "setup", "--index-management")
    assert code == 1
    assert "needs the Elasticsearch output" in err


async def test_export_template_matches_what_setup_loads(tmp_path: Path) -> None:
    async with ElasticsearchEmulator() as es:
        write_config(tmp_path, es.url)
        code, exported, err = await sorabeat(tmp_path, "export", "template")
        assert code == 0, err
        assert (await sorabeat(tmp_path, "setup"))[0] == 0
        assert orjson.loads(exported) == es.templates[TEMPLATE]
        code, legacy, _ = await sorabeat(tmp_path, "export", "template", "--es.version", "7.7.0")
        assert code == 0
        assert orjson.loads(legacy)["order"] == 1


async def test_template_maps_every_sample_and_refuses_violations(tmp_path: Path) -> None:
    async with ElasticsearchEmulator() as es:
        write_config(tmp_path, es.url, "setup.ilm.enabled: false\n")
        assert (await sorabeat(tmp_path, "setup"))[0] == 0
        metrics = Registry()
        policy = NonIndexablePolicy(dead_letter_index=DeadLetterIndex(index="sorabeat-dlq"))
        out = new_output(es_settings(es.url, non_indexable_policy=policy), metrics)
        samples = sample_events()
        await out.publish(samples, AckRecorder(len(samples)))
        assert es.count("sorabeat-0.1.0-2026.01.02") == len(samples)
        assert metrics.total("output.events.dead_lettered") == 0
        mappings = es.indices["sorabeat-0.1.0-2026.01.02"].mappings
        # the template decided, not the first document: a whole-number mean is still double
        assert mappings["sora.stats.erlang_vm.statistics.active_tasks_mean"] == "double"
        # a document violating a mapped type: refused and dead-lettered; the rest goes in
        bad = make_events(
            1, start=90, metricset="stats", document={"total_ongoing_connections": "many"}
        )
        good = make_events(
            2, start=91, metricset="stats", document={"total_ongoing_connections": 3}
        )
        await out.publish([good[0], *bad, good[1]], AckRecorder(3))
        await out.close()
        assert es.count("sorabeat-0.1.0-2026.01.02") == len(samples) + 2
        (letter,) = es.documents("sorabeat-dlq")
        assert "total_ongoing_connections" in letter["error"]["message"]
        assert (
            orjson.loads(letter["message"])["sora"]["stats"]["total_ongoing_connections"] == "many"
        )


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"version": "7.8.0"}, "elasticsearch 7.8.0 has no data streams with ILM"),
        ({"version": "2.11.0", "distribution": "opensearch"}, "opensearch 2.11.0 has no data"),
    ],
)
async def test_setup_without_data_streams_says_why(
    tmp_path: Path, kwargs: dict[str, str], why: str
) -> None:
    async with ElasticsearchEmulator(**kwargs) as es:  # type: ignore[arg-type]
        write_config(tmp_path, es.url)
        code, out, err = await sorabeat(tmp_path, "setup", "--index-management")
        assert code == 0, err
        assert f"ILM is not used: {why}" in out
        assert f"(pattern {TEMPLATE}-*)" in out
        assert not es.policies
        assert "data_stream" not in es.templates[TEMPLATE]
