"""Registry snapshots, the metrics log line, Prometheus rendering and the health rule."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from sorabeat.monitoring import prometheus
from sorabeat.monitoring.health import Health
from sorabeat.monitoring.logline import MetricsLog, period_text
from sorabeat.monitoring.registry import Registry
from sorabeat.monitoring.snapshot import Snapshot


def test_moved_since_gives_counter_deltas_and_live_gauges() -> None:
    reg = Registry()
    reg.add("spool.events.acked", 5)
    reg.add("sora.polls.ok", 1, host="a", metricset="stats")
    reg.set("spool.events.pending", 7)
    first = Snapshot.of(reg)
    reg.add("spool.events.acked", 3)
    reg.set("spool.events.pending", 0)
    moved = Snapshot.of(reg).moved_since(first)
    assert moved.counters == {("spool.events.acked", ()): 3}
    # a gauge that went to zero is reported once (it moved), then no more
    assert moved.gauges == {("spool.events.pending", ()): 0}
    assert Snapshot.of(reg).moved_since(Snapshot.of(reg)).empty()


def test_tree_nests_names_and_labels_and_keeps_clashing_names() -> None:
    snap = Snapshot(
        counters={
            ("sora.polls.ok", (("host", "h:3000"), ("metricset", "stats"))): 2,
            ("spool.events", ()): 4,
            ("spool.events.acked", ()): 1,
        },
        gauges={("output.latency_ms", ()): 12.5},
    )
    assert snap.tree() == {
        "sora": {"polls": {"ok": {"host=h:3000,metricset=stats": 2}}},
        "spool": {"events": {"value": 4, "acked": 1}},
        "output": {"latency_ms": 12.5},
    }


def test_metrics_line_reports_what_moved_in_each_interval(caplog: pytest.LogCaptureFixture) -> None:
    reg = Registry()
    line = MetricsLog(reg, 30)
    line.interval()
    reg.add("lumberjack.events.retried", 2)
    reg.add("sora.polls.failed", 1, host="h")
    reg.set("spool.bytes", 4096)
    message, extra = line.interval()
    assert message == "Non-zero metrics in the last 30s"
    assert extra["monitoring"]["metrics"] == {
        "lumberjack": {"events": {"retried": 2}},
        "sora": {"polls": {"failed": {"host=h": 1}}},
        "spool": {"bytes": 4096},
    }
    reg.add("lumberjack.events.retried", 1)
    _, extra = line.interval()
    # deltas for counters, the current value for a gauge that is not zero
    assert extra["monitoring"]["metrics"] == {
        "lumberjack": {"events": {"retried": 1}},
        "spool": {"bytes": 4096},
    }
    reg.set("spool.bytes", 0)
    line.interval()
    message, extra = line.interval()
    assert message == "No non-zero metrics in the last 30s" and extra == {}
    message, extra = line.totals()
    assert message == "Total metrics"
    assert extra["monitoring"]["metrics"]["lumberjack"] == {"events": {"retried": 3}}


async def test_metrics_line_runs_every_period_and_logs_totals_on_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import asyncio

    reg = Registry()
    stop = asyncio.Event()
    caplog.set_level(logging.INFO, logger="sorabeat.monitoring")
    root = logging.getLogger("sorabeat")
    propagate, root.propagate = root.propagate, True  # logs.configure may have turned it off
    try:
        task = asyncio.create_task(MetricsLog(reg, 0.05).run(stop))
        await asyncio.sleep(0.01)
        reg.add("spool.events.acked", 9)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while loop.time() < deadline:
            if "Non-zero metrics in the last 50ms" in caplog.text:
                break
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(task, 10)
    finally:
        root.propagate = propagate
    assert "Non-zero metrics in the last 50ms" in caplog.text
    assert caplog.records[-1].getMessage() == "Total metrics"


@pytest.mark.parametrize(
    ("seconds", "text"), [(30, "30s"), (0.5, "500ms"), (90, "1m30s"), (60, "1m0s")]
)
def test_period_text(seconds: float, text: str) -> None:
    assert period_text(seconds) == text


def parse(text: str) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_prometheus_text_parses_with_an_independent_parser() -> None:
    snap = Snapshot(
        counters={
            ("sora.polls.ok", (("host", 'we"ird\\ho\nst'), ("metricset", "stats"))): 3,
            ("spool.events.acked", ()): 10,
        },
        gauges={("output.latency_ms", ()): 1.25, ("spool.events.pending", ()): 0},
    )
    text = prometheus.render(prometheus.families(snap, {"version": "0.1.0"}, 12.0))
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    polls = fams["sorabeat_sora_polls_ok"]  # the parser strips _total from counter families
    assert polls.type == "counter"
    (sample,) = polls.samples
    assert sample.name == "sorabeat_sora_polls_ok_total"
    assert sample.labels == {"host": 'we"ird\\ho\nst', "metricset": "stats"}
    assert sample.value == 3
    assert fams["sorabeat_output_latency_ms"].type == "gauge"
    assert fams["sorabeat_output_latency_ms"].samples[0].value == 1.25
    assert fams["sorabeat_info"].samples[0].labels == {"version": "0.1.0"}
    assert fams["sorabeat_uptime_seconds"].samples[0].value == 12.0
    assert "# HELP sorabeat_spool_events_acked_total " in text
    assert "# TYPE sorabeat_spool_events_acked_total counter" in text


def test_metric_names_are_sanitized() -> None:
    assert prometheus.metric_name("es.bulk-requests/ok", counter=True) == (
        "sorabeat_es_bulk_requests_ok_total"
    )
    assert prometheus.metric_name("a..b.", counter=False) == "sorabeat_a_b"
    assert prometheus.label_name("9lives") == "l_9lives"
    assert prometheus.label_name("__x") == "l_x"
    assert prometheus.escape_help("a\\b\nc") == "a\\\\b\\nc"


_label_value = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20
)


@settings(max_examples=150, deadline=None)
@given(
    names=st.lists(
        st.from_regex(r"[a-z][a-z0-9_.\-]{0,15}", fullmatch=True), min_size=1, max_size=5
    ),
    value=_label_value,
    number=st.integers(min_value=0, max_value=2**40),
)
def test_any_registry_renders_to_parseable_text(names: list[str], value: str, number: int) -> None:
    reg = Registry()
    for name in names:
        reg.add(name, number, host=value)
        reg.set(name + ".now", number / 2)
    text = prometheus.render(prometheus.families(Snapshot.of(reg), {"v": value}, 1.5))
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples]
    hosts = [s.labels["host"] for s in samples if "host" in s.labels]
    assert hosts and set(hosts) == {value}
    assert all(s.name.startswith("sorabeat_") for s in samples)


def test_health_turns_unhealthy_only_while_events_wait_without_acks() -> None:
    reg = Registry()
    health = Health(reg, unhealthy_after=10, now=0)
    assert health.status(100).healthy  # nothing pending: healthy however long
    reg.set("spool.events.pending", 5)
    health.sample(101)
    assert health.status(105).healthy
    status = health.status(112)
    assert not status.healthy and status.reason is not None
    assert "5 events wait" in status.reason and "for 12s" in status.reason
    reg.add("spool.events.acked", 1)
    assert health.status(113).healthy  # progress
    assert not health.status(124).healthy  # stuck again
    reg.set("spool.events.pending", 0)
    assert health.status(125).healthy
