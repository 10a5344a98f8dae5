"""``sorabeat receive``: a Lumberjack v2 (Beats protocol) receiver writing NDJSON.

A stand-in for Logstash's beats input in demos and tests: it prints the address it listens
on, writes each acknowledged event as one JSON line (before the ACK goes out) and exits 0 on
SIGTERM or SIGINT. Switches make it behave like other servers (go-lumber's count ACKs,
partial ACKs, slow or silent servers, dropped connections, RST on idle close).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from sorabeat import logs
from sorabeat.cli.arguments import count, non_negative
from sorabeat.cli.common import STOP_SIGNALS, CliError, selectors
from sorabeat.logs.settings import LoggingSettings
from sorabeat.lumberjack.hosts import parse_endpoint
from sorabeat.lumberjack.receiver import LumberjackReceiver, ReceiverOptions
from sorabeat.lumberjack.server import ServerOptions
from sorabeat.tls import ClientAuthentication, TLSConfigError, server_context

log = logging.getLogger("sorabeat.lumberjack")


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = sub.add_parser(
        "receive",
        parents=[common],
        help="run a Lumberjack (Beats protocol) receiver that writes NDJSON",
        description=__doc__,
    )
    parser.add_argument(
        "--listen", default="127.0.0.1:5044", metavar="HOST:PORT", help="port 0: a free port"
    )
    parser.add_argument("--output", metavar="FILE", help="append acknowledged events (NDJSON)")
    parser.add_argument("--no-validate", action="store_true", help="accept non-object payloads")
    parser.add_argument(
        "--idle-timeout",
        type=non_negative,
        default=60.0,
        metavar="S",
        help="close a connection with no reads or writes for S seconds (0: never; default 60)",
    )
    tls = parser.add_argument_group("TLS")
    tls.add_argument(
        "--ssl.certificate",
        dest="ssl_certificate",
        metavar="FILE",
        help="PEM server certificate: serve TLS (with --ssl.key)",
    )
    tls.add_argument(
        "--ssl.key", dest="ssl_key", metavar="FILE", help="PEM private key of the certificate"
    )
    tls.add_argument(
        "--ssl.key_passphrase",
        dest="ssl_key_passphrase",
        metavar="TEXT",
        help="passphrase of an encrypted key",
    )
    tls.add_argument(
        "--ssl.certificate_authorities",
        dest="ssl_cas",
        action="append",
        default=[],
        metavar="FILE",
        help="CAs that sign client certificates (repeatable)",
    )
    tls.add_argument(
        "--ssl.client_authentication",
        dest="ssl_client_auth",
        choices=["none", "optional", "required"],
        default=None,
        help="default: required when CAs are given, else none (as Logstash)",
    )
    switches = parser.add_argument_group("behaviour of other servers")
    switches.add_argument(
        "--ack-style",
        choices=["highest", "count"],
        default="highest",
        help="highest seq (Logstash) or event count (go-lumber)",
    )
    switches.add_argument(
        "--partial-ack-every",
        type=count,
        default=0,
        metavar="N",
        help="also ACK after every N events of a window (0: one ACK per window)",
    )
    switches.add_argument(
        "--ack-delay",
        type=non_negative,
        default=0.0,
        metavar="S",
        help="wait S seconds before each ACK (a slow server)",
    )
    switches.add_argument("--never-ack", action="store_true", help="no ACK, no keepalive")
    switches.add_argument(
        "--drop-after-events",
        type=count,
        default=0,
        metavar="N",
        help="abort a connection once N events arrived on it, unacknowledged (0: never)",
    )
    switches.add_argument(
        "--drop-connections", type=count, default=1, metavar="N", help="0: every connection"
    )
    switches.add_argument(
        "--keepalive-interval",
        type=non_negative,
        default=5.0,
        metavar="S",
        help="while a window waits, send an empty ACK every S seconds (0: never; default 5)",
    )
    switches.add_argument(
        "--idle-close-rst", action="store_true", help="close idle connections with RST"
    )
    switches.add_argument(
        "--no-empty-window-ack", action="store_true", help="do not answer W 0 (go-lumber)"
    )
    switches.add_argument(
        "--max-window",
        type=count,
        default=10000,
        metavar="N",
        help="a window announcing more than N events is a protocol error (default 10000)",
    )
    parser.set_defaults(handler=handle)


def options_from(args: argparse.Namespace) -> ReceiverOptions:
    context = None
    if args.ssl_certificate or args.ssl_key:
        if not (args.ssl_certificate and args.ssl_key):
            raise CliError("--ssl.certificate and --ssl.key go together", 2)
        client_auth: ClientAuthentication = args.ssl_client_auth or (
            "required" if args.ssl_cas else "none"
        )
        try:
            context = server_context(
                args.ssl_certificate,
                args.ssl_key,
                key_passphrase=args.ssl_key_passphrase,
                certificate_authorities=args.ssl_cas,
                client_authentication=client_auth,
            )
        except TLSConfigError as exc:
            raise CliError(str(exc)) from None
    server = ServerOptions(
        ack_style=args.ack_style,
        partial_ack_every=args.partial_ack_every,
        ack_delay=args.ack_delay,
        never_ack=args.never_ack,
        drop_after_events=args.drop_after_events,
        drop_connections=args.drop_connections,
        keepalive_interval=args.keepalive_interval,
        idle_timeout=args.idle_timeout,
        idle_close_rst=args.idle_close_rst,
        answer_empty_window=not args.no_empty_window_ack,
        max_window=args.max_window,
        ssl_context=context,
    )
    return ReceiverOptions(server=server, output_path=args.output, validate=not args.no_validate)


def handle(args: argparse.Namespace) -> int:
    try:
        endpoint = parse_endpoint(args.listen, listen=True)
    except ValueError as exc:
        raise CliError(f"--listen: {exc}", 2) from None
    options = options_from(args)
    if args.output:
        try:
            open(args.output, "ab").close()
        except OSError as exc:
            raise CliError(f"--output: cannot open {args.output}: {exc.strerror}") from None
    logs.configure(LoggingSettings(), to_stderr=True, selectors=selectors(args))
    try:
        asyncio.run(_serve(endpoint.host, endpoint.port, options))
    except OSError as exc:
        raise CliError(f"cannot listen on {args.listen}: {exc.strerror or exc}") from None
    return 0


async def _serve(host: str, port: int, options: ReceiverOptions) -> None:
    receiver = LumberjackReceiver(options)
    bound_host, bound_port = await receiver.start(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    print(f"sorabeat receive: listening on {shown}:{bound_port}", flush=True)
    try:
        await stop.wait()
    finally:
        await receiver.close()
        log.info("received %d events", receiver.events_written)
        sys.stdout.flush()
