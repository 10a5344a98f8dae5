"""The demo's closing lines, from the events it shipped."""

from __future__ import annotations

from typing import Any

from sorabeat.cli.demo_report import busiest_line, shipped_line


def event(dataset: str, timestamp: str = "2026-01-01T00:00:00.000Z", **sora: Any) -> dict[str, Any]:
    return {"@timestamp": timestamp, "event": {"dataset": dataset}, "sora": sora}


def channel(
    timestamp: str, channel_id: str, connections: int, bits_in: float, bits_out: float
) -> dict[str, Any]:
    rates = {"received_bits_per_second": bits_in, "sent_bits_per_second": bits_out}
    doc = {"channel_id": channel_id, "connections": connections, "rates": rates}
    return event("sora.channels", timestamp, channels=doc)


T1, T2 = "2026-01-01T00:00:01.000Z", "2026-01-01T00:00:02.000Z"


def test_counts_each_kind_of_event_and_the_error_events() -> None:
    events = [
        event("sora.stats"),
        event("sora.stats"),
        {**event("sora.stats"), "error": {"message": "x"}},
    ]
    events += [event("sora.connections")] * 30 + [event("sora.channels")] * 9
    assert shipped_line(events) == (
        "3 polls: 3 stats events, 30 connection events, 9 channel events, 1 of them error events"
    )
    assert shipped_line([]) == "0 polls: 0 stats events, 0 connection events, 0 channel events"


def test_the_busiest_channel_is_the_most_bits_at_the_last_poll_with_rates() -> None:
    events = [
        channel(T1, "was-busy", 9, 90e6, 90e6),  # an earlier poll does not count
        channel(T2, "big-upload", 2, 30e6, 1e6),
        channel(T2, "webinar", 40, 2e6, 28.5e6),
        event(
            "sora.channels",
            "2026-01-01T00:00:03.000Z",
            channels={"channel_id": "new", "connections": 1},
        ),
    ]
    assert busiest_line(events) == (
        "busiest channel: big-upload, 30.0Mbit/s in, 1.00Mbit/s out, 2 connections "
        "(of 2 channels at the last poll)"
    )


def test_before_a_second_poll_no_channel_has_a_bitrate() -> None:
    events = [event("sora.channels", T1, channels={"channel_id": "a", "connections": 3})]
    assert busiest_line(events) == "busiest channel: none yet (a channel's bitrate needs two polls)"
