"""``output.elasticsearch``: parallel ``_bulk`` requests with per-item error handling.

Each publish sends its batch, reads every item, acknowledges the done prefix, and sends
again only what failed (429, 5xx, transport errors, whole-request failures), with backoff,
until every event is indexed, a duplicate, dead-lettered or refused for good. It never
gives up on an event because the cluster is unreachable: the spool keeps it.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence

import httpx
import tenacity

from sorabeat.es.bulk import ActionBuilder, PreparedBatch, bulk_body
from sorabeat.es.client import ElasticsearchHost
from sorabeat.es.format import EventFormat, FormatError
from sorabeat.es.hosts import parse_host_url
from sorabeat.es.progress import BatchProgress
from sorabeat.es.reply_plan import ReplyPlan, plan_reply
from sorabeat.es.response import classify, parse_retry_after
from sorabeat.es.root import CredentialsError, RootError
from sorabeat.es.routing import Routes
from sorabeat.es.settings import ElasticsearchSettings
from sorabeat.event import AgentInfo, escape_html
from sorabeat.failure_streak import FailureStreak
from sorabeat.monitoring.registry import Registry
from sorabeat.outputs.backoff import Backoff, EqualJitter, EqualJitterWait, Rand
from sorabeat.outputs.base import AckFn

log = logging.getLogger("sorabeat.elasticsearch")


def agent_fields(agent: AgentInfo) -> dict[str, str]:
    """Fields every event carries with values known at start: resolved once in formats."""
    return {
        "agent.name": agent.name,
        "agent.hostname": agent.hostname,
        "agent.id": agent.id,
        "agent.ephemeral_id": agent.ephemeral_id,
        "agent.version": agent.version,
        "agent.type": agent.type,
    }


class _RoundFailedError(Exception):
    """The rest of a round cannot be sent now: back off and retry."""

    def __init__(self, retry_after: float | None = None) -> None:
        super().__init__()
        self.retry_after = retry_after


class _Batch:
    """One publish: its prepared events, progress and the positions now dead-lettered."""

    def __init__(self, prepared: PreparedBatch, ack: AckFn) -> None:
        self.progress = BatchProgress(len(prepared))
        self.prepared = prepared
        self.dead_lettered: set[int] = set()
        self.ack = ack

    def finish(self, positions: Sequence[int]) -> None:
        self.progress.finish_all(positions)

    def report(self) -> None:
        moved = self.progress.advance()
        if moved is not None:
            self.ack(moved)


class ElasticsearchOutput:
    name = "elasticsearch"

    def __init__(
        self,
        settings: ElasticsearchSettings,
        agent: AgentInfo,
        metrics: Registry,
        *,
        data_streams: bool = False,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Rand | None = None,
    ) -> None:
        """``sleep`` and ``rand`` drive the backoff (tests inject them)."""
        self.settings = settings
        self.metrics = metrics
        self.batch_size = settings.bulk_max_size
        self.hosts = [
            ElasticsearchHost(parse_host_url(h, settings.protocol, settings.path), settings)
            for h in settings.hosts
        ]
        if not self.hosts:
            raise ValueError("output.elasticsearch.hosts is empty")
        per_host = settings.worker
        self.max_in_flight = per_host * (len(self.hosts) if settings.loadbalance else 1)
        static = agent_fields(agent)
        self.routes = Routes(settings, static, data_streams)
        dead_letter = settings.non_indexable_policy.dead_letter_index
        self.dead_letter = EventFormat(dead_letter.index, static) if dead_letter else None
        if self.dead_letter is not None and self.dead_letter.needs_event:
            raise FormatError("the dead-letter index may use agent fields and dates only")
        self._round_robin = itertools.count(random.randrange(len(self.hosts)))
        self._sticky = random.randrange(len(self.hosts))
        self._builder: ActionBuilder | None = None
        self._sleep = sleep
        self._rand = rand
        # a host that stays unreachable is logged once a minute, and once when it is back
        self._streaks = {h: FailureStreak(f"Elasticsearch at {h.url}") for h in self.hosts}

    # ------------------------------------------------------------------- hosts
    def _next_host(self) -> ElasticsearchHost:
        if self.settings.loadbalance:
            return self.hosts[next(self._round_robin) % len(self.hosts)]
        return self.hosts[self._sticky]

    def _host_failed(self, host: ElasticsearchHost) -> None:
        host.failed()
        if not self.settings.loadbalance and len(self.hosts) > 1:
            others = [i for i, h in enumerate(self.hosts) if h is not host]
            self._sticky = random.choice(others)

    async def _connected(self) -> ActionBuilder:
        """The action builder, after some host answered ``GET /``: tenacity retries the
        next host with the backoff until one does (the spool keeps the events meanwhile)."""
        backoff = self.settings.backoff
        retrying = tenacity.AsyncRetrying(
            wait=EqualJitterWait(EqualJitter(backoff.init, backoff.max, self._rand)),
            retry=tenacity.retry_if_exception_type((httpx.HTTPError, RootError)),
            sleep=self._sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if self._builder is None:
                    host = self._next_host()
                    try:
                        server = await host.connect()
                    except (httpx.HTTPError, RootError) as exc:
                        self._log_connect_failure(host, exc)
                        self._host_failed(host)
                        raise
                    if self._builder is None:
                        self._builder = self.routes.builder(server)
        assert self._builder is not None, "tenacity ended without a builder or an error"
        return self._builder

    def _log_connect_failure(self, host: ElasticsearchHost, exc: Exception) -> None:
        self.metrics.add("output.elasticsearch.connect_errors")
        if isinstance(exc, CredentialsError):
            self._host_trouble(host, logging.ERROR, f"refused the credentials: {exc}")
        elif isinstance(exc, RootError):
            self._host_trouble(host, logging.ERROR, f"not usable: {exc}")
        else:
            self._host_trouble(host, logging.WARNING, f"cannot reach it: {_describe(exc)}")

    def _host_trouble(self, host: ElasticsearchHost, level: int, reason: str) -> None:
        line = self._streaks[host].failed(reason)
        if line is not None:
            log.log(level, "%s", line)

    def _host_answered(self, host: ElasticsearchHost) -> None:
        line = self._streaks[host].succeeded()
        if line is not None:
            log.info("%s", line)

    # ----------------------------------------------------------------- publish
    async def publish(self, events: Sequence[bytes], ack: AckFn) -> None:
        builder = await self._connected()
        backoff = Backoff(self.settings.backoff, self._rand)
        if self.settings.escape_html:
            events = [escape_html(e) for e in events]
        prepared, rejected = builder.prepare_all(events)
        batch = _Batch(prepared, ack)
        todo: Sequence[int] = range(len(events))  # a range until something fails
        if rejected:
            for _position, why in rejected:
                log.warning("dropping an event that cannot be indexed: %s", why)
            dropped = sorted({p for p, _ in rejected})
            batch.finish(dropped)
            self.metrics.add("output.events.dropped", len(dropped))
            todo = sorted(set(todo).difference(dropped))
        batch.report()
        while todo:
            retry, retry_after = await self._round(builder, batch, todo)
            if not retry:
                break
            self.metrics.add("output.events.retried", len(retry))
            wait = backoff.next_wait()
            if retry_after is not None:
                wait = max(wait, retry_after)
            await self._sleep(wait)
            todo = retry
        assert batch.progress.complete, "publish ended with events not done"

    async def _round(
        self, builder: ActionBuilder, batch: _Batch, todo: Sequence[int]
    ) -> tuple[list[int], float | None]:
        """Send ``todo`` (split on 413); the positions to send again and a wait hint."""
        chunks: collections.deque[Sequence[int]] = collections.deque([todo])
        retry: list[int] = []
        while chunks:
            chunk = chunks.popleft()
            try:
                again, extra = await self._send(builder, batch, chunk)
            except _RoundFailedError as failure:
                retry.extend(chunk)
                for rest in chunks:
                    retry.extend(rest)
                self.metrics.add("output.events.failed", len(chunk))
                return sorted(retry), failure.retry_after
            retry.extend(again)
            chunks.extendleft(reversed(extra))
            batch.report()
        return sorted(retry), None

    async def _send(
        self, builder: ActionBuilder, batch: _Batch, chunk: Sequence[int]
    ) -> tuple[list[int], list[Sequence[int]]]:
        """One ``_bulk`` request; returns (positions to retry later, chunks to send now)."""
        host = self._next_host()
        try:
            await host.connect()
        except (httpx.HTTPError, RootError) as exc:
            self._log_connect_failure(host, exc)
            self._host_failed(host)
            raise _RoundFailedError() from None
        prepared = batch.prepared
        body = bulk_body(prepared, chunk)
        started = time.perf_counter()
        try:
            reply = await host.bulk(body)
        except httpx.HTTPError as exc:
            self.metrics.add("output.write.errors")
            self._host_trouble(
                host,
                logging.WARNING,
                f"bulk request of {len(chunk)} events failed: {_describe(exc)}; retrying",
            )
            self._host_failed(host)
            raise _RoundFailedError() from None
        self._host_answered(host)
        latency_ms = (time.perf_counter() - started) * 1000
        self.metrics.add("output.elasticsearch.bulk_requests")
        self.metrics.add("output.write.bytes", reply.sent_bytes)
        self.metrics.add("output.write.latency_ms_total", latency_ms)
        self.metrics.set("output.write.latency_ms", latency_ms)
        ops = [prepared.ops[i] for i in chunk]
        retry_after = parse_retry_after(reply.headers.get("retry-after"), time.time())
        plan = plan_reply(
            classify(reply.status, reply.body, ops, retry_after),
            chunk,
            str(host.url),
            dead_letter_enabled=self.dead_letter is not None,
            dead_lettered=batch.dead_lettered,
            index_of=lambda position: _index_of(prepared.actions[position]),
        )
        return self._carry_out(plan, builder, batch)

    def _carry_out(
        self, plan: ReplyPlan, builder: ActionBuilder, batch: _Batch
    ) -> tuple[list[int], list[Sequence[int]]]:
        """Apply a reply's plan: finish, count, log, rewrite dead letters; raise
        ``_RoundFailedError`` when the chunk must wait for a backoff."""
        if plan.finished:
            batch.finish(plan.finished)
        for name, value in plan.counters:
            self.metrics.add(name, value)
        for level, message in plan.logs:
            log.log(level, "%s", message)
        if plan.round_failed:
            raise _RoundFailedError(plan.retry_after)
        sent_again: list[int] = []
        if plan.dead_letter:
            assert self.dead_letter is not None
            prepared = batch.prepared
            for position, status, reason in plan.dead_letter:
                index = self.dead_letter.render(prepared.timestamp(position))
                builder.dead_letter(prepared, position, index, status, reason)
                batch.dead_lettered.add(position)
                sent_again.append(position)
                log.warning(
                    "Cannot index event (status=%d): %s; sending it to the dead-letter index %s",
                    status,
                    reason,
                    index,
                )
            self.metrics.add("output.events.dead_lettered", len(sent_again))
        return plan.retry, plan.split + ([sent_again] if sent_again else [])

    async def close(self) -> None:
        await asyncio.gather(*(h.close() for h in self.hosts), return_exceptions=True)


def _index_of(action: bytes) -> str:
    value = action.split(b'"_index":', 1)[-1].split(b",", 1)[0].split(b"}", 1)[0]
    return value.decode("utf-8", "replace")


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    if isinstance(exc, httpx.ProxyError):  # the proxy's answer to CONNECT
        return f"the proxy refused the tunnel: {text}"
    return text
