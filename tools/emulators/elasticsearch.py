"""An Elasticsearch emulator for tests (reference: elasticsearch-and-spool.md, D3).

Real HTTP on 127.0.0.1. ``GET/HEAD /``; index templates (composable and legacy), ILM
policies (``GET/PUT/DELETE _ilm/policy``), data streams as documented (created by the first
``create`` into a name a ``data_stream`` template matches, or ``PUT _data_stream``; documents
land in the backing index ``.ds-<name>-<date>-000001``; ``index``/``update``/``delete`` on a
data stream are refused; ``GET/DELETE _data_stream``, ``POST <stream>/_rollover``); the
index API (``_doc`` with ``op_type``, ``_create``); ``_count`` (``match_all``, ``exists``,
``term``); ``_bulk`` with per-item semantics (create/index/delete/update, 409 on an existing
``_id``, 400 for a type conflict with the template or first-seen mapping, invalid index
names, missing pipelines, data-stream rules); request-level errors (406, 400, 413, 401/403
with WWW-Authenticate); gzip bodies; ``filter_path``; scriptable faults; introspection of
what was stored, in arrival order. ``null_store`` answers every bulk item
with success after minimal parsing (for benchmarks).

Run as a process: ``python -m tools.emulators.elasticsearch [--null-store] [--port N]``
prints one JSON line with the URL once it listens, and exits after ``--max-runtime``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import fnmatch
import functools
import itertools
import random
import re
import ssl
import sys
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from tools.emulators.http11 import HttpServer, Request, Response

JSON = dict[str, Any]
_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$"
)
_NUMBER = re.compile(r"^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
_INTEGER_TYPES = {"long", "integer", "short", "byte", "unsigned_long"}
_FLOAT_TYPES = {"double", "float", "half_float", "scaled_float"}
_STRING_TYPES = {"keyword", "text", "wildcard", "constant_keyword", "match_only_text"}
DATA_STREAM_OP = "only write ops with an op_type of create are allowed in data streams"
_ITEM_ERRORS = {
    429: ("es_rejected_execution_exception", "rejected execution of coordinating operation"),
    500: ("internal_server_error", "emulated internal error"),
    503: ("unavailable_shards_exception", "[0] primary shard is not active"),
}


# ----------------------------------------------------------------------------- faults
@dataclass
class ItemFaults:
    """Per-item statuses (by position in the request) for one bulk request; those items
    are not stored."""

    statuses: dict[int, int]


@dataclass
class WholeFault:
    """The whole request fails with ``status`` (nothing stored)."""

    status: int
    retry_after: str | None = None
    body: bytes | None = None


@dataclass
class DelayAfterCommit:
    """Store the documents, then wait before answering (past the client's timeout: the
    ambiguous-timeout case)."""

    seconds: float


@dataclass
class Reset:
    """Abort the connection: ``before_commit`` (nothing stored), ``after_commit`` (stored,
    no answer), ``after_head`` (stored, status line sent), ``mid_body`` (stored, body cut)."""

    stage: str = "after_commit"


@dataclass
class Truncated:
    """Store, then answer 200 with a complete HTTP message whose JSON is cut short."""


@dataclass
class WrongItemCount:
    """Store, then answer 200 with one item fewer than the request had."""


Fault = ItemFaults | WholeFault | DelayAfterCommit | Reset | Truncated | WrongItemCount


@dataclass
class RandomFaults:
    """A seeded fault plan consulted for every bulk request while no scripted fault waits."""

    seed: int = 0
    item_429: float = 0.0
    item_503: float = 0.0
    whole_429: float = 0.0
    whole_503: float = 0.0
    whole_413_above: int | None = None  # requests with more items than this get a 413
    reset_before: float = 0.0
    reset_after: float = 0.0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def next(self, items: int) -> Fault | None:
        r = self.rng.random
        if self.whole_413_above is not None and items > self.whole_413_above:
            return WholeFault(413, body=b"")
        if r() < self.whole_429:
            return WholeFault(429, retry_after="0")
        if r() < self.whole_503:
            return WholeFault(503)
        if r() < self.reset_before:
            return Reset("before_commit")
        if r() < self.reset_after:
            return Reset("after_commit")
        statuses = {}
        for i in range(items):
            x = r()
            if x < self.item_429:
                statuses[i] = 429
            elif x < self.item_429 + self.item_503:
                statuses[i] = 503
        return ItemFaults(statuses) if statuses else None


# ----------------------------------------------------------------------------- state
@dataclass
class Arrival:
    index: str
    id: str
    source: JSON
    op: str


@dataclass
class IndexState:
    name: str
    mappings: dict[str, str] = field(default_factory=dict)  # dotted path -> type
    dynamic: Any = True
    date_detection: bool = True
    data_stream: bool = False
    docs: dict[str, JSON] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    seq_no: int = 0


@dataclass
class DataStream:
    name: str
    template: str
    indices: list[str] = field(default_factory=list)  # backing indices, the write index last

    @property
    def generation(self) -> int:
        return len(self.indices)

    @property
    def write_index(self) -> str:
        return self.indices[-1]


def backing_index(name: str, generation: int) -> str:
    """ES's name of a backing index: ``.ds-<data stream>-<yyyy.MM.dd>-<generation>``."""
    return f".ds-{name}-{time.strftime('%Y.%m.%d', time.gmtime())}-{generation:06d}"


@dataclass
class RequestRecord:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body_size: int
    status: int = 0
    items: int = 0


class MappingConflictError(Exception):
    def __init__(self, error: JSON) -> None:
        super().__init__(error.get("reason"))
        self.error = error


