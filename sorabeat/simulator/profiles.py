"""The three Sora generations the simulator can play (see the reference, section f)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    version: str | None  # GetStatsReport ``version`` (Sora 2022.1 and later)
    uuid_ids: bool  # 2017: client_id is a UUID; later: 26-character base32
    microsecond_timestamps: bool  # 2017: "2017-11-16T05:16:02Z"; later: six fraction digits
    split_rtp_bytes: bool  # Sora 18.10.04: *_byte_size, total_received/_sent, rtp/rtcp split
    connection_id: bool
    modern_connections: bool  # group/session/bundle ids, simulcast, spotlight, dtls, ...
    stats_error: bool  # GetStatsReport ``error`` (2018 and later)
    stats_browser: bool  # GetStatsReport ``browser`` (as far as found, only before 2022)
    modern_stats: bool  # connection/session/webhook/srtp/sctp counters, sora_client, cluster


PROFILES: dict[str, Profile] = {
    "2017": Profile(
        name="2017",
        version=None,
        uuid_ids=True,
        microsecond_timestamps=False,
        split_rtp_bytes=False,
        connection_id=False,
        modern_connections=False,
        stats_error=False,
        stats_browser=True,
        modern_stats=False,
    ),
    # The reference's "18.10+" sample (c.3): its ids are base32 and its timestamp has
    # microseconds; both are labelled inferred for 18.10, and this profile follows the sample.
    "2018": Profile(
        name="2018",
        version=None,
        uuid_ids=False,
        microsecond_timestamps=True,
        split_rtp_bytes=True,
        connection_id=True,
        modern_connections=False,
        stats_error=True,
        stats_browser=True,
        modern_stats=False,
    ),
    "current": Profile(
        name="current",
        version="2025.1.2",
        uuid_ids=False,
        microsecond_timestamps=True,
        split_rtp_bytes=True,
        connection_id=True,
        modern_connections=True,
        stats_error=True,
        stats_browser=False,
        modern_stats=True,
    ),
}
