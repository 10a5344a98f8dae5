"""``sorabeat test config|output|modules``: check the setup without running it."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Sequence
from contextlib import AsyncExitStack

import orjson

from sorabeat.agent import agent_info
from sorabeat.assemble import envelope_settings, output_name, startup_problems
from sorabeat.cli.common import CliError, load_config
from sorabeat.config.load import LoadedConfig
from sorabeat.config.secrets import SecretScrubber
from sorabeat.sora.input import SoraInput, http_client

# the module of each output that knows how to probe it, as metricbeat's `test output` does
PROBES = {"logstash": "sorabeat.lumberjack.probe", "elasticsearch": "sorabeat.es.probe"}


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = sub.add_parser(
        "test", parents=[common], help="test the configuration, output or modules"
    )
    tests = parser.add_subparsers(dest="test_command", metavar="WHAT", required=True)
    config = tests.add_parser("config", parents=[common], help="check the configuration")
    config.set_defaults(handler=test_config)
    output = tests.add_parser("output", parents=[common], help="check that the output is reachable")
    output.set_defaults(handler=test_output)
    modules = tests.add_parser(
        "modules",
        parents=[common],
        help="fetch once from every configured host and print the events",
    )
    modules.add_argument("module", nargs="?", choices=["sora"], help="only this module")
    modules.add_argument(
        "metricset",
        nargs="?",
        choices=["stats", "connections", "channels"],
        help="only this metricset",
    )
    modules.set_defaults(handler=test_modules)


def _require_startable(loaded: LoadedConfig) -> None:
    problems = startup_problems(loaded)
    if problems:
        raise CliError("\n".join(problems))


def test_config(args: argparse.Namespace) -> int:
    loaded = load_config(args)
    _require_startable(loaded)
    print("Config OK")
    return 0


def test_output(args: argparse.Namespace) -> int:
    loaded = load_config(args)
    name = output_name(loaded.settings)
    if name not in PROBES:
        print(f"{name}: nothing to test for a local output... OK")
        return 0
    probe = importlib.import_module(PROBES[name])
    settings = getattr(loaded.settings.output, name)
    ok: bool = asyncio.run(probe.test_output(settings, lambda line: print(line, flush=True)))
    return 0 if ok else 1


def test_modules(args: argparse.Namespace) -> int:
    loaded = load_config(args)
    _require_startable(loaded)
    agent = agent_info(loaded.paths.data, loaded.settings.name)
    source = SoraInput(
        loaded.settings.modules,
        envelope_settings(loaded.settings, agent),
        sink=_Discard(),
        scrubber=SecretScrubber(loaded.secret_values),
    )
    return asyncio.run(_fetch_once(source, args.metricset))


class _Discard:
    async def append(self, events: Sequence[bytes]) -> int:
        return len(events)


async def _fetch_once(source: SoraInput, only: str | None) -> int:
    failures = 0
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(http_client(m)) for m in source.modules]
        pollers = [p for p in source.pollers(clients) if only is None or only in p.metricsets]
        if not pollers:
            raise CliError(
                f"metricset {only} is not configured in any enabled sora module "
                "(add it to a module's metricsets)"
            )
        results = await asyncio.gather(*(p.poll_once() for p in pollers))
    for poller, events in zip(pollers, results, strict=True):
        errors = [e for e in events if b'"error":{"message"' in e]
        status = "ERROR" if errors else "OK"
        failures += bool(errors)
        print(
            f"sora/{'+'.join(poller.metricsets)} from {poller.host.address}... {status} "
            f"({len(events)} events)"
        )
        for event in events:
            sys.stdout.write(
                orjson.dumps(orjson.loads(event), option=orjson.OPT_INDENT_2).decode() + "\n"
            )
    return 1 if failures else 0