class ElasticsearchEmulator:
    def __init__(
        self,
        *,
        version: str = "8.15.0",
        distribution: str | None = None,
        build_flavor: str = "default",
        product_header: bool = True,
        users: dict[str, str] | None = None,
        api_keys: set[str] | None = None,
        forbidden: bool = False,
        max_content_length: int = 100 * 1024 * 1024,
        null_store: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        max_runtime: float = 300.0,
        mapping_error_type: str = "document_parsing_exception",
        path_prefix: str = "",
    ) -> None:
        self.path_prefix = path_prefix.rstrip("/")
        self.version = version
        self.distribution = distribution
        self.build_flavor = build_flavor
        self.product_header = product_header
        self.users = users
        self.api_keys = api_keys
        self.forbidden = forbidden
        self.max_content_length = max_content_length
        self.null_store = null_store
        self.max_runtime = max_runtime
        self.mapping_error_type = mapping_error_type
        self.server = HttpServer(self._handle, ssl_context)
        self.templates: dict[str, JSON] = {}
        self.legacy_templates: dict[str, JSON] = {}
        self.policies: dict[str, JSON] = {}
        self.policy_versions: dict[str, int] = {}
        self.data_streams: dict[str, DataStream] = {}
        self.pipelines: set[str] = set()
        self.indices: dict[str, IndexState] = {}
        self.arrivals: list[Arrival] = []
        self.requests: list[RequestRecord] = []
        self.faults: collections.deque[Fault] = collections.deque()
        self.random_faults: RandomFaults | None = None
        self.flood_blocked: set[str] = set()
        self.null_items = 0
        self._ids = itertools.count()
        self._watchdog: asyncio.Task[None] | None = None

    # --------------------------------------------------------------- lifecycle
    async def start(self, port: int = 0) -> None:
        await self.server.start("127.0.0.1", port)
        if self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().create_task(self._expire())

    async def _expire(self) -> None:
        await asyncio.sleep(self.max_runtime)
        await self.server.stop()

    async def stop(self) -> None:
        """Close the listener; the state is kept, so ``start`` again brings it back."""
        await self.server.stop()

    async def close(self) -> None:
        await self.server.stop()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    async def __aenter__(self) -> ElasticsearchEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    def reset(self) -> None:
        self.indices.clear()
        self.data_streams.clear()
        self.arrivals.clear()
        self.requests.clear()
        self.faults.clear()

    # ------------------------------------------------------------ introspection
    def resolve(self, expression: str) -> list[str]:
        """Concrete indices of a name, data stream or wildcard (hidden ``.`` names only
        when asked for by name), as ES resolves a search target."""
        names: list[str] = []
        for part in expression.split(","):
            if part in ("_all", "*"):
                part = "*"
            if part in self.data_streams:
                names.extend(self.data_streams[part].indices)
            elif "*" in part:
                for name in sorted(self.indices):
                    if not name.startswith(".") and fnmatch.fnmatchcase(name, part):
                        names.append(name)
                for stream in sorted(self.data_streams):
                    if fnmatch.fnmatchcase(stream, part):
                        names.extend(self.data_streams[stream].indices)
            elif part in self.indices:
                names.append(part)
        return list(dict.fromkeys(names))

    def documents(self, index: str | None = None) -> list[JSON]:
        names = self.resolve(index) if index is not None else sorted(self.indices)
        return [doc for n in names for doc in self.indices[n].docs.values()]

    def count(self, index: str | None = None) -> int:
        return len(self.documents(index))

    def id_counts(self, index: str | None = None) -> collections.Counter[str]:
        """How many times each ``_id`` was written (an ``index`` over an existing one counts)."""
        names = set(self.resolve(index)) if index is not None else None
        return collections.Counter(a.id for a in self.arrivals if names is None or a.index in names)

    def bulk_requests(self) -> list[RequestRecord]:
        return [r for r in self.requests if r.path.endswith("/_bulk")]

    # ------------------------------------------------------------------ routing
    def _json(self, status: int, data: Any, query: dict[str, str] | None = None) -> Response:
        if query and "filter_path" in query and isinstance(data, dict):
            data = filter_path(data, query["filter_path"])
        return self._raw(status, orjson.dumps(data))

    def _raw(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> Response:
        out = dict(headers or {})
        if self.product_header:
            out["X-Elastic-Product"] = "Elasticsearch"
        return Response(status, body, out)

    def _error(self, status: int, etype: str, reason: str, **extra: Any) -> Response:
        error = {"root_cause": [{"type": etype, "reason": reason}], "type": etype, "reason": reason}
        error.update(extra)
        return self._json(status, {"error": error, "status": status})

    async def _handle(self, request: Request) -> Response:
        record = RequestRecord(
            request.method, request.path, request.query, request.headers, len(request.body)
        )
        self.requests.append(record)
        response = await self._route(request, record)
        record.status = response.status
        return response

    async def _route(self, request: Request, record: RequestRecord) -> Response:
        denied = self._check_auth(request)
        if denied is not None:
            return denied
        path = request.path
        if self.path_prefix:
            if not path.startswith(self.path_prefix):
                return self._error(404, "not_found", f"no route {path} (prefix expected)")
            path = path[len(self.path_prefix) :]
        parts = [p for p in path.split("/") if p]
        method = request.method
        if not parts:
            if method in ("GET", "HEAD"):
                return self._json(200, self._root())
            return self._error(405, "method_not_allowed", f"{method} / is not allowed")
        if parts[-1] == "_bulk" and method in ("POST", "PUT"):
            return await self._bulk(request, record, parts[0] if len(parts) == 2 else None)
        if parts[0] == "_index_template" and len(parts) == 2:
            return self._template(request, parts[1], self.templates)
        if parts[0] == "_template" and len(parts) == 2:
            return self._template(request, parts[1], self.legacy_templates)
        if parts[:2] == ["_ilm", "policy"] and len(parts) in (2, 3):
            return self._policy(request, parts[2] if len(parts) == 3 else None)
        if parts[0] == "_data_stream" and len(parts) in (1, 2):
            return self._data_stream(request, parts[1] if len(parts) == 2 else None)
        if len(parts) == 2 and parts[1] == "_rollover" and method == "POST":
            return self._rollover(parts[0])
        if len(parts) in (2, 3) and parts[1] in ("_doc", "_create"):
            return self._index_api(request, parts)
        if parts[:2] == ["_ingest", "pipeline"] and len(parts) == 3 and method == "PUT":
            self.pipelines.add(parts[2])
            return self._json(200, {"acknowledged": True})
        if len(parts) == 2 and parts[1] in ("_count", "_refresh"):
            name = parts[0]
            if parts[1] == "_refresh":
                return self._json(200, {"_shards": {"total": 1, "successful": 1, "failed": 0}})
            query: Any = {"match_all": {}}
            if request.body:
                try:
                    query = orjson.loads(request.body).get("query", query)
                except (orjson.JSONDecodeError, AttributeError):
                    return self._error(400, "parse_exception", "request body is not an object")
            try:
                hits = sum(1 for doc in self.documents(name) if matches(doc, query))
            except ValueError as exc:
                return self._error(400, "parsing_exception", str(exc))
            return self._json(200, {"count": hits})
        if len(parts) == 2 and parts[1] == "_mapping":
            state = self.indices.get(parts[0])
            if state is None:
                return self._error(404, "index_not_found_exception", f"no such index [{parts[0]}]")
            return self._json(200, {parts[0]: {"mappings": unflatten(state.mappings)}})
        return self._error(400, "illegal_argument_exception", f"no handler for {request.path}")

    def _root(self) -> JSON:
        version: JSON = {
            "number": self.version,
            "build_flavor": self.build_flavor,
            "build_type": "docker",
            "build_hash": "0" * 40,
            "build_date": "2024-08-05T10:05:34.233336849Z",
            "build_snapshot": False,
            "lucene_version": "9.11.1",
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0",
        }
        if self.distribution:
            version["distribution"] = self.distribution
        return {
            "name": "emulator",
            "cluster_name": "emulated",
            "cluster_uuid": "eMuLaToRcLuStErUuId00",
            "version": version,
            "tagline": "You Know, for Search",
        }

    def _check_auth(self, request: Request) -> Response | None:
        if self.users is None and self.api_keys is None and not self.forbidden:
            return None
        challenge = {"WWW-Authenticate": 'Basic realm="security" charset="UTF-8", ApiKey'}
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        ok = False
        if scheme.lower() == "basic" and self.users is not None:
            try:
                user, _, password = base64.b64decode(value).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                user, password = "", None  # type: ignore[assignment]
            ok = self.users.get(user) == password
        elif scheme.lower() == "apikey" and self.api_keys is not None:
            try:
                ok = base64.b64decode(value).decode() in self.api_keys
            except (ValueError, UnicodeDecodeError):
                ok = False
        elif self.users is None and self.api_keys is None:
            ok = True
        if not ok:
            reason = (
                "missing authentication credentials for REST request"
                if not header
                else "unable to authenticate with provided credentials"
            )
            response = self._error(401, "security_exception", reason)
            response.headers.update(challenge)
            return response
        if self.forbidden and request.path.endswith("/_bulk"):
            return self._error(
                403, "security_exception", "action [indices:data/write/bulk] is unauthorized"
            )
        return None

    # ---------------------------------------------------------------- templates
    def _template(self, request: Request, name: str, store: dict[str, JSON]) -> Response:
        if request.method in ("HEAD", "GET"):
            if name not in store:
                return self._json(404, {} if request.method == "HEAD" else {"error": "missing"})
            if request.method == "HEAD":
                return self._raw(200, b"")
            key = "index_templates" if store is self.templates else name
            return self._json(200, {key: [{"name": name, "index_template": store[name]}]})
        if request.method == "PUT":
            try:
                body = orjson.loads(request.body)
            except orjson.JSONDecodeError as exc:
                return self._error(400, "parse_exception", str(exc))
            if not isinstance(body, dict) or "index_patterns" not in body:
                return self._error(
                    400, "action_request_validation_exception", "index patterns are missing"
                )
            if store is self.templates:
                conflict = self._overlapping_template(name, body)
                if conflict is not None:
                    return self._error(400, "illegal_argument_exception", conflict)
            store[name] = body
            return self._json(200, {"acknowledged": True})
        if request.method == "DELETE":
            store.pop(name, None)
            return self._json(200, {"acknowledged": True})
        return self._error(405, "method_not_allowed", request.method)

    def _policy_json(self, name: str) -> JSON:
        return {
            "version": self.policy_versions[name],
            "modified_date": "2026-01-01T00:00:00.000Z",
            "policy": self.policies[name],
            "in_use_by": {
                "indices": [
                    i
                    for ds in self.data_streams.values()
                    for i in ds.indices
                    if self._lifecycle_of(ds) == name
                ],
                "data_streams": [
                    ds.name for ds in self.data_streams.values() if self._lifecycle_of(ds) == name
                ],
                "composable_templates": [
                    t for t, body in self.templates.items() if _lifecycle(body) == name
                ],
            },
        }

    def _lifecycle_of(self, stream: DataStream) -> str | None:
        template = self.templates.get(stream.template)
        return _lifecycle(template) if template is not None else None

    def _policy(self, request: Request, name: str | None) -> Response:
        if request.method == "GET":
            if name is None:
                return self._json(200, {n: self._policy_json(n) for n in sorted(self.policies)})
            if name not in self.policies:
                return self._error(
                    404, "resource_not_found_exception", f"Lifecycle policy not found: {name}"
                )
            return self._json(200, {name: self._policy_json(name)})
        if name is None:
            return self._error(405, "method_not_allowed", request.method)
        if request.method == "PUT":
            try:
                body = orjson.loads(request.body or b"{}")
            except orjson.JSONDecodeError as exc:
                return self._error(400, "x_content_parse_exception", str(exc))
            if not isinstance(body, dict) or not isinstance(body.get("policy"), dict):
                return self._error(400, "x_content_parse_exception", "Required [policy]")
            policy = body["policy"]
            unknown = set(policy.get("phases", {})) - {"hot", "warm", "cold", "frozen", "delete"}
            if unknown:
                return self._error(
                    400,
                    "illegal_argument_exception",
                    f"Timeseries lifecycle does not support phase [{sorted(unknown)[0]}]",
                )
            self.policies[name] = policy
            self.policy_versions[name] = self.policy_versions.get(name, 0) + 1
            return self._json(200, {"acknowledged": True})
        if request.method == "DELETE":
            if name not in self.policies:
                return self._error(
                    404, "resource_not_found_exception", f"Lifecycle policy not found: {name}"
                )
            del self.policies[name]
            return self._json(200, {"acknowledged": True})
        return self._error(405, "method_not_allowed", request.method)

    def _data_stream_json(self, stream: DataStream) -> JSON:
        out: JSON = {
            "name": stream.name,
            "timestamp_field": {"name": "@timestamp"},
            "indices": [
                {"index_name": i, "index_uuid": base64.urlsafe_b64encode(i.encode()).decode()[:22]}
                for i in stream.indices
            ],
            "generation": stream.generation,
            "status": "GREEN",
            "template": stream.template,
            "hidden": False,
            "system": False,
        }
        policy = self._lifecycle_of(stream)
        if policy is not None:
            out["ilm_policy"] = policy
        return out

    def _data_stream(self, request: Request, name: str | None) -> Response:
        if request.method == "GET":
            pattern = name or "*"
            found = [
                self.data_streams[n]
                for n in sorted(self.data_streams)
                if fnmatch.fnmatchcase(n, pattern)
            ]
            if not found and "*" not in pattern:
                return self._error(404, "index_not_found_exception", f"no such index [{name}]")
            return self._json(200, {"data_streams": [self._data_stream_json(d) for d in found]})
        if name is None:
            return self._error(405, "method_not_allowed", request.method)
        if request.method == "PUT":
            if name in self.data_streams:
                return self._error(
                    400,
                    "resource_already_exists_exception",
                    f"data_stream [{name}] already exists",
                )
            template = self._matching_template(name)
            if template is None or "data_stream" not in template:
                return self._error(
                    400,
                    "illegal_argument_exception",
                    f"no matching index template found for data stream [{name}]",
                )
            self._create_data_stream(name)
            return self._json(200, {"acknowledged": True})
        if request.method == "DELETE":
            stream = self.data_streams.pop(name, None)
            if stream is None:
                return self._error(404, "index_not_found_exception", f"no such index [{name}]")
            for index in stream.indices:
                self.indices.pop(index, None)
            return self._json(200, {"acknowledged": True})
        return self._error(405, "method_not_allowed", request.method)

    def _rollover(self, name: str) -> Response:
        """``POST <data stream>/_rollover`` (unconditional): a new write index, the next
        generation; what ILM's rollover action does."""
        stream = self.data_streams.get(name)
        if stream is None:
            return self._error(
                400, "illegal_argument_exception", f"rollover target [{name}] does not exist"
            )
        old = stream.write_index
        new = backing_index(name, stream.generation + 1)
        template = self.templates.get(stream.template)
        self._create_index(new, template).data_stream = True
        stream.indices.append(new)
        return self._json(
            200,
            {
                "acknowledged": True,
                "shards_acknowledged": True,
                "old_index": old,
                "new_index": new,
                "rolled_over": True,
                "dry_run": False,
                "conditions": {},
            },
        )

    def _create_data_stream(self, name: str) -> DataStream:
        template_name = next(
            t for t, body in self.templates.items() if body is self._matching_template(name)
        )
        stream = DataStream(name, template_name)
        index = backing_index(name, 1)
        stream.indices.append(index)
        self._create_index(index, self._matching_template(name)).data_stream = True
        self.data_streams[name] = stream
        return stream

    def _index_api(self, request: Request, parts: list[str]) -> Response:
        """``POST <target>/_doc``, ``PUT <target>/_doc/<id>[?op_type=create]``,
        ``PUT <target>/_create/<id>``: one document, the same rules as a bulk item."""
        if request.method not in ("POST", "PUT"):
            return self._error(405, "method_not_allowed", request.method)
        doc_id = parts[2] if len(parts) == 3 else None
        op_type = request.query.get("op_type")
        if op_type not in (None, "create", "index"):
            return self._error(
                400,
                "illegal_argument_exception",
                f"opType must be 'create' or 'index', found: [{op_type}]",
            )
        if parts[1] == "_create":
            action = "create"
        elif op_type is not None:
            action = op_type
        else:  # an auto-generated id is a create; an id without op_type overwrites
            action = "create" if doc_id is None else "index"
        try:
            source = orjson.loads(request.body)
        except orjson.JSONDecodeError as exc:
            return self._error(400, "mapper_parsing_exception", f"failed to parse: {exc}")
        if not isinstance(source, dict):
            return self._error(400, "mapper_parsing_exception", "failed to parse")
        item = self._apply(
            Operation(action, parts[0], doc_id, source, request.query.get("pipeline"))
        )
        status = int(item["status"])
        if "error" in item:
            return self._json(status, {"error": item["error"], "status": status})
        return self._json(status, {k: v for k, v in item.items() if k != "status"})

    def _overlapping_template(self, name: str, body: JSON) -> str | None:
        """Elasticsearch refuses a composable template whose patterns can match an index
        another template of the same priority matches (MetadataIndexTemplateService:
        "multiple index templates may not match during index creation")."""
        mine = _patterns(body)
        priority = int(body.get("priority") or 0)
        for other, template in self.templates.items():
            if other == name or int(template.get("priority") or 0) != priority:
                continue
            theirs = _patterns(template)
            if any(globs_overlap(a, b) for a in mine for b in theirs):
                return (
                    f"index template [{name}] has index patterns {mine} matching patterns from "
                    f"existing templates [{other}] with patterns ({other} => {theirs}) that have "
                    f"the same priority [{priority}], multiple index templates may not match "
                    "during index creation, please use a different priority"
                )
        return None

    def _matching_template(self, index: str) -> JSON | None:
        best: tuple[int, JSON] | None = None
        for template in self.templates.values():
            patterns = template.get("index_patterns", [])
            patterns = [patterns] if isinstance(patterns, str) else patterns
            if any(fnmatch.fnmatchcase(index, p) for p in patterns):
                priority = int(template.get("priority", 0))
                if best is None or priority > best[0]:
                    best = (priority, template)
        return best[1] if best else None

    def _create_index(self, name: str, template: JSON | None = None) -> IndexState:
        state = IndexState(name)
        template = template if template is not None else self._matching_template(name)
        if template is not None:
            mappings = template.get("template", {}).get("mappings", {})
            state.mappings = flatten_mapping(mappings.get("properties", {}))
            state.dynamic = mappings.get("dynamic", True)
            state.date_detection = bool(mappings.get("date_detection", True))
        self.indices[name] = state
        return state

    # --------------------------------------------------------------------- bulk
    async def _bulk(
        self, request: Request, record: RequestRecord, url_index: str | None
    ) -> Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in (
            "application/json",
            "application/x-ndjson",
            "application/vnd.elasticsearch+json",
            "application/vnd.elasticsearch+x-ndjson",
        ):
            return self._error(
                406,
                "media_type_header_exception",
                f"Content-Type header [{ctype}] is not supported",
            )
        body = request.body
        if request.headers.get("content-encoding", "").lower() == "gzip":
            try:
                body = zlib.decompress(body, 31)
            except zlib.error as exc:
                return self._error(400, "parse_exception", f"bad gzip body: {exc}")
        if len(body) > self.max_content_length:
            return Response(413, b"", {})
        if body and not body.endswith(b"\n"):
            return self._error(
                400,
                "illegal_argument_exception",
                "The bulk request must be terminated by a newline [\\n]",
            )
        if self.null_store:
            return self._null_bulk(body, request.query, record)
        try:
            operations = parse_bulk(body, url_index, request.query.get("pipeline"))
        except BulkSyntaxError as exc:
            return self._error(400, exc.etype, str(exc))
        record.items = len(operations)
        fault: Fault | None = None
        if self.faults:
            fault = self.faults.popleft()
        elif self.random_faults is not None:
            fault = self.random_faults.next(len(operations))
        if isinstance(fault, WholeFault):
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            body_out = fault.body
            if body_out is None:
                etype = "es_rejected_execution_exception" if fault.status == 429 else "emulated"
                body_out = orjson.dumps(
                    {"error": {"type": etype, "reason": "emulated"}, "status": fault.status}
                )
            response = self._raw(fault.status, body_out, headers)
            return response
        if isinstance(fault, Reset) and fault.stage == "before_commit":
            return Response(0, reset_before=True)
        item_faults = fault.statuses if isinstance(fault, ItemFaults) else {}
        started = asyncio.get_running_loop().time()
        items = []
        for position, op in enumerate(operations):
            status = item_faults.get(position)
            if status is not None:
                etype, reason = _ITEM_ERRORS.get(status, ("emulated_exception", "emulated"))
                items.append(
                    {
                        op.action: {
                            "_index": op.index,
                            "_id": op.id,
                            "status": status,
                            "error": {"type": etype, "reason": reason},
                        }
                    }
                )
                continue
            items.append({op.action: self._apply(op)})
        took = int((asyncio.get_running_loop().time() - started) * 1000)
        data: JSON = {"took": took, "errors": any("error" in next(iter(i.values())) for i in items)}
        if isinstance(fault, WrongItemCount):
            items = items[:-1]
        data["items"] = items
        if "filter_path" in request.query:
            data = filter_path(data, request.query["filter_path"])
        payload = orjson.dumps(data)
        response = self._raw(200, payload)
        if isinstance(fault, Truncated):
            response.body = payload[: max(1, len(payload) // 2)]
        elif isinstance(fault, DelayAfterCommit):
            response.delay = fault.seconds
        elif isinstance(fault, Reset):
            if fault.stage == "after_head":
                response.reset_after_head = True
            elif fault.stage == "mid_body":
                response.truncate_to = len(payload) // 2
            else:
                response.reset_before = True
        return response

    def _null_bulk(self, body: bytes, query: dict[str, str], record: RecordLike) -> Response:
        lines = body.count(b"\n")
        n = lines // 2
        first = body[: body.find(b"\n")] if body else b""
        op = "create" if first.startswith(b'{"create"') else "index"
        record.items = n
        self.null_items += n
        if "filter_path" in query:
            item = b'{"' + op.encode() + b'":{"status":201}}'
            payload = b'{"errors":false,"items":[' + b",".join([item] * n) + b"]}"
        else:
            item = (
                b'{"' + op.encode() + b'":{"_index":"null","_id":"emulated","_version":1,'
                b'"result":"created","_shards":{"total":1,"successful":1,"failed":0},'
                b'"_seq_no":0,"_primary_term":1,"status":201}}'
            )
            payload = b'{"took":1,"errors":false,"items":[' + b",".join([item] * n) + b"]}"
        return self._raw(200, payload)

    def _apply(self, op: Operation) -> JSON:
        """One bulk item against the stored state; the item's response object."""
        base: JSON = {"_index": op.index, "_id": op.id}
        if op.error is not None:
            return {**base, "status": 400, "error": op.error}
        invalid = _invalid_index_name(op.index)
        if invalid:
            return {
                **base,
                "status": 400,
                "error": {
                    "type": "invalid_index_name_exception",
                    "reason": f"Invalid index name [{op.index}], {invalid}",
                    "index": op.index,
                },
            }
        if op.index in self.flood_blocked:
            return {
                **base,
                "status": 429,
                "error": {
                    "type": "cluster_block_exception",
                    "reason": "index ["
                    + op.index
                    + "] blocked by: [TOO_MANY_REQUESTS/12/disk usage "
                    "exceeded flood-stage watermark, index has read-only-allow-delete block];",
                },
            }
        if op.pipeline and op.pipeline not in self.pipelines:
            return {
                **base,
                "status": 400,
                "error": {
                    "type": "illegal_argument_exception",
                    "reason": f"pipeline with id [{op.pipeline}] does not exist",
                },
            }
        stream = self.data_streams.get(op.index)
        state = self.indices.get(op.index)
        if stream is None and state is None:
            template = self._matching_template(op.index)
            if template is not None and "data_stream" in template:
                # the first write creates the data stream, but only a valid create does
                if op.action != "create":
                    return {
                        **base,
                        "status": 400,
                        "error": {"type": "illegal_argument_exception", "reason": DATA_STREAM_OP},
                    }
                if op.source is not None and "@timestamp" not in op.source:
                    return {
                        **base,
                        "status": 400,
                        "error": {
                            "type": self.mapping_error_type,
                            "reason": "data stream timestamp field [@timestamp] is missing",
                        },
                    }
                stream = self._create_data_stream(op.index)
            else:
                state = self._create_index(op.index)
        if stream is not None:
            state = self.indices[stream.write_index]
            base["_index"] = stream.write_index
        assert state is not None
        if stream is not None:
            if op.action != "create":
                return {
                    **base,
                    "status": 400,
                    "error": {
                        "type": "illegal_argument_exception",
                        "reason": DATA_STREAM_OP,
                    },
                }
            if op.source is not None and "@timestamp" not in op.source:
                return {
                    **base,
                    "status": 400,
                    "error": {
                        "type": self.mapping_error_type,
                        "reason": "data stream timestamp field [@timestamp] is missing",
                    },
                }
        doc_id = op.id or base64.urlsafe_b64encode(next(self._ids).to_bytes(12, "big")).decode()
        base["_id"] = doc_id
        exists = doc_id in state.docs
        if op.action == "delete":
            if not exists:
                return {**base, "status": 404, "result": "not_found"}
            del state.docs[doc_id]
            return {**base, "status": 200, "result": "deleted"}
        if op.action == "create" and exists:
            return {
                **base,
                "status": 409,
                "error": {
                    "type": "version_conflict_engine_exception",
                    "reason": f"[{doc_id}]: version conflict, document already exists "
                    f"(current version [{state.versions[doc_id]}])",
                    "index": op.index,
                },
            }
        source = op.source
        if op.action == "update":
            if not exists:
                return {
                    **base,
                    "status": 404,
                    "error": {
                        "type": "document_missing_exception",
                        "reason": f"[{doc_id}]: document missing",
                    },
                }
            source = {**state.docs[doc_id], **(source or {}).get("doc", {})}
        assert source is not None
        try:
            new_fields = self._check_mapping(state, source, doc_id)
        except MappingConflictError as exc:
            return {**base, "status": 400, "error": exc.error}
        state.mappings.update(new_fields)
        state.docs[doc_id] = source
        version = state.versions.get(doc_id, 0) + 1
        state.versions[doc_id] = version
        state.seq_no += 1
        self.arrivals.append(Arrival(state.name, doc_id, source, op.action))
        return {
            **base,
            "_version": version,
            "result": "updated" if exists else "created",
            "_shards": {"total": 2, "successful": 1, "failed": 0},
            "_seq_no": state.seq_no - 1,
            "_primary_term": 1,
            "status": 200 if exists else 201,
        }

    def _check_mapping(self, state: IndexState, source: JSON, doc_id: str) -> dict[str, str]:
        new: dict[str, str] = {}
        for path, value in _leaves(source):
            known = state.mappings.get(path) or new.get(path)
            if known is None:
                if state.dynamic == "strict":
                    raise MappingConflictError(
                        {
                            "type": "strict_dynamic_mapping_exception",
                            "reason": f"[1:2] mapping set to strict, dynamic introduction "
                            f"of [{path}] within [_doc] is not allowed",
                        }
                    )
                if value is not None:
                    new.update(_dynamic_types(path, value, state.date_detection))
                continue
            problem = _incompatible(known, value)
            if problem:
                preview = orjson.dumps(value).decode()[:50]
                raise MappingConflictError(
                    {
                        "type": self.mapping_error_type,
                        "reason": f"[1:2] failed to parse field [{path}] of type [{known}] in "
                        f"document with id '{doc_id}'. Preview of field's value: '{preview}'",
                        "caused_by": {"type": "illegal_argument_exception", "reason": problem},
                    }
                )
        return new


RecordLike = RequestRecord


# ----------------------------------------------------------------- bulk parsing
class BulkSyntaxError(Exception):
    def __init__(self, message: str, etype: str = "illegal_argument_exception") -> None:
        super().__init__(message)
        self.etype = etype


@dataclass
class Operation:
    action: str
    index: str
    id: str | None
    source: JSON | None
    pipeline: str | None
    error: JSON | None = None  # per-item error found while parsing (bad source JSON)


def parse_bulk(body: bytes, url_index: str | None, url_pipeline: str | None) -> list[Operation]:
    lines = body.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    operations: list[Operation] = []
    i = 0
    while i < len(lines):
        line_no = i + 1
        raw = lines[i].rstrip(b"\r")
        i += 1
        if not raw.strip():
            continue
        try:
            action_obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise BulkSyntaxError(
                f"Malformed action/metadata line [{line_no}], expected START_OBJECT",
                "parse_exception",
            ) from None
        if not isinstance(action_obj, dict) or len(action_obj) != 1:
            raise BulkSyntaxError(
                f"Malformed action/metadata line [{line_no}], expected START_OBJECT"
            )
        ((action, meta),) = action_obj.items()
        if action not in ("create", "index", "update", "delete"):
            raise BulkSyntaxError(
                f"Malformed action/metadata line [{line_no}], expected one of [create, delete, "
                f"index, update] but found [{action}]"
            )
        if not isinstance(meta, dict):
            raise BulkSyntaxError(f"Malformed action/metadata line [{line_no}]")
        index = meta.get("_index", url_index)
        if not index:
            raise BulkSyntaxError(
                "Validation Failed: 1: index is missing;", "action_request_validation_exception"
            )
        doc_id = meta.get("_id")
        source = None
        error = None
        if action != "delete":
            if i >= len(lines):
                raise BulkSyntaxError(
                    f"Validation Failed: source is missing for line [{line_no}]",
                    "action_request_validation_exception",
                )
            raw_source = lines[i]
            i += 1
            try:
                source = orjson.loads(raw_source)
                if not isinstance(source, dict):
                    raise orjson.JSONDecodeError("not an object", "", 0)
            except orjson.JSONDecodeError:
                error = {
                    "type": "mapper_parsing_exception",
                    "reason": "failed to parse",
                    "caused_by": {
                        "type": "not_x_content_exception",
                        "reason": "Compressor detection can only be called on some xcontent bytes",
                    },
                }
                source = None
        operations.append(
            Operation(
                action,
                str(index),
                None if doc_id is None else str(doc_id),
                source,
                meta.get("pipeline", url_pipeline),
                error,
            )
        )
    return operations


def matches(document: JSON, query: Any) -> bool:
    """The few queries a count needs: ``match_all``, ``exists``, ``term`` (dotted fields)."""
    if not isinstance(query, dict) or len(query) != 1:
        raise ValueError("query malformed, expected one query type")
    ((kind, body),) = query.items()
    if kind == "match_all":
        return True
    if kind == "exists" and isinstance(body, dict):
        return _field(document, str(body.get("field"))) is not None
    if kind == "term" and isinstance(body, dict) and len(body) == 1:
        ((name, wanted),) = body.items()
        if isinstance(wanted, dict):
            wanted = wanted.get("value")
        return bool(_field(document, name) == wanted)
    raise ValueError(f"unknown query [{kind}]")


def _field(document: Any, path: str) -> Any:
    node = document
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _lifecycle(template: JSON) -> str | None:
    settings = template.get("template", {}).get("settings", {})
    name = settings.get("index", {}).get("lifecycle", {}).get("name")
    if name is None:
        name = settings.get("index.lifecycle.name")
    return name if isinstance(name, str) else None


def _invalid_index_name(name: str) -> str | None:
    if name != name.lower():
        return "must be lowercase"
    if name[:1] in ("_", "-", "+"):
        return "must not start with '_', '-', or '+'"
    if any(c in name for c in ' "*\\<|,>/?#:'):
        return 'must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]'
    return None


# ------------------------------------------------------------------- mappings
def _patterns(template: JSON) -> list[str]:
    patterns = template.get("index_patterns", [])
    return [patterns] if isinstance(patterns, str) else list(patterns)


def globs_overlap(a: str, b: str) -> bool:
    """Whether some index name matches both patterns (``*`` matches any run of characters;
    index patterns have no other wildcard)."""

    @functools.cache
    def meet(i: int, j: int) -> bool:
        if i == len(a) or j == len(b):
            rest = a[i:] + b[j:]  # what is left must be able to match nothing
            return set(rest) <= {"*"}
        if a[i] == "*" or b[j] == "*":
            # a star stays to take more, or stops here (and, facing a star, takes it whole)
            return (a[i] == "*" and (meet(i + 1, j) or meet(i, j + 1))) or (
                b[j] == "*" and (meet(i, j + 1) or meet(i + 1, j))
            )
        return a[i] == b[j] and meet(i + 1, j + 1)

    return meet(0, 0)


def flatten_mapping(properties: JSON, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        if not isinstance(spec, dict):
            continue
        if "properties" in spec:
            out[path] = spec.get("type", "object")
            out.update(flatten_mapping(spec["properties"], path + "."))
        else:
            out[path] = spec.get("type", "object")
    return out


def unflatten(mappings: dict[str, str]) -> JSON:
    root: JSON = {"properties": {}}
    for path in sorted(mappings):
        node = root
        parts = path.split(".")
        for part in parts[:-1]:
            node = node["properties"].setdefault(part, {"properties": {}})
            node.setdefault("properties", {})
        leaf = node["properties"].setdefault(parts[-1], {})
        if mappings[path] == "object":
            leaf.setdefault("properties", {})
        else:
            leaf["type"] = mappings[path]
    return root


def _leaves(document: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(path, value) for every value, objects included (so a scalar where an object is
    mapped, and the reverse, are seen); list members share their path."""
    out: list[tuple[str, Any]] = []
    if isinstance(document, dict):
        for key, value in document.items():
            path = f"{prefix}{key}"
            if isinstance(value, list):
                for member in value:
                    out.append((path, member))
                    if isinstance(member, dict):
                        out.extend(_leaves(member, path + "."))
            else:
                out.append((path, value))
                if isinstance(value, dict):
                    out.extend(_leaves(value, path + "."))
    return out


def _dynamic_types(path: str, value: Any, date_detection: bool) -> dict[str, str]:
    if isinstance(value, dict):
        return {path: "object"}
    if isinstance(value, bool):
        return {path: "boolean"}
    if isinstance(value, int):
        return {path: "long"}
    if isinstance(value, float):
        return {path: "float"}
    if isinstance(value, str):
        if date_detection and _DATE.match(value):
            return {path: "date"}
        return {path: "keyword"}
    return {}


def _incompatible(mapped: str, value: Any) -> str | None:
    """Why ``value`` cannot go into a field of type ``mapped`` (None: it can)."""
    if value is None:
        return None
    if mapped in ("object", "nested", "flattened"):
        if isinstance(value, dict) or mapped == "flattened":
            return None
        return "object mapping tried to parse field as object, but found a concrete value"
    if isinstance(value, dict):
        return f"tried to parse field as {mapped}, but found an object"
    if mapped in _INTEGER_TYPES or mapped in _FLOAT_TYPES:
        if isinstance(value, bool):
            return "Current token (VALUE_TRUE) not numeric, can not use numeric value accessors"
        if isinstance(value, int | float):
            return None
        if isinstance(value, str) and _NUMBER.match(value):
            return None
        return f'For input string: "{value}"'
    if mapped in _STRING_TYPES:
        return None
    if mapped == "boolean":
        if isinstance(value, bool) or value in ("true", "false", ""):
            return None
        return f"Failed to parse value [{value}] as only [true] or [false] are allowed."
    if mapped in ("date", "date_nanos"):
        if isinstance(value, int) and not isinstance(value, bool):
            return None
        if isinstance(value, str) and (_DATE.match(value) or value.isdigit()):
            return None
        return (
            f"failed to parse date field [{value}] with format "
            "[strict_date_optional_time||epoch_millis]"
        )
    if mapped == "ip":
        return None if isinstance(value, str) else f"'{value}' is not an IP string literal."
    return None


# ---------------------------------------------------------------- filter_path
def filter_path(data: Any, spec: str) -> Any:
    """Elasticsearch's ``filter_path``: keep only the listed dotted paths (``*`` matches one
    level, ``**`` any number); lists are transparent."""
    patterns = [p.split(".") for p in spec.split(",") if p]
    kept = _filter(data, patterns)
    return kept if kept is not None else {}


def _filter(node: Any, patterns: list[list[str]]) -> Any:
    if any(not p for p in patterns):
        return node
    if isinstance(node, list):
        members = [_filter(member, patterns) for member in node]
        members = [m for m in members if m is not None]
        return members or None
    if not isinstance(node, dict):
        return None
    out = {}
    for key, value in node.items():
        nxt: list[list[str]] = []
        for p in patterns:
            head = p[0]
            if head == "**":
                nxt.append(p)  # ** stays for deeper levels
                if len(p) > 1 and fnmatch.fnmatchcase(key, p[1]):
                    nxt.append(p[2:])
            elif fnmatch.fnmatchcase(key, head):
                nxt.append(p[1:])
        if nxt:
            kept = _filter(value, nxt)
            if kept is not None:
                out[key] = kept
    return out or None


# ---------------------------------------------------------------------- main
async def _serve(args: argparse.Namespace) -> None:
    emulator = ElasticsearchEmulator(
        version=args.version, null_store=args.null_store, max_runtime=args.max_runtime
    )
    await emulator.start(args.port)
    print(orjson.dumps({"url": emulator.url, "port": emulator.port}).decode(), flush=True)
    await asyncio.sleep(args.max_runtime)
    await emulator.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--version", default="8.15.0")
    parser.add_argument("--null-store", action="store_true")
    parser.add_argument("--max-runtime", type=float, default=600.0)
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
