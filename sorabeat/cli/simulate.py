"""``sorabeat simulate``: serve a simulated Sora statistics API until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from sorabeat.cli.common import CliError
from sorabeat.sora.simulator import FAULTS, PROFILES, SoraSimulator

log = logging.getLogger("sorabeat.sora.simulator")


def listen_address(text: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port``; port 0 binds a free port."""
    host, colon, port = text.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(
            f"expected host:port (e.g. 127.0.0.1:3000, [::1]:3000), got {text!r}"
        )
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    return int(text)


def _positive(text: str) -> int:
    value = _count(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {text!r}")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = sub.add_parser(
        "simulate",
        parents=[common],
        help="serve a simulated Sora statistics API (for demos and tests)",
        description="Serve GetStatsReport and GetStatsAllConnections of a simulated Sora node. "
        "Control targets (POST / with x-sora-target): Simulator.SetFault "
        '{"fault": F, "count": N, "targets": ["stats", "connections"]}, '
        'Simulator.GetServed {"reset": false}, Simulator.SetConnections {"count": N}.',
    )
    parser.add_argument(
        "--listen",
        type=listen_address,
        default=("127.0.0.1", 3000),
        metavar="HOST:PORT",
        help="address to listen on (default 127.0.0.1:3000; port 0 picks a free port)",
    )
    parser.add_argument(
        "--connections", type=_count, default=10, metavar="N", help="connections (default 10)"
    )
    parser.add_argument(
        "--profile",
        choices=list(PROFILES),
        default="current",
        help="Sora generation whose field names are served (default current)",
    )
    parser.add_argument("--seed", type=_count, default=0, metavar="N", help="random seed")
    parser.add_argument(
        "--schedulers",
        type=_positive,
        default=4,
        metavar="N",
        help="Erlang schedulers: the length of erlang_vm run queue lists (default 4)",
    )
    parser.add_argument(
        "--churn",
        type=_rate,
        default=0.1,
        metavar="R",
        help="share of the connections replaced per minute (default 0.1)",
    )
    parser.add_argument(
        "--cluster-peers",
        type=_count,
        default=2,
        metavar="N",
        help="cluster peers listed in cluster_relay (profile current; 0: not clustered)",
    )
    parser.add_argument(
        "--fault",
        choices=FAULTS,
        default="none",
        help="answer every statistics request this way (default none)",
    )
    parser.add_argument(
        "--slow-seconds",
        type=_rate,
        default=30.0,
        metavar="S",
        help="delay of the slow fault (default 30)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    level = logging.DEBUG if args.selectors else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s\t%(message)s")
    try:
        simulator = SoraSimulator(
            args.profile,
            args.connections,
            seed=args.seed,
            schedulers=args.schedulers,
            churn=args.churn,
            fault=args.fault,
            slow_seconds=args.slow_seconds,
            cluster_peers=args.cluster_peers,
        )
    except ValueError as exc:
        raise CliError(f"sorabeat simulate: {exc}", 2) from None
    asyncio.run(serve(simulator, *args.listen))
    return 0


async def serve(simulator: SoraSimulator, host: str, port: int) -> None:
    try:
        await simulator.start(host, port)
    except OSError as exc:
        reason = exc.strerror.lower() if exc.strerror else str(exc)
        raise CliError(f"sorabeat simulate: cannot listen on {host}:{port}: {reason}") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    count = len(simulator.state.live)
    print(
        f"sora simulator (profile {simulator.profile.name}, {count} connections) "
        f"listening on {simulator.url.rstrip('/')}",
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await simulator.close()
