"""``sorabeat setup --index-management``: load the lifecycle policy and the index template
into Elasticsearch, as metricbeat 8 does: the policy first (the template names it), then a
composable template with ``data_stream: {}`` whose pattern is the data stream's name. The
data stream itself is created by the first ``create`` into it."""

from __future__ import annotations

import fnmatch
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from sorabeat.credentials import reply_head
from sorabeat.es.bulk import CURRENT_ES, ServerInfo
from sorabeat.es.client import ElasticsearchHost
from sorabeat.es.fields import load_fields
from sorabeat.es.format import EventFormat, FormatError
from sorabeat.es.hosts import parse_host_url
from sorabeat.es.output import agent_fields
from sorabeat.es.response import error_reason
from sorabeat.es.root import RootError
from sorabeat.es.routing import default_index, writes_data_stream
from sorabeat.es.settings import (
    DEFAULT_TEMPLATE_NAME,
    ElasticsearchSettings,
    IlmSettings,
    TemplateSettings,
)
from sorabeat.es.template import build_template, template_path
from sorabeat.event import AgentInfo, format_timestamp
from sorabeat.tls import TLSConfigError

log = logging.getLogger("sorabeat.elasticsearch")
Write = Callable[[str], None]


class SetupError(Exception):
    """A setup step failed; the message says which and why."""


# metricbeat 8's default policy: roll the backing index over at 50gb per primary shard or
# after 30 days, keep everything (deleting is the user's decision)
DEFAULT_POLICY: dict[str, Any] = {
    "policy": {
        "phases": {
            "hot": {
                "min_age": "0ms",
                "actions": {"rollover": {"max_primary_shard_size": "50gb", "max_age": "30d"}},
            }
        }
    }
}


