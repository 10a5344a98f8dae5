"""``sorabeat spool inspect``: what the disk spool holds, for an operator after an incident.

Read-only: it never changes, creates or locks a file, so it can run next to a running
sorabeat (the figures are then a snapshot). The reading itself is
``sorabeat.spool.inspection``, built on the scanner recovery uses.
"""

from __future__ import annotations

import argparse
import sys

from sorabeat.cli.common import CliError, load_config
from sorabeat.spool.inspection import InspectError, SpoolReport, inspect_spool, report_json
from sorabeat.spool.settings import spool_directory


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = sub.add_parser(
        "spool", parents=[common], help="look into the disk spool", allow_abbrev=False
    )
    actions = parser.add_subparsers(dest="spool_command", metavar="ACTION", required=True)
    inspect = actions.add_parser(
        "inspect",
        parents=[common],
        help="segments, records, position, event times and every damaged place (read-only)",
    )
    inspect.add_argument(
        "--path",
        metavar="DIR",
        help="the spool directory (default: queue.spool.path, else path.data/spool)",
    )
    inspect.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    inspect.set_defaults(handler=inspect_command)


def _directory(args: argparse.Namespace) -> str:
    if args.path:
        return str(args.path)
    loaded = load_config(args)
    queue = loaded.settings.queue
    if queue.mem is not None:
        raise CliError("queue.mem is configured: events are kept in memory, there is no spool")
    return spool_directory(queue.spool, loaded.paths.home, loaded.paths.data)


def inspect_command(args: argparse.Namespace) -> int:
    directory = _directory(args)
    try:
        report = inspect_spool(directory)
    except InspectError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        sys.stdout.buffer.write(report_json(report) + b"\n")
    else:
        print(render(report))
    return 0


def render(report: SpoolReport) -> str:
    lines = [f"spool {report.directory}"]
    if report.in_use:
        lines.append(
            "  in use by a running sorabeat: the figures are a snapshot, and a record being "
            "written may show as an unreadable end of the last segment"
        )
    if report.position is None:
        lines.append(
            f"acknowledged position: none (state file {report.state_problem}: the next start "
            "replays from the oldest segment)"
        )
    else:
        lines.append(f"acknowledged position: {report.position} (oldest event not acknowledged)")
    set_aside_bytes = sum(s.bytes for s in report.set_aside)
    lines.append(
        f"segments: {len(report.segments)}, records: {report.records} "
        f"({report.pending} not acknowledged), bytes: {report.bytes} "
        f"({set_aside_bytes} of them in {len(report.set_aside)} set-aside files)"
    )
    lines.append(f"oldest event: {report.oldest_event or '-'}")
    lines.append(f"newest event: {report.newest_event or '-'}")
    if report.segments:
        lines.append("")
        lines.append(f"{'segment':<28} {'bytes':>10} {'records':>8} {'pending':>8}  sequence")
        for seg in report.segments:
            seqs = "-" if seg.first_seq is None else f"{seg.first_seq}..{seg.last_seq}"
            lines.append(
                f"{seg.name:<28} {seg.bytes:>10} {seg.records:>8} {seg.pending:>8}  {seqs}"
            )
    for leftover in report.leftovers:
        lines.append(f"leftover of an interrupted write (removed on the next start): {leftover}")
    lines.append("")
    if not report.problems:
        lines.append("damage: none")
    else:
        lines.append(
            f"damage: {len(report.problems)} findings, {report.lost} events lost, "
            f"{report.damaged_bytes} damaged bytes"
        )
        for problem in report.problems:
            lost = f" ({problem.lost} events lost)" if problem.lost else ""
            lines.append(f"  {problem.file}: {problem.what}{lost}")
    return "\n".join(lines)
