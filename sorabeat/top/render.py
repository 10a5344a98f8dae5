"""The screen of ``sorabeat top`` as lines of text: a pure function of the nodes, the
terminal size and the sort key, so it is tested exactly and painted by whatever draws."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sorabeat.top.view import ChannelRow, NodeView

SortKey = Callable[[ChannelRow], tuple[float, str]]


def _desc(value: float | int | None) -> float:
    return -(value if value is not None else -1.0)


# key -> (name shown, how rows are ordered); the biggest first, then by channel id
SORTS: dict[str, tuple[str, SortKey]] = {
    "b": ("bitrate", lambda r: (_desc(_total(r.bits_in, r.bits_out)), r.channel_id)),
    "c": ("connections", lambda r: (_desc(r.connections), r.channel_id)),
    "n": ("nacks", lambda r: (_desc(r.nacks), r.channel_id)),
    "p": ("plis", lambda r: (_desc(r.plis), r.channel_id)),
    "u": ("unstable", lambda r: (_desc(r.unstable_level), r.channel_id)),
}
QUIT_KEYS = frozenset("qQ")
NUMBERS = "{:>6} {:>10} {:>10} {:>8} {:>8} {:>8}"
HEADINGS = ("CONNS", "IN bit/s", "OUT bit/s", "NACK/s", "PLI/s", "UNSTABLE")
MIN_CHANNEL_WIDTH = 8


def _total(a: float | None, b: float | None) -> float | None:
    return None if a is None and b is None else (a or 0.0) + (b or 0.0)


def bits(value: float | None) -> str:
    """A bitrate in at most 6 characters: 950, 12.3k, 4.56M, 1.20G; "-" when unknown."""
    if value is None:
        return "-"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            scaled = value / scale
            return f"{scaled:.2f}{unit}" if scaled < 10 else f"{scaled:.1f}{unit}"
    return f"{value:.0f}"


def per_second(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def header(node: NodeView, width: int) -> list[str]:
    """The node's line; its run queue goes on a second line when both do not fit."""
    if node.error is not None:
        return [f"{node.address}  FAILED: {node.error}"]
    parts = [
        node.address,
        f"connections {node.connections}",
        f"channels {len(node.channels)}",
        f"in {bits(node.bits_in)}bit/s",
        f"out {bits(node.bits_out)}bit/s",
    ]
    line = "  ".join(parts)
    if node.run_queue_max is None:
        return [line]
    imbalance = node.run_queue_imbalance
    queues = (
        f"run queue max {node.run_queue_max:g}  imbalance "
        f"{'-' if imbalance is None else f'{imbalance:.2f}'}"
    )
    if len(line) + 2 + len(queues) <= width:
        return [f"{line}  {queues}"]
    return [line, f"  {queues}"]


def row(channel: ChannelRow, id_width: int) -> str:
    name = channel.channel_id
    if len(name) > id_width:
        name = name[: id_width - 1] + "~"
    numbers = NUMBERS.format(
        channel.connections,
        bits(channel.bits_in),
        bits(channel.bits_out),
        per_second(channel.nacks),
        per_second(channel.plis),
        "-" if channel.unstable_level is None else channel.unstable_level,
    )
    return f"  {name:<{id_width}} {numbers}"


def render(
    nodes: Sequence[NodeView], *, width: int, height: int, sort: str = "b", period: float = 10.0
) -> list[str]:
    """The lines of the screen (each at most ``width`` long, at most ``height`` of them)."""
    sort_name, key = SORTS[sort]
    keys = " ".join(SORTS)
    lines = [f"sorabeat top  every {period:g}s  by {sort_name}  keys: {keys} sort, q quit"]
    id_width = max(MIN_CHANNEL_WIDTH, width - 3 - len(NUMBERS.format(*HEADINGS)))
    headers = [header(node, width) for node in nodes]
    working = [n for n in nodes if n.error is None]
    # the rows left once every node has its header and table heading, shared fairly
    spare = height - 1 - sum(map(len, headers)) - len(working)
    share = max(1, spare // len(working)) if working else 0
    if not nodes:
        lines.append("no Sora node to show")
    for node, lines_of_header in zip(nodes, headers, strict=True):
        lines.extend(lines_of_header)
        if node.error is not None:
            continue
        lines.append(f"  {'CHANNEL':<{id_width}} {NUMBERS.format(*HEADINGS)}")
        ordered = sorted(node.channels, key=key)
        shown = ordered if len(ordered) <= share else ordered[: max(0, share - 1)]
        lines.extend(row(c, id_width) for c in shown)
        if len(shown) < len(ordered):
            lines.append(f"  ... {len(ordered) - len(shown)} more channels")
    return [line[:width] for line in lines[:height]]