def load_policy(ilm: IlmSettings) -> dict[str, Any]:
    """The policy body: ``policy_file`` read and checked, or the default. Raises SetupError."""
    if ilm.policy_file is None:
        return DEFAULT_POLICY
    try:
        with open(ilm.policy_file, "rb") as f:
            data = orjson.loads(f.read())
    except OSError as exc:
        raise SetupError(
            f"setup.ilm.policy_file: cannot read {ilm.policy_file}: {exc.strerror}"
        ) from None
    except orjson.JSONDecodeError as exc:
        raise SetupError(f"setup.ilm.policy_file: {ilm.policy_file} is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("policy"), dict):
        raise SetupError(
            f"setup.ilm.policy_file: {ilm.policy_file} must hold an object with a "
            '"policy" object, like {"policy": {"phases": {...}}}'
        )
    return data


def template_names(
    template: TemplateSettings, agent: AgentInfo, data_stream: bool = False
) -> tuple[str, str]:
    """(name, pattern) with the agent fields resolved; both must be constant. The default
    pattern is the name itself for the data stream (a wider one would turn the daily
    indices into data streams too), else the name followed by ``-*``."""
    pattern = template.pattern
    if pattern is None:
        pattern = template.name if data_stream else template.name + "-*"
    out = []
    for key, text in (("name", template.name), ("pattern", pattern)):
        try:
            value = EventFormat(text, agent_fields(agent)).value
        except FormatError as exc:
            raise SetupError(f"setup.template.{key}: {exc}") from None
        if value is None:
            raise SetupError(
                f"setup.template.{key} {text!r} may only use agent fields, not dates or "
                "event fields"
            )
        out.append(value)
    return out[0], out[1]


def pinned_template(
    template: TemplateSettings,
    agent: AgentInfo,
    metadata_version: str | None,
    beat: str | None = None,
) -> tuple[str, str] | None:
    """(name, pattern) of the template for the indices Logstash's documented pipeline
    writes (``%{[@metadata][beat]}-%{[@metadata][version]}-%{+YYYY.MM.dd}``) when
    ``metadata_version`` pins ``@metadata.version`` away from sorabeat's own version: without
    it those indices get dynamic mappings (``service.address`` as text) although the data
    view ``sorabeat-*`` shows them.

    Its own template, named after the pinned version rather than a second pattern in the
    main one: composable templates of equal priority must not overlap, and the main one is
    renamed at every sorabeat upgrade while this one is simply replaced. None when nothing
    is pinned, when the pin names sorabeat's version, or when ``setup.template.name`` or
    ``pattern`` is the user's own (then the user decides what matches).
    """
    if metadata_version is None or template.pattern is not None:
        return None
    if template.name != DEFAULT_TEMPLATE_NAME:
        return None
    beat = (beat or agent.type).lower()  # @metadata.beat: output.logstash.index, lowercased
    name = f"{beat}-{metadata_version}"
    if name == template_names(template, agent)[0]:
        return None
    pattern = f"{name}-*"
    for key, text in (("metadata_version", metadata_version), ("output.logstash.index", beat)):
        if not text or any(c in text for c in '*?,"<>|/\\ #:'):
            raise SetupError(f"{key} {text!r} cannot be part of an index template's name")
    return name, pattern


def render_template(
    template: TemplateSettings,
    agent: AgentInfo,
    server: ServerInfo = CURRENT_ES,
    ilm: IlmSettings | None = None,
    index: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """(template name, body) from the packaged fields.yml; for the data stream when
    ``output.elasticsearch.index`` (``index``) is unset, ILM is enabled and the cluster
    has both."""
    data_stream = writes_data_stream(index, ilm is not None and ilm.enabled, server)
    name, pattern = template_names(template, agent, data_stream)
    lifecycle = ilm.policy_name if data_stream and ilm is not None else None
    return name, _template_body(template, agent, server, pattern, data_stream, lifecycle)


def _template_body(
    template: TemplateSettings,
    agent: AgentInfo,
    server: ServerInfo,
    pattern: str,
    data_stream: bool = False,
    lifecycle: str | None = None,
) -> dict[str, Any]:
    return build_template(
        load_fields(),
        pattern=pattern,
        version=agent.version,
        user_settings=template.settings,
        server=server,
        data_stream=data_stream,
        lifecycle=lifecycle,
    )


def index_pattern_warning(
    es: ElasticsearchSettings, pattern: str, agent: AgentInfo, data_stream: bool = False
) -> str | None:
    """A warning when today's index name would escape the template's pattern."""
    try:
        fmt = EventFormat(default_index(es.index, data_stream), agent_fields(agent))
    except FormatError:
        return None
    if fmt.needs_event:
        return None
    index = fmt.render(format_timestamp(int(time.time() * 1000)))
    if fnmatch.fnmatchcase(index, pattern):
        return None
    return (
        f"output.elasticsearch.index gives {index!r}, which setup.template.pattern {pattern!r} "
        "does not match: its fields would be mapped dynamically. Set setup.template.name "
        "and setup.template.pattern to match the index."
    )


async def _connect(
    hosts: list[ElasticsearchHost], write: Write
) -> tuple[ElasticsearchHost, ServerInfo]:
    problems = []
    for host in hosts:
        try:
            server = await host.connect()
        except (httpx.HTTPError, RootError) as exc:
            problems.append(f"{host.url}: {exc or type(exc).__name__}")
            continue
        write(
            f"Connected to {server.distribution} {'.'.join(map(str, server.version))} at {host.url}"
        )
        return host, server
    raise SetupError("cannot use Elasticsearch: " + "; ".join(problems))


async def load_policy_into(host: ElasticsearchHost, ilm: IlmSettings, write: Write) -> None:
    """libbeat's order: with ``check_exists`` (and no ``overwrite``) GET the policy and
    keep an existing one; otherwise PUT it."""
    body = load_policy(ilm)
    path = f"/_ilm/policy/{ilm.policy_name}"
    if ilm.check_exists and not ilm.overwrite:
        exists = await host.client.get(path)
        if exists.status_code == 200:
            write(
                f"ILM policy {ilm.policy_name} already exists; not overwritten "
                "(setup.ilm.overwrite: true replaces it)"
            )
            return
        if exists.status_code != 404:
            raise SetupError(
                f"GET {path} answered {exists.status_code}: {_reason(exists.content)} "
                "(setup.ilm.check_exists: false skips this check)"
            )
    put = await host.client.put(path, content=orjson.dumps(body))
    if not 200 <= put.status_code < 300:
        raise SetupError(
            f"Elasticsearch refused the ILM policy {ilm.policy_name} ({put.status_code}): "
            f"{_reason(put.content)}"
        )
    write(f"Loaded ILM policy {ilm.policy_name}")


async def load_template(
    es: ElasticsearchSettings,
    template: TemplateSettings,
    agent: AgentInfo,
    write: Write,
    ilm: IlmSettings | None = None,
    metadata_version: str | None = None,
    beat: str | None = None,
) -> None:
    """The ILM policy when writing the data stream, then the template: HEAD it, PUT it when
    absent or ``overwrite``; then the template of the pinned ``metadata_version``'s daily
    indices (``pinned_template``). Raises SetupError."""
    ilm = ilm if ilm is not None else IlmSettings(enabled=False)
    if not template.enabled and not ilm.enabled:
        write("Index template loading is disabled (setup.template.enabled: false)")
        return
    try:
        hosts = [ElasticsearchHost(parse_host_url(h, es.protocol, es.path), es) for h in es.hosts]
    except TLSConfigError as exc:
        raise SetupError(str(exc)) from None
    try:
        host, server = await _connect(hosts, write)
        data_stream = writes_data_stream(es.index, ilm.enabled, server)
        if ilm.enabled and not data_stream:
            write(
                "ILM is not used: "
                + (
                    "output.elasticsearch.index is set, so events go to that index"
                    if es.index is not None
                    else f"{server.distribution} {'.'.join(map(str, server.version))} has no "
                    "data streams with ILM (Elasticsearch 7.9 or later); events go to daily "
                    "indices"
                )
            )
        if data_stream:
            await load_policy_into(host, ilm, write)
        if not template.enabled:
            write("Index template loading is disabled (setup.template.enabled: false)")
            return
        name, body = render_template(template, agent, server, ilm, es.index)
        warning = index_pattern_warning(es, body["index_patterns"][0], agent, data_stream)
        if warning:
            write(f"Warning: {warning}")
        await _put_template(host, server, name, body, template.overwrite, write, data_stream)
        pinned = pinned_template(template, agent, metadata_version, beat)
        if pinned is not None:
            pinned_name, pinned_pattern = pinned
            pinned_body = _template_body(template, agent, server, pinned_pattern)
            await _put_template(
                host, server, pinned_name, pinned_body, template.overwrite, write, False
            )
    except httpx.HTTPError as exc:
        raise SetupError(f"Elasticsearch request failed: {exc or type(exc).__name__}") from None
    finally:
        for host in hosts:
            await host.close()


async def _put_template(
    host: ElasticsearchHost,
    server: ServerInfo,
    name: str,
    body: dict[str, Any],
    overwrite: bool,
    write: Write,
    data_stream: bool,
) -> None:
    path = template_path(name, server)
    exists = await host.client.head(path)
    if exists.status_code == 200 and not overwrite:
        write(
            f"Index template {name} already exists; not overwritten "
            "(setup.template.overwrite: true replaces it)"
        )
        return
    if exists.status_code not in (200, 404):
        raise SetupError(f"HEAD {path} answered {exists.status_code}")
    put = await host.client.put(path, content=orjson.dumps(body))
    if not 200 <= put.status_code < 300:
        raise SetupError(
            f"Elasticsearch refused the template {name} ({put.status_code}): {_reason(put.content)}"
        )
    stream = ", data stream" if data_stream else ""
    write(f"Loaded index template {name} (pattern {body['index_patterns'][0]}{stream})")


def _reason(body: bytes) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return reply_head(body, 200)
    if isinstance(data, dict) and "error" in data:
        reason = error_reason(data["error"])
        return reason if len(reason) <= 300 else reason[:300] + "..."
    return reply_head(body, 200)
