"""``sorabeat top``'s screen as a pure function: exact text for given nodes, sizes and sorts."""

from __future__ import annotations

from typing import Any

import pytest

from sorabeat.top.render import bits, render
from sorabeat.top.view import NodeView, node_view


def stats_event(ongoing: int, run_queues: list[int]) -> dict[str, Any]:
    high, low = max(run_queues), min(run_queues)
    statistics = {
        "run_queue_lengths": run_queues,
        "run_queue_lengths_max": float(high),
        "run_queue_lengths_imbalance": high / max(low, 1),
    }
    return {
        "service": {"address": "sora1:3000"},
        "sora": {
            "stats": {"total_ongoing_connections": ongoing, "erlang_vm": {"statistics": statistics}}
        },
    }


def channel_event(channel_id: str, connections: int, **rates: float) -> dict[str, Any]:
    doc: dict[str, Any] = {"channel_id": channel_id, "connections": connections}
    level = rates.pop("unstable", None)
    if rates:
        doc["rates"] = {f"{k}_per_second": v for k, v in rates.items()}
    if level is not None:
        doc["max"] = {"unstable_level": int(level)}
    return {"sora": {"channels": doc}}


def sample_node() -> NodeView:
    return node_view(
        "sora1:3000",
        [
            stats_event(9, [3, 0, 1, 2]),
            channel_event(
                "lobby",
                2,
                received_bits=64_000.0,
                sent_bits=128_000.0,
                received_nacks=0.5,
                sent_nacks=0.0,
                received_plis=0.0,
                sent_plis=0.0,
                unstable=0,
            ),
            channel_event(
                "all-hands-meeting-2026",
                6,
                received_bits=12_500_000.0,
                sent_bits=48_000_000.0,
                received_nacks=3.25,
                sent_nacks=1.0,
                received_plis=0.2,
                sent_plis=0.1,
                unstable=2,
            ),
            channel_event("new-room", 1),  # its only connection has no rates yet
        ],
    )


def test_a_node_and_its_channels_by_bitrate_at_80_columns() -> None:
    assert render([sample_node()], width=80, height=24, sort="b", period=2) == [
        "sorabeat top  every 2s  by bitrate  keys: b c n p u sort, q quit",
        "sora1:3000  connections 9  channels 3  in 12.6Mbit/s  out 48.1Mbit/s",
        "  run queue max 3  imbalance 3.00",
        "  CHANNEL                 CONNS   IN bit/s  OUT bit/s   NACK/s    PLI/s UNSTABLE",
        "  all-hands-meeting-2026      6      12.5M      48.0M      4.2      0.3        2",
        "  lobby                       2      64.0k     128.0k      0.5      0.0        0",
        "  new-room                    1          -          -        -        -        -",
    ]


def test_a_narrow_terminal_cuts_long_channel_ids_and_every_line() -> None:
    lines = render([sample_node()], width=60, height=24, sort="b", period=2)
    assert all(len(line) <= 60 for line in lines)
    assert lines[4] == "  all-han~      6      12.5M      48.0M      4.2      0.3   "


def test_a_wide_terminal_puts_the_run_queue_on_the_node_line() -> None:
    lines = render([sample_node()], width=120, height=24, sort="c", period=10)
    assert lines[0] == "sorabeat top  every 10s  by connections  keys: b c n p u sort, q quit"
    assert lines[1] == (
        "sora1:3000  connections 9  channels 3  in 12.6Mbit/s  out 48.1Mbit/s  "
        "run queue max 3  imbalance 3.00"
    )
    assert lines[3] == "  all-hands-meeting-2026" + " " * 46 + "6      12.5M      48.0M" + (
        "      4.2      0.3        2"
    )


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("b", ["all-hands-meeting-2026", "lobby", "new-room"]),
        ("c", ["all-hands-meeting-2026", "lobby", "new-room"]),
        ("p", ["all-hands-meeting-2026", "lobby", "new-room"]),
        ("u", ["all-hands-meeting-2026", "lobby", "new-room"]),
    ],
)
def test_sort_keys_order_the_rows(sort: str, order: list[str]) -> None:
    lines = render([sample_node()], width=120, height=24, sort=sort)
    assert [line.split()[0] for line in lines[3:]] == order


def test_the_sort_key_decides_which_channel_comes_first() -> None:
    node = node_view(
        "s:1",
        [
            channel_event("quiet", 9, received_nacks=0.0, sent_nacks=0.0),
            channel_event("lossy", 2, received_nacks=7.0, sent_nacks=1.0),
        ],
    )
    by_nacks = render([node], width=100, height=10, sort="n")
    by_connections = render([node], width=100, height=10, sort="c")
    assert [line.split()[0] for line in by_nacks[3:]] == ["lossy", "quiet"]
    assert [line.split()[0] for line in by_connections[3:]] == ["quiet", "lossy"]
    assert "connections 11" in by_nacks[1]  # no stats event: the channels' sum


def test_a_failed_node_is_one_clear_line_and_the_others_keep_their_table() -> None:
    failed = node_view(
        "sora2:3000",
        [
            stats_event(1, [1]),
            {"error": {"message": "cannot connect to http://sora2:3000/: connection refused"}},
        ],
    )
    lines = render([failed, sample_node()], width=100, height=24, sort="b", period=5)
    assert (
        lines[1] == "sora2:3000  FAILED: cannot connect to http://sora2:3000/: connection refused"
    )
    assert lines[2].startswith("sora1:3000  connections 9  channels 3")
    assert lines[3] == "  run queue max 3  imbalance 3.00"
    assert lines[4].split()[:3] == ["CHANNEL", "CONNS", "IN"]
    assert [line.split()[0] for line in lines[5:]] == [
        "all-hands-meeting-2026",
        "lobby",
        "new-room",
    ]


def test_a_short_terminal_says_how_many_channels_it_left_out() -> None:
    channels = [channel_event(f"room-{i}", 1, received_bits=1000.0 * i) for i in range(10)]
    node = node_view("s:1", channels)
    lines = render([node], width=80, height=8, sort="b")
    assert len(lines) == 8
    assert [line.split()[0] for line in lines[3:7]] == ["room-9", "room-8", "room-7", "room-6"]
    assert lines[7] == "  ... 6 more channels"


def test_no_node_says_so() -> None:
    assert render([], width=80, height=5)[1] == "no Sora node to show"


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "-"), (0.0, "0"), (950.4, "950"), (12_345.0, "12.3k"), (4_560_000.0, "4.56M"),
     (1.2e9, "1.20G"), (99_999.0, "100.0k")],
)  # fmt: skip
def test_bitrates_fit_six_characters(value: float | None, text: str) -> None:
    assert bits(value) == text
    assert len(bits(value)) <= 6


@pytest.mark.parametrize(
    "erlang_vm", [[{"statistics": {}}], {"statistics": [{"run_queue_lengths": [1]}]}, "x"]
)
def test_a_stats_group_sent_as_something_else_shows_no_run_queue(erlang_vm: Any) -> None:
    # a list of objects passes the input's type check for a group: top must not crash on it
    event = {"sora": {"stats": {"total_ongoing_connections": 3, "erlang_vm": erlang_vm}}}
    node = node_view("s:1", [event])
    assert node.error is None and node.connections == 3
    assert node.run_queue_max is None
