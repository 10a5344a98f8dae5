"""``sorabeat setup``: prepare the backends. Each part has its flag (``--index-management``,
``--dashboards``); plain ``sorabeat setup`` runs every part (those a setting disables say
so). Parts are listed in ``PARTS``."""

from __future__ import annotations

import argparse
import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass

from sorabeat import __version__
from sorabeat.cli.common import CliError, load_config, setup_logging
from sorabeat.event import AgentInfo
from sorabeat.pipeline.settings import LoadedSettings

Write = Callable[[str], None]


@dataclass(frozen=True)
class SetupPart:
    flag: str  # --<flag>
    help: str
    run: Callable[[LoadedSettings, Write, bool], None]  # (config, write, chosen by its flag)


def setup_agent(loaded: LoadedSettings) -> AgentInfo:
    """Who is setting up: only the version and name matter here (no data directory)."""
    hostname = socket.gethostname()
    return AgentInfo(
        name=loaded.settings.name or hostname,
        hostname=hostname,
        id="",
        ephemeral_id="",
        version=__version__,
    )


def index_management(loaded: LoadedSettings, write: Write, _forced: bool) -> None:
    from sorabeat.es.index_management import SetupError, load_template

    es = loaded.settings.output.elasticsearch
    if es is None or not es.enabled:
        raise CliError(
            "Index management needs the Elasticsearch output: configure output.elasticsearch "
            "(or pass -E output.elasticsearch.hosts=[...] with the other output disabled)"
        )
    try:
        setup = loaded.settings.setup
        logstash = loaded.settings.output.logstash
        asyncio.run(
            load_template(
                es,
                setup.template,
                setup_agent(loaded),
                write,
                setup.ilm,
                metadata_version=loaded.settings.metadata_version,
                # the indices a Logstash pipeline names after @metadata.beat
                beat=logstash.index if logstash is not None else None,
            )
        )
    except SetupError as exc:
        raise CliError(f"Index management failed: {exc}") from None


def dashboards(loaded: LoadedSettings, write: Write, forced: bool) -> None:
    from sorabeat.kibana.setup import DashboardsError, load_dashboards

    setup = loaded.settings.setup
    if not setup.dashboards.enabled and not forced:
        write("Dashboards loading is disabled (setup.dashboards.enabled: false)")
        return
    try:
        asyncio.run(
            load_dashboards(
                setup.kibana, setup.dashboards, loaded.settings.output.elasticsearch, write
            )
        )
    except DashboardsError as exc:
        raise CliError(f"Loading dashboards failed: {exc}") from None


PARTS: list[SetupPart] = [
    SetupPart("index-management", "load the index template into Elasticsearch", index_management),
    SetupPart(
        "dashboards",
        "load the data view, a visualization per numeric field and the Sora overview "
        "dashboard into Kibana",
        dashboards,
    ),
]


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = sub.add_parser(
        "setup", parents=[common], help="load the index template and the Kibana dashboards"
    )
    for part in PARTS:
        parser.add_argument(
            f"--{part.flag}",
            dest=f"setup_{part.flag.replace('-', '_')}",
            action="store_true",
            help=part.help,
        )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    loaded = load_config(args)
    setup_logging(args, loaded)
    chosen = [p for p in PARTS if getattr(args, f"setup_{p.flag.replace('-', '_')}", False)]
    for part in chosen or PARTS:
        part.run(loaded, _under_heading(f"{part.flag}:"), part in chosen)
    print("Setup finished")
    return 0


def _under_heading(heading: str) -> Write:
    """Print ``heading`` before the first line only: a part that fails before saying
    anything leaves no empty heading above its error."""
    shown = False

    def write(line: str) -> None:
        nonlocal shown
        if not shown:
            print(heading, flush=True)
            shown = True
        print(f"  {line}", flush=True)

    return write
