"""The pure step between a ``_bulk`` reply and the ES output's I/O (``es/reply_plan.py``)."""

from __future__ import annotations

import logging

import pytest

from sorabeat.es.reply_plan import ReplyPlan, plan_reply
from sorabeat.es.response import Item, ItemResult, Request, Verdict

URL = "http://es:9200"


def plan(
    verdict: Verdict, chunk: list[int], dead_letter: bool = False, done: set[int] | None = None
) -> ReplyPlan:
    return plan_reply(
        verdict,
        chunk,
        URL,
        dead_letter_enabled=dead_letter,
        dead_lettered=done or set(),
        index_of=lambda position: f"index-{position}",
    )


def test_a_413_splits_the_chunk_in_halves_to_send_at_once() -> None:
    p = plan(Verdict(Request.SPLIT, 413), [3, 4, 5, 6, 7])
    assert p.split == [[3, 4], [5, 6, 7]]
    assert (list(p.finished), p.retry, p.round_failed) == ([], [], False)
    assert p.logs == [(logging.INFO, f"{URL}: request too large (413); splitting 5 events")]


def test_a_413_for_a_single_event_drops_it() -> None:
    p = plan(Verdict(Request.SPLIT, 413), [9])
    assert (list(p.finished), p.split, p.counters) == ([9], [], [("output.events.dropped", 1)])
    assert p.logs[0][0] == logging.ERROR


@pytest.mark.parametrize(
    ("verdict", "counters", "level"),
    [
        (
            Verdict(Request.RETRY, 429, message="busy", retry_after=7.0),
            [("output.events.toomany", 2)],
            logging.WARNING,
        ),
        (Verdict(Request.RETRY, 503, message="down", retry_after=None), [], logging.WARNING),
        (Verdict(Request.CREDENTIALS, 401, message="no", retry_after=None), [], logging.ERROR),
        (Verdict(Request.INVALID, 200, message="not JSON", retry_after=None), [], logging.ERROR),
    ],
)
def test_whole_request_failures_make_the_chunk_wait(
    verdict: Verdict, counters: list[tuple[str, int]], level: int
) -> None:
    p = plan(verdict, [0, 1])
    assert p.round_failed
    assert p.retry_after == (verdict.retry_after if verdict.kind is not Request.INVALID else None)
    assert list(p.finished) == [] and p.retry == [] and p.split == []
    assert p.counters == counters
    assert [lvl for lvl, _ in p.logs] == [level]
    assert "2 events" in p.logs[0][1] or verdict.kind is Request.CREDENTIALS


def items(*kinds: Item) -> list[ItemResult]:
    return [
        ItemResult(
            k,
            {Item.OK: 201, Item.DUPLICATE: 409, Item.TOO_MANY: 429, Item.FAILED: 503}.get(k, 400),
            "why",
        )
        for k in kinds
    ]


def test_items_are_finished_retried_dropped_or_dead_lettered() -> None:
    verdict = Verdict(
        Request.ITEMS,
        200,
        items=items(
            Item.OK, Item.DUPLICATE, Item.TOO_MANY, Item.FAILED, Item.PERMANENT, Item.PERMANENT
        ),
    )
    dropped = plan(verdict, [10, 11, 12, 13, 14, 15])
    assert list(dropped.finished) == [10, 11, 14, 15]
    assert dropped.retry == [12, 13] and dropped.dead_letter == []
    assert dropped.counters == [
        ("output.events.acked", 1),
        ("output.events.duplicates", 1),
        ("output.events.toomany", 1),
        ("output.events.failed", 1),
        ("output.events.dropped", 1),
        ("output.events.dropped", 1),
    ]
    assert dropped.logs[0] == (
        logging.WARNING,
        "Cannot index event (status=400) into index-14: why; dropping it",
    )
    # with a dead-letter index: 14 goes there, 15 already is a rewrite and is dropped
    lettered = plan(verdict, [10, 11, 12, 13, 14, 15], dead_letter=True, done={15})
    assert list(lettered.finished) == [10, 11, 15]
    assert lettered.dead_letter == [(14, 400, "why")]
    assert not lettered.round_failed and lettered.split == []


def test_a_clean_reply_finishes_the_chunk_as_given() -> None:
    chunk = range(0, 3)
    p = plan_reply(
        Verdict(Request.ITEMS, 200, items=items(Item.OK, Item.OK, Item.OK)),
        chunk,
        URL,
        dead_letter_enabled=False,
        dead_lettered=set(),
        index_of=str,
    )
    assert p.finished is chunk  # a range keeps the fast path of BatchProgress.finish_all
    assert p.logs == [] and p.retry == []
