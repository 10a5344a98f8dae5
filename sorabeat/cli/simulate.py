"""``sorabeat simulate``: serve a simulated Sora statistics API until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from sorabeat.cli.arguments import count, listen_address, non_negative, positive_count, share
from sorabeat.cli.common import STOP_SIGNALS, CliError
from sorabeat.sora.simulator import FAULTS, PROFILES, SoraSimulator

log = logging.getLogger("sorabeat.sora.simulator")


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
        "--connections", type=count, default=10, metavar="N", help="connections (default 10)"
    )
    parser.add_argument(
        "--profile",
        choices=list(PROFILES),
        default="current",
        help="Sora generation whose field names are served (default current)",
    )
    parser.add_argument("--seed", type=count, default=0, metavar="N", help="random seed")
    parser.add_argument(
        "--schedulers",
        type=positive_count,
        default=4,
        metavar="N",
        help="Erlang schedulers: the length of erlang_vm run queue lists (default 4)",
    )
    parser.add_argument(
        "--churn",
        type=non_negative,
        default=0.1,
        metavar="R",
        help="share of the connections replaced per minute (default 0.1)",
    )
    parser.add_argument(
        "--reconnect",
        type=share,
        default=0.0,
        metavar="S",
        help="share of the departing connections that reconnect at once under the same "
        "client_id, their counters starting over (default 0)",
    )
    parser.add_argument(
        "--cluster-peers",
        type=count,
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
        type=non_negative,
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
            reconnect=args.reconnect,
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
    for sig in STOP_SIGNALS:
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
