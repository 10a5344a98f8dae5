"""``sorabeat demo``: the whole main job on one machine, with no set-up.

A built-in Sora simulator on a free loopback port is polled by the real pipeline (the
configuration loader, the Sora input, the disk spool, the Logstash output), which ships over
mutual TLS, with certificates made on the spot, to a built-in Lumberjack receiver; after
``--duration`` it stops and says what was produced and acknowledged.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import tempfile
import time
from typing import Any

import orjson
import yaml

from sorabeat.agent import agent_info
from sorabeat.assemble import build_pipeline
from sorabeat.certs import make_ca, make_certificate
from sorabeat.cli.common import STOP_SIGNALS, CliError, selectors
from sorabeat.cli.demo_report import busiest_line, shipped_line
from sorabeat.config.load import ConfigError, LoadedConfig, LoadOptions, load
from sorabeat.config.schema import parse_duration
from sorabeat.logs import configure
from sorabeat.lumberjack.receiver import LumberjackReceiver, ReceiverOptions
from sorabeat.lumberjack.server import ServerOptions
from sorabeat.monitoring.registry import Registry
from sorabeat.sora.simulator import SoraSimulator
from sorabeat.tls import server_context


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = sub.add_parser(
        "demo",
        parents=[common],
        help="run everything locally: a Sora simulator, sorabeat, and a TLS Lumberjack receiver",
    )
    parser.add_argument("--duration", type=float, default=15.0, help="seconds to run (default 15)")
    parser.add_argument("--period", default="2s", help="poll period (default 2s)")
    parser.add_argument(
        "--connections", type=int, default=10, help="simulated connections (default 10)"
    )
    parser.add_argument("--profile", default="current", choices=["2017", "2018", "current"])
    parser.add_argument(
        "--keep", metavar="DIR", help="keep the received events, certificates and spool in DIR"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    try:
        period = parse_duration(args.period)
    except ValueError as exc:
        raise CliError(f"--period: {exc}", 2) from None
    if args.duration <= 0 or period <= 0 or args.connections < 0:
        raise CliError("--duration and --period must be > 0, --connections >= 0", 2)
    if args.keep:
        try:
            os.makedirs(args.keep, exist_ok=True)
        except OSError as exc:
            raise CliError(f"--keep: cannot create {args.keep}: {exc.strerror or exc}") from None
        return asyncio.run(demo(args, period, args.keep))
    with tempfile.TemporaryDirectory(prefix="sorabeat-demo-") as workdir:
        return asyncio.run(demo(args, period, workdir))


async def demo(args: argparse.Namespace, period: float, workdir: str) -> int:
    ca = make_ca("sorabeat demo CA", days=1)
    try:
        ca_path, _ = ca.write(workdir, "ca")
        server_cert, server_key = make_certificate(ca, "localhost", days=1).write(
            workdir, "receiver"
        )
        client_cert, client_key = make_certificate(
            ca, "sorabeat", hostnames=(), server=False, client=True, days=1
        ).write(workdir, "sorabeat")
    except OSError as exc:
        raise CliError(
            f"cannot write the demo's files in {workdir}: {exc.strerror or exc}"
        ) from None

    simulator = SoraSimulator(args.profile, args.connections, seed=int(time.time()))
    sora_host, sora_port = await simulator.start("127.0.0.1", 0)
    received_path = os.path.join(workdir, "received.ndjson")
    receiver = LumberjackReceiver(
        ReceiverOptions(
            server=ServerOptions(
                ssl_context=server_context(
                    server_cert,
                    server_key,
                    certificate_authorities=[ca_path],
                    client_authentication="required",
                )
            ),
            output_path=received_path,
        )
    )
    ls_host, ls_port = await receiver.start("127.0.0.1", 0)
    try:
        loaded = _config(
            args,
            workdir,
            period,
            (sora_host, sora_port),
            (ls_host, ls_port),
            ca_path,
            client_cert,
            client_key,
        )
        print(
            f"sorabeat demo: polling a simulated Sora ({args.profile} profile, "
            f"{args.connections} connections) at http://{sora_host}:{sora_port}/ every "
            f"{args.period},\n  shipping over mutual TLS to a Lumberjack receiver at "
            f"{ls_host}:{ls_port}, for {args.duration:g}s (Ctrl-C stops sooner)",
            flush=True,
        )
        metrics = Registry()
        agent = agent_info(loaded.paths.data, loaded.settings.name)
        pipeline = await build_pipeline(loaded, agent, metrics)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, stop.set)
        running = asyncio.ensure_future(pipeline.run(stop))
        progress = asyncio.ensure_future(_progress(metrics, receiver, period))
        try:
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({running, stopped}, timeout=args.duration)
            stopped.cancel()
        finally:
            stop.set()
            progress.cancel()
            await running
    finally:
        await receiver.close()
        await simulator.close()
    return _summary(metrics, receiver, workdir if args.keep else None, received_path)


def _config(
    args: argparse.Namespace,
    workdir: str,
    period: float,
    sora: tuple[str, int],
    logstash: tuple[str, int],
    ca: str,
    cert: str,
    key: str,
) -> LoadedConfig:
    """The demo's configuration, written and loaded as a user's would be."""
    settings = {
        "name": "sorabeat-demo",
        "output.logstash": {
            "hosts": [f"localhost:{logstash[1]}"],
            "ssl": {"certificate_authorities": [ca], "certificate": cert, "key": key},
        },
        "sorabeat.shutdown_timeout": "5s",
    }
    modules = [
        {
            "module": "sora",
            "metricsets": ["stats", "connections", "channels"],
            "period": f"{period:g}s",
            "hosts": [f"{sora[0]}:{sora[1]}"],
        }
    ]
    os.makedirs(os.path.join(workdir, "modules.d"), exist_ok=True)
    for path, data in (("sorabeat.yml", settings), ("modules.d/sora.yml", modules)):
        full = os.path.join(workdir, path)
        with open(full, "w", encoding="utf-8") as f:
            yaml.safe_dump(data, f)
        os.chmod(full, 0o600)
    options = LoadOptions(path_home=workdir, overrides=list(args.overrides))
    try:
        loaded = load(options)
    except ConfigError as exc:
        raise CliError("\n".join(str(p) for p in exc.problems)) from None
    # the demo talks on stdout; only problems (or -d debug output) go to stderr
    quiet = dataclasses.replace(loaded.settings.logging, level="warning", to_files=False)
    configure(quiet, to_stderr=True, selectors=selectors(args), secrets=loaded.secret_values)
    return loaded


async def _progress(metrics: Registry, receiver: LumberjackReceiver, period: float) -> None:
    started = time.monotonic()
    last = -1
    while True:
        await asyncio.sleep(period)
        produced = int(metrics.total("spool.events.appended"))
        if produced != last:
            print(
                f"  {time.monotonic() - started:5.1f}s: {produced} events produced, "
                f"{receiver.events_written} received and acknowledged",
                flush=True,
            )
            last = produced


def _received_events(path: str) -> list[dict[str, Any]]:
    """What the receiver wrote (a line it could not parse is skipped: the counts above
    already say whether everything arrived)."""
    events = []
    try:
        with open(path, "rb") as f:
            for line in f:
                try:
                    events.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    continue
    except FileNotFoundError:
        pass
    return events


def _summary(
    metrics: Registry, receiver: LumberjackReceiver, kept: str | None, received: str
) -> int:
    produced = int(metrics.total("spool.events.appended"))
    acked = int(metrics.total("spool.events.acked"))
    polls = int(metrics.total("sora.polls.ok") + metrics.total("sora.polls.failed"))
    failed = int(metrics.total("sora.polls.failed"))
    line = (
        f"demo: {polls} requests to Sora ({failed} failed), {produced} events produced, "
        f"{receiver.events_written} received over TLS, {acked} acknowledged"
    )
    print(line + (f"; events in {received}" if kept else ""), flush=True)
    events = _received_events(received)
    print(f"  shipped {shipped_line(events)}", flush=True)
    print(f"  {busiest_line(events)}", flush=True)
    return 0 if produced > 0 and acked == produced == receiver.events_written else 1
