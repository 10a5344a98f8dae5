"""``sorabeat run`` (the default command): poll Sora and ship until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from sorabeat import __version__
from sorabeat.agent import DataDirLockedError, agent_info, lock_data_dir
from sorabeat.assemble import build_pipeline, output_name
from sorabeat.cli.common import CliError, load_config, setup_logging
from sorabeat.config.load import LoadedConfig
from sorabeat.monitoring.registry import Registry

log = logging.getLogger("sorabeat")


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = sub.add_parser("run", parents=[common], help="poll Sora and ship events (default)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    loaded = load_config(args)
    setup_logging(args, loaded)
    if not loaded.settings.modules:
        raise CliError(
            "no Sora module is enabled: add one to modules.d/ (see modules.d/sora.yml) "
            "or to sorabeat.modules"
        )
    try:
        lock = lock_data_dir(loaded.paths.data)
    except DataDirLockedError as exc:
        raise CliError(str(exc)) from None
    try:
        asyncio.run(run(loaded))
    finally:
        lock.close()
    return 0


async def run(loaded: LoadedConfig) -> None:
    metrics = Registry()
    agent = agent_info(loaded.paths.data, loaded.settings.name)
    pipeline = await build_pipeline(loaded, agent, metrics)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _on_signal, stop, sig)
    log.info(
        "sorabeat %s started (agent id %s): %d module entries, output %s",
        __version__,
        agent.id,
        len(loaded.settings.modules),
        output_name(loaded.settings),
    )
    await pipeline.run(stop)
    log.info("sorabeat stopped")


def _on_signal(stop: asyncio.Event, sig: signal.Signals) -> None:
    if stop.is_set():
        log.warning("second %s: exiting without waiting", sig.name)
        raise SystemExit(1)
    log.info("received %s, stopping", sig.name)
    stop.set()
