"""The Elasticsearch sink against the emulator over real loopback HTTP: delivery, every
failure rule, no loss across faults, duplicates only where a fault made them ambiguous."""

from __future__ import annotations

import asyncio
import base64
import collections
import logging

import orjson
import pytest

from sorabeat.es.output import ElasticsearchOutput
from sorabeat.es.settings import DeadLetterIndex, NonIndexablePolicy
from sorabeat.monitoring.registry import Registry
from sorabeat.outputs.backoff import BackoffSettings
from tests.es_support import (
    AGENT,
    AckRecorder,
    es_settings,
    make_events,
    new_output,
    publish_all,
    seqs,
    source_of,
)
from tools.emulators.elasticsearch import (
    DelayAfterCommit,
    ElasticsearchEmulator,
    ItemFaults,
    RandomFaults,
    Reset,
    Truncated,
    WholeFault,
    WrongItemCount,
)

INDEX = "sorabeat-0.1.0-2026.01.02"
pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def es() -> ElasticsearchEmulator:
    emulator = ElasticsearchEmulator()
    await emulator.start()
    yield emulator  # type: ignore[misc]
    await emulator.close()


async def test_delivers_every_event_with_beats_request_shape(es: ElasticsearchEmulator) -> None:
    metrics = Registry()
    out = new_output(es_settings(es.url, bulk_max_size=50, worker=2), metrics)
    events = make_events(230)
    await publish_all(out, events)
    await out.close()
    assert seqs(es.documents(INDEX)) == list(range(230))
    stored = sorted(es.documents(INDEX), key=lambda d: d["sora"]["connections"]["seq"])
    assert stored[0] == source_of(events[0])  # @metadata cut, nothing else changed
    bulks = es.bulk_requests()
    assert len(bulks) == 5  # 230 events in batches of 50
    first = bulks[0]
    assert first.query["filter_path"] == "errors,items.*.error,items.*.status"
    assert first.headers["content-type"] == "application/json"
    assert first.headers["content-encoding"] == "gzip"
    assert first.headers["x-elastic-product-origin"] == "sorabeat"
    assert first.headers["user-agent"].startswith("Sorabeat/")
    assert es.requests[0].path == "/"  # GET / before any bulk
    assert metrics.total("output.events.acked") == 230
    assert metrics.total("output.elasticsearch.bulk_requests") == 5
    assert metrics.total("output.write.bytes") == sum(r.body_size for r in bulks)


async def test_item_429_and_5xx_are_retried_alone(es: ElasticsearchEmulator) -> None:
    metrics = Registry()
    out = new_output(es_settings(es.url, bulk_max_size=10), metrics)
    es.faults.append(ItemFaults({0: 429, 3: 503, 9: 500}))
    ack = AckRecorder(10)
    await out.publish(make_events(10), ack)
    await out.close()
    assert seqs(es.documents(INDEX)) == list(range(10))
    assert es.id_counts().most_common(1)[0][1] == 1  # nothing stored twice
    bulks = es.bulk_requests()
    assert [b.items for b in bulks] == [10, 3]  # only the three failed items went again
    assert ack.values[-1] == 10
    assert ack.values[0] == 10  # nothing before position 0 was done until the retry
    assert metrics.total("output.events.toomany") == 1
    assert metrics.total("output.events.failed") == 2
    assert metrics.total("output.events.retried") == 3


async def test_acks_grow_as_leading_events_finish(es: ElasticsearchEmulator) -> None:
    out = new_output(es_settings(es.url, bulk_max_size=10))
    es.faults.append(ItemFaults({6: 429}))
    ack = AckRecorder(10)
    await out.publish(make_events(10), ack)
    await out.close()
    assert ack.values == [6, 10]


