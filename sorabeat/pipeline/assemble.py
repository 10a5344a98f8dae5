"""Builds the pipeline's stages from the settings; the only module that knows them all."""

from __future__ import annotations

import logging
import os

from sorabeat.credentials import SecretScrubber
from sorabeat.event import AgentInfo, EnvelopeSettings
from sorabeat.monitoring.registry import Registry
from sorabeat.outputs.base import Output
from sorabeat.outputs.console import ConsoleOutput
from sorabeat.outputs.file import FileOutput
from sorabeat.pipeline.publish import Publisher
from sorabeat.pipeline.run import Pipeline
from sorabeat.pipeline.settings import LoadedSettings, Settings
from sorabeat.sora.hosts import parse_sora_host
from sorabeat.sora.input import SoraInput
from sorabeat.spool.base import Spool
from sorabeat.spool.memory import MemoryQueue
from sorabeat.spool.settings import SpoolSettings, spool_directory
from sorabeat.tls import TLSConfigError, client_context

log = logging.getLogger("sorabeat")

_UNVERIFIED = (
    "ssl.verification_mode is none: the server's certificate is not verified, so anyone on "
    "the network path can impersonate the server and read or change what is sent"
)


def startup_problems(loaded: LoadedSettings) -> list[str]:
    """What would stop ``run`` although the settings are valid: no module to poll, TLS files
    that cannot be loaded. ``test config`` reports the same, as metricbeat's builds modules."""
    settings = loaded.settings
    problems: list[str] = []
    if not settings.modules:
        problems.append(
            "no Sora module is enabled: add one to modules.d/ (see modules.d/sora.yml) "
            "or to sorabeat.modules"
        )
    for i, module in enumerate(settings.modules):
        https = any(parse_sora_host(h).https for h in module.hosts)
        if module.ssl.active(https):
            try:
                client_context(module.ssl)
            except TLSConfigError as exc:
                problems.append(f"sorabeat.modules.{i}.{exc}")
    name = output_name(settings) if settings.output.enabled() else None
    out = getattr(settings.output, name) if name in ("logstash", "elasticsearch") else None
    if out is not None and out.ssl.active():
        try:
            client_context(out.ssl)
        except TLSConfigError as exc:
            problems.append(f"output.{name}.{exc}")
    return problems


def insecure_tls_warnings(settings: Settings) -> list[str]:
    """One warning per output and per Sora module that uses TLS without verifying the server
    (only ``test output`` said so before: the run log was silent)."""
    warnings: list[str] = []
    for i, module in enumerate(settings.modules):
        https = any(parse_sora_host(h).https for h in module.hosts)  # http hosts use no TLS
        if https and module.ssl.active(https) and module.ssl.verification_mode == "none":
            warnings.append(f"sorabeat.modules.{i} ({', '.join(module.hosts)}): {_UNVERIFIED}")
    name = output_name(settings) if settings.output.enabled() else None
    out = settings.output
    if name == "logstash" and out.logstash is not None:
        tls_on = out.logstash.ssl.active()
        verification = out.logstash.ssl.verification_mode
    elif name == "elasticsearch" and out.elasticsearch is not None:
        from sorabeat.es.hosts import parse_host_url

        es = out.elasticsearch
        https = any(parse_host_url(h, es.protocol, es.path).scheme == "https" for h in es.hosts)
        tls_on = https and es.ssl.active(https)  # http hosts use no TLS
        verification = es.ssl.verification_mode
    else:
        return warnings
    if tls_on and verification == "none":
        warnings.append(f"output.{name}: {_UNVERIFIED}")
    return warnings


def output_name(settings: Settings) -> str:
    return settings.output.enabled()[0]


def envelope_settings(settings: Settings, agent: AgentInfo) -> EnvelopeSettings:
    beat = "sorabeat"
    document_ids = False
    logstash = settings.output.logstash
    elasticsearch = settings.output.elasticsearch
    if logstash is not None and logstash.enabled:
        beat = logstash.index.lower()
    if elasticsearch is not None and elasticsearch.enabled:
        document_ids = elasticsearch.document_id == "deterministic"
    return EnvelopeSettings(
        agent=agent,
        format=settings.event_format,
        beat=beat,
        metadata_version=settings.metadata_version,
        fields=settings.fields,
        fields_under_root=settings.fields_under_root,
        tags=tuple(settings.tags),
        document_ids=document_ids,
    )


def build_output(loaded: LoadedSettings, agent: AgentInfo, metrics: Registry) -> Output:
    settings = loaded.settings
    name = output_name(settings)
    out = settings.output
    if name == "console" and out.console is not None:
        return ConsoleOutput(out.console)
    if name == "file" and out.file is not None:
        return FileOutput(out.file, os.path.join(loaded.paths.home, out.file.path))
    if name == "logstash" and out.logstash is not None:
        from sorabeat.lumberjack.output import LogstashOutput

        return LogstashOutput(out.logstash, metrics)
    if name == "elasticsearch" and out.elasticsearch is not None:
        from sorabeat.es.output import ElasticsearchOutput

        return ElasticsearchOutput(
            out.elasticsearch, agent, metrics, data_streams=settings.setup.ilm.enabled
        )
    raise AssertionError(f"no output named {name}")


async def build_spool(loaded: LoadedSettings, metrics: Registry) -> Spool:
    queue = loaded.settings.queue
    if queue.mem is not None:
        return MemoryQueue(queue.mem, metrics)
    from sorabeat.spool.disk import DiskSpool

    spool_settings = queue.spool or SpoolSettings(path=os.path.join(loaded.paths.data, "spool"))
    directory = spool_directory(queue.spool, loaded.paths.home, loaded.paths.data)
    return await DiskSpool.open(directory, spool_settings, metrics)


async def build_pipeline(
    loaded: LoadedSettings, agent: AgentInfo, metrics: Registry, output: Output | None = None
) -> Pipeline:
    settings = loaded.settings
    for warning in insecure_tls_warnings(settings):
        log.warning("%s", warning)
    spool = await build_spool(loaded, metrics)
    try:
        output = output or build_output(loaded, agent, metrics)
    except BaseException:
        await spool.close()  # its lock, writer thread and seals: the next start needs them
        raise
    source = SoraInput(
        settings.modules,
        envelope_settings(settings, agent),
        spool,
        metrics,
        scrubber=SecretScrubber(loaded.secret_values),
    )
    return Pipeline(
        source=source,
        spool=spool,
        output=output,
        publisher=Publisher(spool, output, metrics),
        shutdown_timeout=settings.sorabeat.shutdown_timeout,
    )
