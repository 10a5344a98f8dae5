"""``sorabeat run`` (the default command): poll Sora and ship until SIGTERM/SIGINT/SIGHUP."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import logging
import signal
import time

from sorabeat import __version__
from sorabeat.agent import DataDirLockedError, agent_info, lock_data_dir
from sorabeat.cli.common import STOP_SIGNALS, CliError, load_config, setup_logging
from sorabeat.credentials import SecretScrubber
from sorabeat.heap import tune_malloc
from sorabeat.monitoring.logline import MetricsLog
from sorabeat.monitoring.registry import Registry
from sorabeat.monitoring.server import MonitoringServer
from sorabeat.outputs.discard import DiscardOutput
from sorabeat.pipeline.assemble import build_pipeline, output_name, startup_problems
from sorabeat.pipeline.settings import LoadedSettings
from sorabeat.spool.recovery import SpoolError
from sorabeat.tls import TLSConfigError

log = logging.getLogger("sorabeat")


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = sub.add_parser("run", parents=[common], help="poll Sora and ship events (default)")
    parser.add_argument(
        "-N",
        "--N",
        dest="no_publish",
        action="store_true",
        help="disable publishing: events are read from the queue and acknowledged unsent",
    )
    parser.add_argument(
        "--profile",
        "--cpuprofile",
        dest="profile",
        metavar="FILE",
        help="write a cProfile profile (pstats format) to FILE on exit",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    tune_malloc()  # before the threads that allocate start: see sorabeat.heap
    loaded = load_config(args)
    setup_logging(args, loaded)
    problems = startup_problems(loaded)
    if problems:
        raise CliError("\n".join(problems))
    try:
        lock = lock_data_dir(loaded.paths.data)
    except DataDirLockedError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot use path.data {loaded.paths.data}: {exc.strerror or exc}") from None
    profiler = cProfile.Profile() if args.profile else None
    try:
        if profiler is not None:
            profiler.enable()
        asyncio.run(run(loaded, no_publish=args.no_publish))
    finally:
        if profiler is not None:
            profiler.disable()
            try:
                profiler.dump_stats(args.profile)
            except OSError as exc:
                log.error("cannot write the profile to %s: %s", args.profile, exc.strerror)
        lock.close()
    return 0


async def run(loaded: LoadedSettings, *, no_publish: bool = False) -> None:
    settings = loaded.settings
    metrics = Registry()
    try:
        agent = agent_info(loaded.paths.data, settings.name)
    except OSError as exc:
        raise CliError(f"cannot use path.data {loaded.paths.data}: {exc.strerror or exc}") from None
    monitor: MonitoringServer | None = None
    if settings.http.enabled:
        monitor = MonitoringServer(
            settings.http, agent, metrics, scrubber=SecretScrubber(loaded.secret_values)
        )
        try:
            await monitor.start()
        except OSError as exc:
            raise CliError(
                f"http: cannot listen on {settings.http.host}:{settings.http.port}: "
                f"{exc.strerror or exc}"
            ) from None
    metrics_stop = asyncio.Event()
    metrics_log: asyncio.Task[None] | None = None
    try:
        output = DiscardOutput() if no_publish else None
        try:
            pipeline = await build_pipeline(loaded, agent, metrics, output)
        except (SpoolError, TLSConfigError) as exc:
            raise CliError(f"cannot start: {exc}") from None
        # What start-up made (modules, settings, the pipeline) lives as long as the process:
        # out of the collector's sight, a full collection no longer walks it every time.
        gc.collect()
        gc.freeze()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        on_signal = _StopOnSignal(stop)
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, on_signal, sig)
        if settings.logging.metrics.enabled:
            metrics_log = asyncio.create_task(
                MetricsLog(metrics, settings.logging.metrics.period).run(metrics_stop),
                name="metrics-log",
            )
        log.info(
            "sorabeat %s started (agent id %s): %d module entries, output %s%s",
            __version__,
            agent.id,
            len(settings.modules),
            output_name(settings),
            " (publishing disabled by -N)" if no_publish else "",
        )
        await pipeline.run(stop)
    finally:
        metrics_stop.set()
        if metrics_log is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(metrics_log, 5)
        if monitor is not None:
            await monitor.close()
    log.info("sorabeat stopped")


# A second signal this soon after the first is the same stop delivered twice (tools such as
# timeout(1) signal both the process and its group), not an operator insisting.
_REPEAT_GRACE = 1.0


class _StopOnSignal:
    """First SIGTERM/SIGINT/SIGHUP: stop gracefully. Another one later: exit at once (the
    spool keeps what was not acknowledged)."""

    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop
        self.first: float | None = None

    def __call__(self, sig: signal.Signals) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = now
            log.info("received %s, stopping", sig.name)
            self.stop.set()
        elif now - self.first >= _REPEAT_GRACE:
            log.warning("second %s: exiting without waiting", sig.name)
            raise SystemExit(1)
