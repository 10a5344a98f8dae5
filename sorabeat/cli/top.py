"""``sorabeat top``: a live view of Sora nodes in the terminal.

Drawn with the standard library's ``curses``: it gives the alternate screen, key input
without Enter, resize events and a terminal restored on any exit, which is all a table of
text needs; the screen itself is ``sorabeat.top.render`` (pure, tested exactly), so a richer
library (rich, textual: several packages more to install, audit and ship in every package)
would buy styling, not function.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import curses
import sys

from sorabeat.cli.arguments import non_negative
from sorabeat.cli.common import CliError, load_config
from sorabeat.credentials import SecretScrubber, url_credentials
from sorabeat.sora.hosts import HostError, parse_sora_host
from sorabeat.sora.settings import SoraModuleSettings
from sorabeat.top.render import QUIT_KEYS, SORTS, render
from sorabeat.top.source import TopSource
from sorabeat.top.view import NodeView

KEY_POLL_SECONDS = 0.05  # how often keys are read between polls
DEFAULT_PERIOD = 5.0  # with --host


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = sub.add_parser(
        "top",
        parents=[common],
        help="live view of Sora nodes: bitrates, channels, NACKs, PLIs, run queues",
        description="Poll the hosts of the configured sora modules (or --host) every period "
        "and show each node and its channels. Keys: "
        + ", ".join(f"{k} sort by {name}" for k, (name, _) in SORTS.items())
        + ", q quit.",
    )
    parser.add_argument(
        "--host",
        action="append",
        metavar="HOST",
        help="a Sora API endpoint (host:port or URL) instead of the configured modules; "
        "may be given several times",
    )
    parser.add_argument(
        "--period",
        type=non_negative,
        metavar="SECONDS",
        help=f"refresh period (default: the modules' shortest; {DEFAULT_PERIOD:g} with --host)",
    )
    parser.add_argument("--sort", choices=list(SORTS), default="b", help="initial sort key")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    scrubber = None
    if args.host:
        for host in args.host:
            try:
                parse_sora_host(host)
            except HostError as exc:
                raise CliError(f"--host {host!r}: {exc}", 2) from None
        period = args.period or DEFAULT_PERIOD
        modules = [SoraModuleSettings(module="sora", hosts=list(args.host), period=period)]
        # a password in a --host URL is a secret like a configured one
        scrubber = SecretScrubber([p for h in args.host for _, p in url_credentials(h)])
    else:
        loaded = load_config(args)
        modules = [m for m in loaded.settings.modules if m.enabled]
        if not modules:
            raise CliError("no enabled sora module to watch (enable one, or give --host)")
        period = args.period or min(m.period for m in modules)
        scrubber = SecretScrubber(loaded.secret_values)
    if period <= 0:
        raise CliError("--period must be > 0", 2)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise CliError("sorabeat top needs a terminal (use `sorabeat test modules` in scripts)")
    source = TopSource(modules, scrubber)
    try:
        return curses.wrapper(lambda screen: asyncio.run(watch(screen, source, period, args.sort)))
    except KeyboardInterrupt:
        return 0


async def watch(screen: curses.window, source: TopSource, period: float, sort: str) -> int:
    """Poll every ``period``, repaint after each poll and each key; return at a quit key."""
    screen.nodelay(True)
    with contextlib.suppress(curses.error):  # a terminal that cannot hide the cursor
        curses.curs_set(0)
    loop = asyncio.get_running_loop()
    nodes: list[NodeView] | None = None
    async with source:
        due = loop.time()
        poll: asyncio.Future[list[NodeView]] | None = None
        dirty = True
        try:
            while True:
                if poll is None and loop.time() >= due:
                    poll = asyncio.ensure_future(source.poll())
                    due = loop.time() + period
                if poll is not None and poll.done():
                    nodes, poll, dirty = poll.result(), None, True
                key = screen.getch()
                while key != -1:
                    char = chr(key) if 0 <= key < 256 else ""
                    if char in QUIT_KEYS and char:
                        return 0
                    if char in SORTS:
                        sort, dirty = char, True
                    elif key == curses.KEY_RESIZE:
                        dirty = True
                    key = screen.getch()
                if dirty:
                    paint(screen, nodes, source.addresses, sort, period)
                    dirty = False
                await asyncio.sleep(KEY_POLL_SECONDS)
        finally:
            if poll is not None:
                poll.cancel()
                await asyncio.gather(poll, return_exceptions=True)


def paint(
    screen: curses.window,
    nodes: list[NodeView] | None,
    addresses: list[str],
    sort: str,
    period: float,
) -> None:
    height, width = screen.getmaxyx()
    if nodes is None:
        lines = [f"sorabeat top: polling {', '.join(addresses)} ..."]
    else:
        # the last column is left free: curses refuses a write into the bottom-right cell
        lines = render(nodes, width=max(1, width - 1), height=height, sort=sort, period=period)
    screen.erase()
    for y, line in enumerate(lines[:height]):
        # double-width characters (a Japanese channel id) make a line wider than its length:
        # curses refuses what does not fit, which must not end the view
        with contextlib.suppress(curses.error):
            screen.addstr(y, 0, line[: max(0, width - 1)])
    screen.refresh()
