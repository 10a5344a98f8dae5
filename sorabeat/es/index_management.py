"""``sorabeat setup --index-management``: load the index template into Elasticsearch."""

from __future__ import annotations

import fnmatch
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from sorabeat.es.bulk import CURRENT_ES, ServerInfo
from sorabeat.es.client import ElasticsearchHost
from sorabeat.es.fields import load_fields
from sorabeat.es.format import EventFormat, FormatError
from sorabeat.es.hosts import parse_host
from sorabeat.es.output import agent_fields
from sorabeat.es.response import error_reason
from sorabeat.es.root import RootError
from sorabeat.es.settings import ElasticsearchSettings, TemplateSettings
from sorabeat.es.template import build_template, template_path
from sorabeat.event import AgentInfo, format_timestamp
from sorabeat.tls import TLSConfigError

log = logging.getLogger("sorabeat.elasticsearch")
Write = Callable[[str], None]


class SetupError(Exception):
    """A setup step failed; the message says which and why."""


def template_names(template: TemplateSettings, agent: AgentInfo) -> tuple[str, str]:
    """(name, pattern) with the agent fields resolved; both must be constant."""
    out = []
    for key, text in (("name", template.name), ("pattern", template.pattern)):
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


def render_template(
    template: TemplateSettings, agent: AgentInfo, server: ServerInfo = CURRENT_ES
) -> tuple[str, dict[str, Any]]:
    """(template name, body) from the packaged fields.yml."""
    name, pattern = template_names(template, agent)
    body = build_template(
        load_fields(),
        pattern=pattern,
        version=agent.version,
        user_settings=template.settings,
        server=server,
    )
    return name, body


def index_pattern_warning(es: ElasticsearchSettings, pattern: str, agent: AgentInfo) -> str | None:
    """A warning when today's index name would escape the template's pattern."""
    try:
        fmt = EventFormat(es.index, agent_fields(agent))
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


async def load_template(
    es: ElasticsearchSettings, template: TemplateSettings, agent: AgentInfo, write: Write
) -> None:
    """HEAD the template; PUT it when absent or ``overwrite``. Raises SetupError."""
    if not template.enabled:
        write("Index template loading is disabled (setup.template.enabled: false)")
        return
    try:
        hosts = [ElasticsearchHost(parse_host(h, es.protocol, es.path), es) for h in es.hosts]
    except TLSConfigError as exc:
        raise SetupError(str(exc)) from None
    try:
        host, server = await _connect(hosts, write)
        name, body = render_template(template, agent, server)
        warning = index_pattern_warning(es, body["index_patterns"][0], agent)
        if warning:
            write(f"Warning: {warning}")
        path = template_path(name, server)
        exists = await host.client.head(path)
        if exists.status_code == 200 and not template.overwrite:
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
                f"Elasticsearch refused the template {name} ({put.status_code}): "
                f"{_reason(put.content)}"
            )
        write(f"Loaded index template {name} (pattern {body['index_patterns'][0]})")
    except httpx.HTTPError as exc:
        raise SetupError(f"Elasticsearch request failed: {exc or type(exc).__name__}") from None
    finally:
        for host in hosts:
            await host.close()


def _reason(body: bytes) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:200].decode("utf-8", "replace")
    if isinstance(data, dict) and "error" in data:
        reason = error_reason(data["error"])
        return reason if len(reason) <= 300 else reason[:300] + "..."
    return body[:200].decode("utf-8", "replace")
