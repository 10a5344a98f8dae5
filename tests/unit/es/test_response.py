"""Bulk response classification: every rule, table-driven, plus properties over random
responses (what is done, retried and dropped, and the acknowledged prefix)."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sorabeat.es.progress import BatchProgress, apply_items
from sorabeat.es.response import (
    RETRY_AFTER_LIMIT,
    Item,
    Request,
    classify,
    classify_item,
    error_reason,
    parse_retry_after,
)


def bulk_body(statuses: list[int], op: str = "create") -> bytes:
    items = []
    for status in statuses:
        item: dict[str, object] = {"status": status}
        if status >= 300:
            item["error"] = {"type": f"e{status}", "reason": f"why {status}"}
        items.append({op: item})
    return orjson.dumps({"errors": any(s >= 300 for s in statuses), "items": items})


@pytest.mark.parametrize(
    ("status", "op", "kind"),
    [
        (200, "index", Item.OK),
        (201, "create", Item.OK),
        (299, "create", Item.OK),
        (409, "create", Item.DUPLICATE),
        (409, "index", Item.PERMANENT),  # not a duplicate when we asked to overwrite
        (429, "create", Item.TOO_MANY),
        (500, "create", Item.FAILED),
        (503, "index", Item.FAILED),
        (400, "create", Item.PERMANENT),
        (403, "create", Item.PERMANENT),
        (404, "create", Item.PERMANENT),
        (413, "create", Item.PERMANENT),
    ],
)
def test_item_rules(status: int, op: str, kind: Item) -> None:
    assert classify_item(status, op) is kind
    verdict = classify(200, bulk_body([status], op), [op])
    assert verdict.kind is Request.ITEMS
    assert verdict.items[0].kind is kind


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (413, Request.SPLIT),
        (401, Request.CREDENTIALS),
        (403, Request.CREDENTIALS),
        (429, Request.RETRY),
        (500, Request.RETRY),
        (502, Request.RETRY),
        (503, Request.RETRY),
        (504, Request.RETRY),
        (400, Request.RETRY),
        (404, Request.RETRY),
        (302, Request.RETRY),
    ],
)
def test_whole_request_rules(status: int, kind: Request) -> None:
    body = orjson.dumps({"error": {"type": "x", "reason": "y"}, "status": status})
    assert classify(status, body, ["create"]).kind is kind


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"", "not JSON"),
        (b'{"errors":false,"items":[{"create":{"status":201}}', "not JSON"),  # truncated
        (b"<html>proxy</html>", "not JSON"),
        (b'{"errors":false}', "no items"),
        (b'{"errors":false,"items":{}}', "no items"),
        (b"[]", "no items"),
        (b'{"errors":false,"items":[{"create":{"status":201}}]}', "1 items for 2 events"),
        (b'{"items":[{"create":{}},{"create":{"status":201}}]}', "without a status"),
        (b'{"items":[{"create":{"status":"201"}},{"create":{"status":201}}]}', "without a status"),
        (b'{"items":[1,{"create":{"status":201}}]}', "without a status"),
    ],
)
def test_unreadable_success_is_a_failure(body: bytes, why: str) -> None:
    """libbeat counts these as delivered; here they fail the whole request."""
    verdict = classify(200, body, ["create", "create"])
    assert verdict.kind is Request.INVALID
    assert why in verdict.message


def test_error_reason_includes_cause() -> None:
    error = {
        "type": "document_parsing_exception",
        "reason": "[1:2] failed to parse field [x] of type [long]",
        "caused_by": {"type": "illegal_argument_exception", "reason": 'For input string: "a"'},
    }
    text = error_reason(error)
    assert text.startswith("document_parsing_exception: [1:2] failed to parse field [x]")
    assert 'caused by illegal_argument_exception: For input string: "a"' in text
    assert error_reason("plain old error") == "plain old error"


def test_retry_after() -> None:
    assert parse_retry_after("7", now=0) == 7
    assert parse_retry_after(" 0 ", now=0) == 0
    assert parse_retry_after("-3", now=0) == 0
    assert parse_retry_after("99999", now=0) == RETRY_AFTER_LIMIT
    assert parse_retry_after("soon", now=0) is None
    assert parse_retry_after(None, now=0) is None
    when = 1_767_323_045.0  # Fri, 02 Jan 2026 03:04:05 GMT
    assert parse_retry_after("Fri, 02 Jan 2026 03:04:15 GMT", now=when) == pytest.approx(10)
    verdict = classify(429, b"", ["create"], retry_after=5.0)
    assert verdict.kind is Request.RETRY
    assert verdict.retry_after == 5.0


STATUSES = st.sampled_from([200, 201, 400, 403, 404, 409, 413, 429, 500, 502, 503])


@given(
    st.lists(st.tuples(STATUSES, st.sampled_from(["create", "index"])), min_size=1, max_size=60),
    st.booleans(),
    st.data(),
)
def test_round_sorts_every_item_exactly(
    items: list[tuple[int, str]], dead_letter: bool, data: st.DataObject
) -> None:
    statuses = [s for s, _ in items]
    ops = [o for _, o in items]
    body = orjson.dumps({"items": [{op: {"status": s}} for s, op in items]})
    verdict = classify(200, body, ops)
    assert verdict.kind is Request.ITEMS
    offset = data.draw(st.integers(0, 5))
    positions = [offset + 2 * i for i in range(len(items))]  # any batch positions
    already = set(data.draw(st.lists(st.sampled_from(positions), max_size=5)))
    result = apply_items(
        positions, verdict.items, dead_letter_enabled=dead_letter, dead_lettered=already
    )

    def permanent(status: int, op: str) -> bool:
        return 300 <= status < 500 and status != 429 and not (status == 409 and op == "create")

    pairs = list(zip(positions, items, strict=True))
    expected_retry = [p for p, (s, _) in pairs if s == 429 or s >= 500]
    expected_permanent = [p for p, (s, o) in pairs if permanent(s, o)]
    assert result.retry == expected_retry
    dropped = [p for p, _, _ in result.dropped]
    lettered = [p for p, _, _ in result.dead_letter]
    assert sorted(dropped + lettered) == expected_permanent
    if dead_letter:
        assert dropped == [p for p in expected_permanent if p in already]
    else:
        assert lettered == []
    assert result.ok == sum(200 <= s < 300 for s in statuses)
    assert result.duplicates == sum(s == 409 and o == "create" for s, o in items)
    assert result.toomany == statuses.count(429)
    assert result.failed == sum(s >= 500 for s in statuses)

    # the acknowledged prefix: everything before the first event still to send
    progress = BatchProgress(positions[-1] + 1)
    done = [p for p in positions if p not in expected_retry and p not in lettered]
    progress.finish_all(done)
    for p in range(positions[-1] + 1):
        if p not in positions:
            progress.finish(p)  # positions of this batch sent in other requests: done
    progress.advance()
    pending = sorted(expected_retry + lettered)
    assert progress.acked == (pending[0] if pending else positions[-1] + 1)


@given(st.lists(st.booleans(), min_size=1, max_size=40), st.randoms())
def test_progress_prefix_only_grows(flags: list[bool], rnd: object) -> None:
    progress = BatchProgress(len(flags))
    order = list(range(len(flags)))
    rnd.shuffle(order)  # type: ignore[attr-defined]
    last = 0
    for position in order:
        progress.finish(position)
        moved = progress.advance()
        if moved is not None:
            assert moved > last
            last = moved
        done = {p for p in order[: order.index(position) + 1]}
        expected = next((i for i in range(len(flags)) if i not in done), len(flags))
        assert progress.acked == expected
    assert progress.complete


def test_errors_false_fast_path_still_counts_items() -> None:
    body = b'{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}}]}'
    verdict = classify(200, body, ["create", "create"])
    assert verdict.kind is Request.ITEMS
    assert [i.kind for i in verdict.items] == [Item.OK, Item.OK]
    short = b'{"errors":false,"items":[{"create":{"status":201}}]}'
    assert classify(200, short, ["create", "create"]).kind is Request.INVALID
    mixed = b'{"errors":true,"items":[{"create":{"status":201}},{"create":{"status":429}}]}'
    assert [i.kind for i in classify(200, mixed, ["create"] * 2).items] == [Item.OK, Item.TOO_MANY]


@given(st.integers(1, 30), st.data())
def test_finish_all_runs_and_lists_agree(size: int, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, size - 1))
    stop = data.draw(st.integers(start, size))
    scattered = data.draw(st.lists(st.integers(0, size - 1), max_size=size))
    a, b = BatchProgress(size), BatchProgress(size)
    a.finish_all(range(start, stop))
    b.finish_all(list(range(start, stop)))
    a.finish_all(scattered)
    b.finish_all(scattered)
    assert a.advance() == b.advance()
    assert [a.is_done(i) for i in range(size)] == [b.is_done(i) for i in range(size)]
