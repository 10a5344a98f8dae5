"""``sorabeat export config|template|dashboard``."""

from __future__ import annotations

import argparse
import sys

import yaml

from sorabeat.cli.common import CliError, load_config
from sorabeat.config.secrets import mask_secrets
from sorabeat.credentials import SecretScrubber
from sorabeat.pipeline.settings import Settings

DASHBOARD_FILE = "sorabeat-kibana.ndjson"


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = sub.add_parser("export", parents=[common], help="print configuration or assets")
    what = parser.add_subparsers(dest="export_command", metavar="WHAT", required=True)
    config = what.add_parser(
        "config", parents=[common], help="the merged configuration, secrets masked"
    )
    config.set_defaults(handler=export_config)
    template = what.add_parser(
        "template", parents=[common], help="the index template, as JSON, from fields.yml"
    )
    template.add_argument(
        "--es.version",
        dest="es_version",
        default="8.15.0",
        help="Elasticsearch version the template is for (default 8.15.0; < 7.8: legacy)",
    )
    template.set_defaults(handler=export_template)
    dashboard = what.add_parser(
        "dashboard",
        parents=[common],
        help="the Kibana data view, visualizations and dashboard, as import NDJSON",
    )
    dashboard.add_argument(
        "--dir",
        dest="dashboard_dir",
        metavar="DIR",
        help=f"write {DASHBOARD_FILE} in DIR (created if missing) instead of standard output",
    )
    dashboard.set_defaults(handler=export_dashboard)


def _plain(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)  # ExpandedStr -> str, so YAML prints it plainly
    return value


def export_config(args: argparse.Namespace) -> int:
    loaded = load_config(args)
    # secret settings masked whole, then any keystore value used elsewhere (name: ${NAME})
    scrubber = SecretScrubber(loaded.secret_values)
    data = _plain(scrubber.scrub_value(mask_secrets(loaded.raw.data, Settings)))
    yaml.safe_dump(data, sys.stdout, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return 0


def export_template(args: argparse.Namespace) -> int:
    import orjson

    from sorabeat.cli.setup import setup_agent
    from sorabeat.es.bulk import ServerInfo, parse_version
    from sorabeat.es.index_management import SetupError, render_template

    loaded = load_config(args)
    try:
        version = parse_version(args.es_version)
    except ValueError as exc:
        raise CliError(f"--es.version: {exc}", 2) from None
    try:
        es = loaded.settings.output.elasticsearch
        _name, body = render_template(
            loaded.settings.setup.template,
            setup_agent(loaded),
            ServerInfo(version),
            loaded.settings.setup.ilm,
            es.index if es is not None and es.enabled else None,
        )
    except SetupError as exc:
        raise CliError(str(exc)) from None
    sys.stdout.write(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def export_dashboard(args: argparse.Namespace) -> int:
    """The exact NDJSON ``setup --dashboards`` imports (Kibana's import API takes it too)."""
    from pathlib import Path

    from sorabeat.kibana.setup import DashboardsError, assets_for

    loaded = load_config(args)
    try:
        assets = assets_for(loaded.settings.setup.dashboards)
    except DashboardsError as exc:
        raise CliError(str(exc)) from None
    data = assets.ndjson()
    if args.dashboard_dir is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return 0
    path = Path(args.dashboard_dir) / DASHBOARD_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None
    print(f"Wrote {len(assets.objects())} objects ({assets.summary()}) to {path}")
    return 0
