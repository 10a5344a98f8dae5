"""``output.elasticsearch``: libbeat's Elasticsearch output options with its 8.x defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from sorabeat.config.schema import PositiveSeconds, Range, header_problems, setting
from sorabeat.es.format import EventFormat, FormatError
from sorabeat.es.hosts import parse_host_url
from sorabeat.es.rules import RoutingError, compile_rule
from sorabeat.outputs.backoff import BackoffSettings
from sorabeat.proxy.http import proxy_url_problem
from sorabeat.tls import TLSSettings

DEFAULT_INDEX = "sorabeat-%{[agent.version]}-%{+yyyy.MM.dd}"
DATA_STREAM = "sorabeat-%{[agent.version]}"
DEFAULT_TEMPLATE_NAME = "sorabeat-%{[agent.version]}"


@dataclass(frozen=True)
class IndexRule:
    index: str | None = setting(None, doc="Index for events the rule matches (a format string).")
    mappings: dict[str, str] = setting(
        factory=dict, doc="With mappings, index is a key looked up here; the value is the index."
    )
    default: str | None = setting(None, doc="The index when the key is not in mappings.")
    when: dict[str, Any] | None = setting(
        None, doc="Condition (equals, contains, regexp, range, has_fields, or, and, not)."
    )


@dataclass(frozen=True)
class PipelineRule:
    pipeline: str | None = setting(
        None, doc="Ingest pipeline for events the rule matches (a format string)."
    )
    mappings: dict[str, str] = setting(
        factory=dict,
        doc="With mappings, pipeline is a key looked up here; the value is the pipeline.",
    )
    default: str | None = setting(None, doc="The pipeline when the key is not in mappings.")
    when: dict[str, Any] | None = setting(
        None, doc="Condition (equals, contains, regexp, range, has_fields, or, and, not)."
    )


@dataclass(frozen=True)
class DeadLetterIndex:
    index: str = setting(doc="Index receiving events Elasticsearch refused with a 4xx.")


@dataclass(frozen=True)
class NonIndexablePolicy:
    drop: dict[str, Any] | None = setting(
        None, doc="Drop refused events, with a warning (default)."
    )
    dead_letter_index: DeadLetterIndex | None = setting(
        None, doc="Send refused events to this index instead of dropping them."
    )


@dataclass(frozen=True)
class ElasticsearchSettings:
    enabled: bool = setting(True, doc="Index events through the _bulk API.")
    hosts: list[str] = setting(factory=list, doc="Elasticsearch endpoints (port 9200 by default).")
    protocol: Literal["http", "https"] = setting("http", doc="Scheme of hosts given without one.")
    path: str = setting("", doc="Path prefix of every request (behind a reverse proxy).")
    loadbalance: bool = setting(True, doc="Spread bulk requests over all hosts.")
    worker: Annotated[int, Range(1, 64)] = setting(
        1, aliases=("workers",), doc="Parallel bulk requests per host."
    )
    bulk_max_size: Annotated[int, Range(1)] = setting(1600, doc="Most events in one _bulk request.")
    compression_level: Annotated[int, Range(0, 9)] = setting(1, doc="gzip level; 0 disables.")
    escape_html: bool = setting(False, doc="Escape <, > and & in JSON strings (\\u003c...).")
    timeout: PositiveSeconds = setting(90.0, doc="HTTP timeout of one request.")
    max_retries: int = setting(
        3,
        doc="Accepted for metricbeat compatibility. Events stay in the spool until indexed or "
        "refused for good: sorabeat never drops them for transport errors.",
    )
    backoff: BackoffSettings = setting(factory=BackoffSettings, doc="Retry backoff.")
    username: str | None = setting(None, doc="Basic auth user.")
    password: str | None = setting(None, secret=True, doc="Basic auth password.")
    api_key: str | None = setting(None, secret=True, doc="API key as id:key.")
    headers: dict[str, str] = setting(factory=dict, doc="Extra HTTP headers.")
    proxy_url: str | None = setting(
        None,
        doc="HTTP proxy, http(s)://[user:password@]host:port (CONNECT for https hosts); "
        "default: the HTTP_PROXY/HTTPS_PROXY/NO_PROXY environment.",
    )
    proxy_disable: bool = setting(
        False, doc="No proxy at all: ignore proxy_url and the proxy environment variables."
    )
    proxy_headers: dict[str, str] = setting(
        factory=dict, doc="Headers sent to the proxy (the CONNECT request too); secret."
    )
    parameters: dict[str, str] = setting(factory=dict, doc="Extra query parameters of _bulk.")
    pipeline: str | None = setting(None, doc="Ingest pipeline (a format string).")
    index: str | None = setting(
        None,
        doc="Target index (a format string). Default: the data stream "
        "sorabeat-%{[agent.version]} when setup.ilm.enabled and the cluster is Elasticsearch "
        "7.9 or later, else the daily index sorabeat-%{[agent.version]}-%{+yyyy.MM.dd}.",
    )
    indices: list[IndexRule] = setting(
        factory=list,
        doc="Per-event index rules, first match wins; @metadata._index wins over them, "
        "index is the fallback.",
    )
    pipelines: list[PipelineRule] = setting(
        factory=list,
        doc="Per-event ingest pipeline rules, first match wins; @metadata.pipeline wins "
        "over them, pipeline is the fallback.",
    )
    document_id: Literal["auto", "deterministic"] = setting(
        "auto",
        doc="deterministic: _id from metricset, host, @timestamp and connection id, so a "
        "batch replayed after an ambiguous timeout yields 409s instead of duplicates.",
    )
    non_indexable_policy: NonIndexablePolicy = setting(
        factory=NonIndexablePolicy, doc="What happens to events refused with a 4xx."
    )
    ssl: TLSSettings = setting(factory=TLSSettings, doc="TLS to Elasticsearch.")

    def problems(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.enabled and not self.hosts:
            out.append(("hosts", "at least one host is needed"))
        if self.api_key is not None and (self.username or self.password):
            out.append(("api_key", "set either api_key or username/password, not both"))
        out.extend(header_problems(self.headers))
        out.extend(header_problems(self.proxy_headers, "proxy_headers"))
        if self.proxy_url and not self.proxy_disable:
            problem = proxy_url_problem(self.proxy_url)
            if problem:
                out.append(("proxy_url", problem))
        # a configured Authorization header would silently replace the other credentials
        header_auth = any(name.lower() == "authorization" for name in self.headers)
        if header_auth and (self.api_key is not None or self.username is not None):
            out.append(("headers", "Authorization and username or api_key are both set; keep one"))
        policy = self.non_indexable_policy
        if policy.drop is not None and policy.dead_letter_index is not None:
            out.append(("non_indexable_policy", "set either drop or dead_letter_index"))
        for i, host in enumerate(self.hosts):
            try:
                url = parse_host_url(host, self.protocol, self.path)
            except ValueError as exc:
                out.append((f"hosts.{i}", str(exc)))
                continue
            if header_auth and url.username is not None:
                out.append(
                    (
                        f"hosts.{i}",
                        "user:password@ in the URL and headers.Authorization are both set; "
                        "keep one",
                    )
                )
        formats = {"index": self.index, "pipeline": self.pipeline}
        if policy.dead_letter_index is not None:
            formats["non_indexable_policy.dead_letter_index.index"] = policy.dead_letter_index.index
        for key, text in formats.items():
            if text is None:
                continue
            try:
                compiled = EventFormat(text, {"agent.version": "x"})
            except FormatError as exc:
                out.append((key, str(exc)))
                continue
            if key.endswith("dead_letter_index.index") and compiled.needs_event:
                out.append((key, "may reference agent fields and dates only, not event fields"))
        out.extend(rule_problems(self))
        return out


def rule_problems(es: ElasticsearchSettings) -> list[tuple[str, str]]:
    """What is wrong in ``indices`` and ``pipelines``: formats, mappings, conditions."""
    out: list[tuple[str, str]] = []
    rules: list[tuple[str, IndexRule | PipelineRule]] = [
        *((f"indices.{i}", r) for i, r in enumerate(es.indices)),
        *((f"pipelines.{i}", r) for i, r in enumerate(es.pipelines)),
    ]
    for key, rule in rules:
        try:
            if isinstance(rule, IndexRule):
                compile_rule("index", rule.index, rule, {"agent.version": "x"})
            else:
                compile_rule("pipeline", rule.pipeline, rule, {"agent.version": "x"})
        except RoutingError as exc:
            out.append((key, str(exc)))
    return out


@dataclass(frozen=True)
class TemplateSettings:
    enabled: bool = setting(True, doc="Load the index template at setup.")
    name: str = setting(DEFAULT_TEMPLATE_NAME, doc="Template name.")
    pattern: str | None = setting(
        None,
        doc="Index pattern it applies to. Default: the template name when writing the data "
        "stream (the pattern must not match the daily indices), else the name followed by -*.",
    )
    overwrite: bool = setting(False, doc="Replace an existing template.")
    settings: dict[str, Any] = setting(factory=dict, doc="Extra index settings.")


@dataclass(frozen=True)
class IlmSettings:
    enabled: bool = setting(
        True,
        doc="Write the data stream sorabeat-<version> with a lifecycle policy (Elasticsearch "
        "7.9 or later); false, or OpenSearch or an older cluster: daily indices, no policy.",
    )
    policy_name: str = setting("sorabeat", doc="Name of the lifecycle policy.")
    policy_file: str | None = setting(
        None,
        doc='A JSON file with your own policy ({"policy": {"phases": ...}}); default: a hot '
        "phase rolling over at 50gb per primary shard or 30 days, as metricbeat 8.",
    )
    overwrite: bool = setting(False, doc="Replace an existing policy at setup.")
    check_exists: bool = setting(
        True,
        doc="Ask whether the policy exists before loading it; false (for a user without the "
        "read_ilm privilege) loads it every time.",
    )