async def test_permanent_item_errors_are_dropped_and_logged(
    es: ElasticsearchEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = Registry()
    out = new_output(es_settings(es.url, bulk_max_size=20), metrics)
    good = make_events(3)
    # seq as a string: a type conflict once the index mapped it as long
    bad = make_events(2, start=3, document={"seq": "not-a-number"})
    await out.publish(good, AckRecorder(3))
    with caplog.at_level(logging.WARNING, "sorabeat.elasticsearch"):
        ack = AckRecorder(2)
        await out.publish(bad, ack)
    await out.close()
    assert ack.acked == 2  # dropped events are done: the spool may forget them
    assert es.count(INDEX) == 3
    assert metrics.total("output.events.dropped") == 2
    messages = [r.getMessage() for r in caplog.records]
    assert any(
        "Cannot index event (status=400)" in m
        and "failed to parse field [sora.connections.seq]" in m
        and "dropping" in m
        for m in messages
    )
    assert len(es.bulk_requests()) == 2  # never retried


async def test_dead_letter_index_receives_refused_events(es: ElasticsearchEmulator) -> None:
    metrics = Registry()
    policy = NonIndexablePolicy(dead_letter_index=DeadLetterIndex(index="sorabeat-dlq"))
    out = new_output(es_settings(es.url, non_indexable_policy=policy), metrics)
    await out.publish(make_events(2), AckRecorder(2))
    bad = make_events(1, start=2, document={"seq": {"nested": 1}})
    await out.publish(bad, AckRecorder(1))
    await out.close()
    (letter,) = es.documents("sorabeat-dlq")
    assert orjson.loads(letter["message"]) == source_of(bad[0])
    assert letter["error"]["type"] == 400
    assert "sora.connections.seq" in letter["error"]["message"]
    assert letter["@timestamp"] == "2026-01-02T03:04:05.000Z"
    assert metrics.total("output.events.dead_lettered") == 1


async def test_dead_letter_poison_pill_is_dropped(es: ElasticsearchEmulator) -> None:
    metrics = Registry()
    policy = NonIndexablePolicy(dead_letter_index=DeadLetterIndex(index="dlq"))
    out = new_output(es_settings(es.url, non_indexable_policy=policy), metrics)
    await out.publish(make_events(1), AckRecorder(1))
    es.faults.append(ItemFaults({0: 400}))  # the event is refused ...
    es.faults.append(ItemFaults({0: 400}))  # ... and so is its dead-letter rewrite
    ack = AckRecorder(1)
    await out.publish(make_events(1, start=1), ack)
    await out.close()
    assert ack.acked == 1
    assert es.count("dlq") == 0
    assert metrics.total("output.events.dropped") == 1
    assert metrics.total("output.events.dead_lettered") == 1


@pytest.mark.parametrize(
    "fault",
    [
        WholeFault(429, retry_after="0"),
        WholeFault(500),
        WholeFault(502, body=b"<html>bad gateway</html>"),
        WholeFault(503),
        WholeFault(504),
        Truncated(),
        WrongItemCount(),
    ],
    ids=["429", "500", "502", "503", "504", "truncated-200", "wrong-item-count"],
)
async def test_whole_request_failures_retry_the_batch(
    es: ElasticsearchEmulator, fault: object, caplog: pytest.LogCaptureFixture
) -> None:
    out = new_output(es_settings(es.url, bulk_max_size=20, document_id="deterministic"))
    es.faults.append(fault)  # type: ignore[arg-type]
    events = make_events(20, document_ids=True)
    with caplog.at_level(logging.WARNING, "sorabeat.elasticsearch"):
        await out.publish(events, AckRecorder(20))
    await out.close()
    assert seqs(es.documents(INDEX)) == list(range(20))
    assert len(es.bulk_requests()) == 2
    assert caplog.records, "the failure was not logged"
    if isinstance(fault, Truncated | WrongItemCount):
        # the first attempt stored everything; the retry must find 409s, not a silent success
        assert "unusable" in caplog.records[0].getMessage()


async def test_retry_after_is_honoured(es: ElasticsearchEmulator) -> None:
    out = new_output(es_settings(es.url))
    es.faults.append(WholeFault(429, retry_after="1"))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await out.publish(make_events(2), AckRecorder(2))
    await out.close()
    assert loop.time() - started >= 0.9  # backoff alone would be <= 0.05 s
    assert es.count(INDEX) == 2


async def test_413_splits_until_requests_fit(es: ElasticsearchEmulator) -> None:
    es.max_content_length = 6000  # a few events per request
    metrics = Registry()
    out = new_output(es_settings(es.url, bulk_max_size=64), metrics)
    events = make_events(64)
    ack = AckRecorder(64)
    await out.publish(events, ack)
    await out.close()
    assert seqs(es.documents(INDEX)) == list(range(64))
    statuses = collections.Counter(r.status for r in es.bulk_requests())
    assert statuses[413] >= 3
    assert metrics.total("output.events.dropped") == 0


async def test_413_single_event_is_dropped(
    es: ElasticsearchEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    es.max_content_length = 2000
    metrics = Registry()
    out = new_output(es_settings(es.url), metrics)
    big = make_events(1, start=1, document={"blob": "x" * 5000})
    events = [*make_events(1), *big, *make_events(1, start=2)]
    with caplog.at_level(logging.ERROR, "sorabeat.elasticsearch"):
        ack = AckRecorder(3)
        await out.publish(events, ack)
    await out.close()
    assert ack.acked == 3
    assert seqs(es.documents(INDEX)) == [0, 2]
    assert metrics.total("output.events.dropped") == 1
    assert any("too large (413) even alone" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("stage", ["before_commit", "after_commit", "after_head", "mid_body"])
async def test_connection_resets_lose_nothing(es: ElasticsearchEmulator, stage: str) -> None:
    out = new_output(es_settings(es.url, bulk_max_size=25))
    es.faults.append(Reset(stage))
    await out.publish(make_events(25), AckRecorder(25))
    await out.close()
    counts = collections.Counter(seqs(es.documents(INDEX)))
    assert sorted(counts) == list(range(25))
    # without document ids a reset after the commit is ambiguous: the retry duplicates
    expected_copies = 1 if stage == "before_commit" else 2
    assert set(
        collections.Counter(a.source["sora"]["connections"]["seq"] for a in es.arrivals).values()
    ) == {expected_copies}


@pytest.mark.parametrize("stage", ["after_commit", "after_head", "mid_body"])
async def test_deterministic_ids_turn_replays_into_409s(
    es: ElasticsearchEmulator, stage: str
) -> None:
    metrics = Registry()
    out = new_output(es_settings(es.url, document_id="deterministic"), metrics)
    es.faults.append(Reset(stage))
    await out.publish(make_events(30, document_ids=True), AckRecorder(30))
    await out.close()
    assert seqs(es.documents(INDEX)) == list(range(30))
    assert max(es.id_counts().values()) == 1
    assert metrics.total("output.events.duplicates") == 30


async def test_ambiguous_timeout_replay(es: ElasticsearchEmulator) -> None:
    """The cluster stores the batch but answers after the client gave up."""
    metrics = Registry()
    out = new_output(es_settings(es.url, timeout=0.5, document_id="deterministic"), metrics)
    es.faults.append(DelayAfterCommit(2.0))
    await out.publish(make_events(12, document_ids=True), AckRecorder(12))
    es.faults.append(DelayAfterCommit(2.0))
    plain = new_output(es_settings(es.url, timeout=0.5))
    await plain.publish(make_events(5, start=100), AckRecorder(5))
    await out.close()
    await plain.close()
    with_ids = [a for a in es.arrivals if a.source["sora"]["connections"]["seq"] < 100]
    assert len(with_ids) == 12  # each once: the replay was answered with 409s
    assert metrics.total("output.events.duplicates") == 12
    without_ids = [a for a in es.arrivals if a.source["sora"]["connections"]["seq"] >= 100]
    assert len(without_ids) == 10  # at-least-once: the replay duplicated them


async def test_random_faults_soak_loses_nothing(es: ElasticsearchEmulator) -> None:
    es.random_faults = RandomFaults(
        seed=7,
        item_429=0.05,
        item_503=0.03,
        whole_429=0.05,
        whole_503=0.05,
        whole_413_above=150,
        reset_before=0.05,
        reset_after=0.05,
    )
    metrics = Registry()
    out = new_output(
        es_settings(es.url, bulk_max_size=200, worker=3, document_id="deterministic"), metrics
    )
    events = make_events(3000, document_ids=True)
    await publish_all(out, events)
    await out.close()
    assert seqs(es.documents(INDEX)) == list(range(3000))
    assert max(es.id_counts().values()) == 1
    assert metrics.total("output.events.retried") > 0
    assert metrics.total("output.events.dropped") == 0


async def test_cluster_down_then_back(es: ElasticsearchEmulator) -> None:
    out = new_output(es_settings(es.url))
    await out.publish(make_events(1), AckRecorder(1))
    await es.stop()
    task = asyncio.create_task(out.publish(make_events(5, start=1), AckRecorder(5)))
    await asyncio.sleep(0.5)
    assert not task.done()  # waiting, not dropping
    await es.start(es.port)
    await asyncio.wait_for(task, 30)
    await out.close()
    assert seqs(es.documents(INDEX)) == list(range(6))


async def test_round_robin_over_hosts() -> None:
    async with ElasticsearchEmulator() as a, ElasticsearchEmulator() as b:
        out = new_output(es_settings([a.url, b.url], bulk_max_size=10))
        assert out.max_in_flight == 2
        await publish_all(out, make_events(80))
        await out.close()
        assert len(a.bulk_requests()) == 4
        assert len(b.bulk_requests()) == 4
        assert seqs(a.documents() + b.documents()) == list(range(80))


async def test_failover_without_loadbalance() -> None:
    async with ElasticsearchEmulator() as a, ElasticsearchEmulator() as b:
        out = new_output(es_settings([a.url, b.url], loadbalance=False))
        assert out.max_in_flight == 1
        await a.close()
        await b.close()
        await b.start()  # only b is up (on a new port: a's stays closed)
        out = new_output(es_settings([a.url, b.url], loadbalance=False))
        await out.publish(make_events(5), AckRecorder(5))
        await out.close()
        assert b.count() == 5


async def test_path_headers_parameters_pipeline_uncompressed() -> None:
    async with ElasticsearchEmulator(path_prefix="/es") as es:
        es.pipelines.add("sora-in")
        out = new_output(
            es_settings(
                es.url + "/es",
                compression_level=0,
                headers={"X-Team": "sora"},
                parameters={"refresh": "false"},
                pipeline="Sora-In",
                index="custom-%{[agent.name]}-%{[sora.connections.channel_id]}",
            )
        )
        await out.publish(make_events(3), AckRecorder(3))
        await out.close()
        bulk = es.bulk_requests()[0]
        assert bulk.path == "/es/_bulk"
        assert bulk.headers["x-team"] == "sora"
        assert "content-encoding" not in bulk.headers
        assert bulk.query["refresh"] == "false"
        assert es.count("custom-sora01-sora") == 3


async def test_events_missing_an_index_field_are_dropped(es: ElasticsearchEmulator) -> None:
    metrics = Registry()
    out = new_output(es_settings(es.url, index="x-%{[sora.connections.room]}"), metrics)
    mixed = [*make_events(2, document={"room": "a"}), *make_events(1, start=2)]
    ack = AckRecorder(3)
    await out.publish(mixed, ack)
    await out.close()
    assert ack.acked == 3
    assert es.count("x-a") == 2
    assert metrics.total("output.events.dropped") == 1


async def test_old_cluster_gets_index_ops_and_type() -> None:
    async with ElasticsearchEmulator(version="6.8.23") as es:
        out = new_output(es_settings(es.url))
        await out.publish(make_events(2), AckRecorder(2))
        await out.close()
        assert [a.op for a in es.arrivals] == ["index", "index"]


async def test_basic_auth_and_api_key() -> None:
    async with ElasticsearchEmulator(users={"elastic": "s3cret"}, api_keys={"kid:kval"}) as es:
        out = new_output(es_settings(es.url, username="elastic", password="s3cret"))
        await out.publish(make_events(1), AckRecorder(1))
        await out.close()
        out = new_output(es_settings(es.url, api_key="kid:kval"))
        await out.publish(make_events(1, start=1), AckRecorder(1))
        await out.close()
        out = new_output(es_settings("http://elastic:s3cret@" + es.url.split("://")[1]))
        await out.publish(make_events(1, start=2), AckRecorder(1))
        await out.close()
        assert seqs(es.documents()) == [0, 1, 2]
        key = es.bulk_requests()[1].headers["authorization"]
        assert key == "ApiKey " + base64.b64encode(b"kid:kval").decode()


async def test_wrong_credentials_are_reported_and_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with ElasticsearchEmulator(users={"elastic": "s3cret"}) as es:
        out = new_output(es_settings(es.url, username="elastic", password="wrong"))
        with caplog.at_level(logging.ERROR, "sorabeat.elasticsearch"):
            task = asyncio.create_task(out.publish(make_events(1), AckRecorder(1)))
            await asyncio.sleep(0.5)
            assert not task.done()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        await out.close()
        lines = [r.getMessage() for r in caplog.records]
        assert any("refused the credentials" in m for m in lines)
        assert not any("wrong" in m for m in lines)  # never the password
        assert len([r for r in es.requests if r.status == 401]) >= 2  # retried


async def test_forbidden_bulk_is_a_credentials_error(caplog: pytest.LogCaptureFixture) -> None:
    async with ElasticsearchEmulator(users={"u": "p"}, forbidden=True) as es:
        out = new_output(es_settings(es.url, username="u", password="p"))
        with caplog.at_level(logging.ERROR, "sorabeat.elasticsearch"):
            task = asyncio.create_task(out.publish(make_events(1), AckRecorder(1)))
            await asyncio.sleep(0.3)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        await out.close()
        assert any("refused the credentials (403" in r.getMessage() for r in caplog.records)


async def test_not_elasticsearch_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    async with ElasticsearchEmulator(product_header=False) as es:
        out = new_output(es_settings(es.url))
        with caplog.at_level(logging.ERROR, "sorabeat.elasticsearch"):
            task = asyncio.create_task(out.publish(make_events(1), AckRecorder(1)))
            await asyncio.sleep(0.3)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        await out.close()
        assert not es.bulk_requests()
        assert any("is not Elasticsearch" in r.getMessage() for r in caplog.records)


async def test_opensearch_is_accepted_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    async with ElasticsearchEmulator(version="2.11.0", distribution="opensearch") as es:
        out = new_output(es_settings(es.url))
        with caplog.at_level(logging.WARNING, "sorabeat.elasticsearch"):
            await out.publish(make_events(2), AckRecorder(2))
        await out.close()
        assert es.count() == 2
        assert all(a.op == "create" for a in es.arrivals)
        assert any("OpenSearch" in r.getMessage() for r in caplog.records)


async def test_gzip_level_is_applied(es: ElasticsearchEmulator) -> None:
    events = make_events(40)
    for level in (1, 9):
        out = new_output(es_settings(es.url, compression_level=level))
        await out.publish(events, AckRecorder(40))
        await out.close()
    fast, small = es.bulk_requests()
    assert fast.headers["content-encoding"] == small.headers["content-encoding"] == "gzip"
    assert small.body_size < fast.body_size < sum(len(e) for e in events) / 3
    assert es.count(INDEX) == 80


async def test_connecting_is_retried_by_tenacity_on_libbeats_schedule(
    es: ElasticsearchEmulator,
) -> None:
    es.users = {"elastic": "secret"}  # the settings carry no credentials: GET / answers 401
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 3:
            es.users = None  # security turned off: the next GET / succeeds

    settings = es_settings(es.url, backoff=BackoffSettings(init=1.0, max=3.0))
    out = ElasticsearchOutput(settings, AGENT, Registry(), sleep=sleep, rand=lambda x: x / 2)
    await publish_all(out, make_events(10))
    await out.close()
    assert slept == [1.5, 2.25, 2.25]  # d/2 + half of the random half, d = 2, 3, 3
    assert [r.status for r in es.requests if r.path == "/"] == [401, 401, 401, 200]
    assert seqs(es.documents(INDEX)) == list(range(10))
