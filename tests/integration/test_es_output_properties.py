"""Property: for any per-item answers of the first bulk request, the sink stores every
event except the permanently refused ones, resends exactly the retryable ones, and
acknowledges the whole batch (the emulator plays the cluster)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sorabeat.monitoring.registry import Registry
from tests.es_support import AckRecorder, es_settings, make_events, new_output, seqs
from tools.emulators.elasticsearch import ElasticsearchEmulator, ItemFaults

pytestmark = pytest.mark.timeout(300)
ANSWERS = st.sampled_from([None, None, 429, 500, 503, 400, 404])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ANSWERS, min_size=1, max_size=30))
def test_any_item_answers(answers: list[int | None]) -> None:
    async def scenario() -> None:
        async with ElasticsearchEmulator() as es:
            faults = {i: status for i, status in enumerate(answers) if status is not None}
            es.faults.append(ItemFaults(faults))
            metrics = Registry()
            out = new_output(es_settings(es.url, bulk_max_size=len(answers)), metrics)
            ack = AckRecorder(len(answers))
            await asyncio.wait_for(out.publish(make_events(len(answers)), ack), 60)
            await out.close()
            permanent = {i for i, s in faults.items() if s in (400, 404)}
            retried = sorted(i for i, s in faults.items() if s not in (400, 404))
            assert seqs(es.documents()) == [i for i in range(len(answers)) if i not in permanent]
            assert ack.acked == len(answers)
            requests = es.bulk_requests()
            assert [r.items for r in requests] == [len(answers)] + (
                [len(retried)] if retried else []
            )
            assert metrics.total("output.events.dropped") == len(permanent)
            assert metrics.total("output.events.retried") == len(retried)
            first_pending = min([*retried, len(answers)])
            if first_pending:  # the done prefix is acknowledged before any retry
                assert ack.values[0] == first_pending

    asyncio.run(scenario())
