"""What one ``_bulk`` reply means for the chunk of the batch it answered, sans-IO.

The response classifier (``response.classify``) says what the reply *is*; ``apply_items``
sorts its items. This step turns both into a plan for the output: which positions are done,
which are sent again later or at once (a 413 split in halves, dead-letter rewrites), whether
the whole chunk must wait for a backoff, and the counters and log lines that say so. The
output then does the I/O: sends, sleeps, acknowledges, logs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from sorabeat.es.progress import apply_items
from sorabeat.es.response import Request, Verdict


@dataclass
class ReplyPlan:
    finished: Sequence[int] = ()  # done for good: indexed, duplicates, dropped
    retry: list[int] = field(default_factory=list)  # send again after a backoff
    split: list[Sequence[int]] = field(default_factory=list)  # send now, in this order
    dead_letter: list[tuple[int, int, str]] = field(default_factory=list)  # (pos, status, why)
    # the rest of the round cannot be sent now: back off (at least retry_after) and retry
    round_failed: bool = False
    retry_after: float | None = None
    counters: list[tuple[str, int]] = field(default_factory=list)
    logs: list[tuple[int, str]] = field(default_factory=list)  # (level, message), in order


def plan_reply(
    verdict: Verdict,
    chunk: Sequence[int],
    url: str,
    *,
    dead_letter_enabled: bool,
    dead_lettered: Collection[int],
    index_of: Callable[[int], str],
) -> ReplyPlan:
    """The plan for ``chunk`` (batch positions) after ``url`` answered with ``verdict``.
    ``index_of(position)`` names the index an event was sent to, for log lines."""
    kind = verdict.kind
    if kind is Request.SPLIT:
        if len(chunk) > 1:
            half = len(chunk) // 2
            return ReplyPlan(
                split=[chunk[:half], chunk[half:]],
                logs=[
                    (
                        logging.INFO,
                        f"{url}: request too large (413); splitting {len(chunk)} events",
                    )
                ],
            )
        return ReplyPlan(
            finished=chunk,
            counters=[("output.events.dropped", 1)],
            logs=[
                (
                    logging.ERROR,
                    f"dropping an event Elasticsearch at {url} refuses as too large (413) "
                    "even alone",
                )
            ],
        )
    if kind is Request.CREDENTIALS:
        return ReplyPlan(
            round_failed=True,
            retry_after=verdict.retry_after,
            logs=[
                (
                    logging.ERROR,
                    f"Elasticsearch at {url} refused the credentials ({verdict.status} "
                    f"{verdict.message}): check output.elasticsearch.username/password or "
                    "api_key and the user's privileges",
                )
            ],
        )
    if kind is Request.RETRY:
        return ReplyPlan(
            round_failed=True,
            retry_after=verdict.retry_after,
            counters=[("output.events.toomany", len(chunk))] if verdict.status == 429 else [],
            logs=[
                (
                    logging.WARNING,
                    f"bulk request to {url} answered {verdict.status} ({verdict.message}); "
                    f"retrying {len(chunk)} events",
                )
            ],
        )
    if kind is Request.INVALID:
        return ReplyPlan(
            round_failed=True,
            logs=[
                (
                    logging.ERROR,
                    f"bulk response from {url} is unusable ({verdict.message}); "
                    f"retrying {len(chunk)} events",
                )
            ],
        )
    result = apply_items(
        chunk,
        verdict.items,
        dead_letter_enabled=dead_letter_enabled,
        dead_lettered=dead_lettered,
    )
    if result.retry or result.dead_letter:
        pending = set(result.retry).union(p for p, _, _ in result.dead_letter)
        finished: Sequence[int] = [p for p in chunk if p not in pending]
    else:
        finished = chunk
    plan = ReplyPlan(
        finished=finished,
        retry=result.retry,
        dead_letter=result.dead_letter,
        counters=[
            ("output.events.acked", result.ok),
            ("output.events.duplicates", result.duplicates),
            ("output.events.toomany", result.toomany),
            ("output.events.failed", result.failed),
        ],
    )
    for position, status, reason in result.dropped:
        plan.counters.append(("output.events.dropped", 1))
        plan.logs.append(
            (
                logging.WARNING,
                f"Cannot index event (status={status}) into {index_of(position)}: {reason}; "
                "dropping it",
            )
        )
    return plan
