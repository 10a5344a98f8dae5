"""GetStatsReport, built from the node state for the node's Sora generation."""

from __future__ import annotations

from typing import Any

from sorabeat.simulator.state import BROWSERS, SORA_CLIENTS, NodeState

SCTP_MESSAGE_SIZE = 150
SFU_DELAY_US = 450  # average time a forwarded packet spends in Sora
PLUMTREE_SHARES = (
    ("total_sent_gossip", "sent", 0.30),
    ("total_received_gossip", "received", 0.30),
    ("total_received_gossip_hop", "received", 0.45),
    ("total_sent_ihave", "sent", 0.20),
    ("total_received_ihave", "received", 0.20),
    ("total_sent_graft", "sent", 0.010),
    ("total_received_graft", "received", 0.010),
    ("total_sent_prune", "sent", 0.012),
    ("total_received_prune", "received", 0.012),
    ("total_graft_miss", "received", 0.0005),
    ("total_skipped_send", "sent", 0.002),
    ("total_ihave_overflow", "sent", 0.0),
    ("total_ignored", "received", 0.001),
)


def stats_report(state: NodeState, t: float) -> dict[str, Any]:
    state.advance(t)
    profile = state.profile
    counters = state.counters
    rin, cin, rout, cout, bytes_in, bytes_out, sctp = state.media_totals()
    ongoing = len(state.live)
    report: dict[str, Any] = {}
    if profile.version is not None:
        report["version"] = profile.version
    report["average_duration_sec"] = (
        counters.duration_sec // counters.destroyed if counters.destroyed else 0
    )
    report["average_setup_time_msec"] = (
        counters.setup_ms // counters.successful if counters.successful else 0
    )
    if profile.modern_stats:
        report.update(
            total_connection_created=counters.successful,
            total_connection_updated=counters.updated,
            total_connection_destroyed=counters.destroyed,
        )
    report.update(
        total_successful_connections=counters.successful,
        total_failed_connections=counters.failed,
        total_ongoing_connections=ongoing,
        total_duration_sec=counters.duration_sec,
    )
    if profile.modern_stats:
        report.update(_modern_counters(state, rin + cin, rout + cout, bytes_in, bytes_out, sctp))
    if profile.stats_browser:
        report["browser"] = {
            "total_failed_browser_type": dict(zip(BROWSERS, counters.kind_failed, strict=True)),
            "total_successful_browser_type": dict(
                zip(BROWSERS, counters.kind_successful, strict=True)
            ),
        }
    if profile.stats_error:
        report["error"] = {
            "sdp_generation_error": counters.sdp_errors,
            "signaling_error": counters.signaling_errors,
        }
    if profile.modern_stats:
        report["sora_client"] = {
            "total_failed_sora_client_type": dict(
                zip(SORA_CLIENTS, counters.kind_failed, strict=True)
            ),
            "total_successful_sora_client_type": dict(
                zip(SORA_CLIENTS, counters.kind_successful, strict=True)
            ),
        }
    report["erlang_vm"] = state.vm.report(
        state.gauges,
        uptime=state.uptime(),
        connections=ongoing,
        media_in=bytes_in,
        media_out=bytes_out,
    )
    if profile.modern_stats and state.peers:
        report["cluster"] = {
            "raft_state": "leader" if state.raft_leader else "follower",
            "raft_term": state.raft_term,
            "raft_commit_index": state.raft_commit0
            + counters.sessions_created
            + counters.sessions_destroyed,
        }
        report["cluster_relay"] = [_relay(state, i) for i in range(len(state.peers))]
    return report


def _modern_counters(
    state: NodeState, packets_in: int, packets_out: int, bytes_in: int, bytes_out: int, sctp: int
) -> dict[str, int]:
    c = state.counters
    return {
        "total_turn_udp_connections": c.turn_udp,
        "total_turn_tcp_connections": c.turn_tcp,
        "total_session_created": c.sessions_created,
        "total_session_destroyed": c.sessions_destroyed,
        "total_received_invalid_turn_tcp_packet": c.turn_tcp // 40,
        "total_auth_webhook_allowed": c.successful,
        "total_auth_webhook_denied": c.auth_denied,
        "total_successful_auth_webhook": c.successful + c.auth_denied,
        "total_failed_auth_webhook": 0,
        "total_successful_session_webhook": c.sessions_created + c.sessions_destroyed,
        "total_failed_session_webhook": 0,
        "total_ignored_session_webhook": 0,
        "total_successful_event_webhook": c.successful + c.destroyed + c.updated,
        "total_failed_event_webhook": 0,
        "total_ignored_event_webhook": 0,
        "total_successful_stats_webhook": 0,
        "total_failed_stats_webhook": 0,
        "total_ignored_stats_webhook": 0,
        "total_received_srtp": packets_in,
        "total_received_srtp_byte_size": bytes_in,
        "total_sent_srtp": packets_out,
        "total_sent_srtp_byte_size": bytes_out,
        "total_sent_srtp_sfu_delay_us": packets_out * SFU_DELAY_US,
        # one packet in 5000 fails authentication
        "total_decrypted_srtp": packets_in * 4999 // 5000,
        "total_decrypted_srtp_byte_size": bytes_in * 4999 // 5000,
        "total_received_sctp": sctp,
        "total_received_sctp_byte_size": sctp * SCTP_MESSAGE_SIZE,
        "total_sent_sctp": sctp * 2,
        "total_sent_sctp_byte_size": sctp * 2 * SCTP_MESSAGE_SIZE,
    }


def _relay(state: NodeState, index: int) -> dict[str, Any]:
    peer = state.peers[index]
    received, sent = state.relay_counts(peer)
    counts = {"received": received, "sent": sent}
    return {
        "node_name": peer.node_name,
        "total_received_byte_size": received * 212,
        "total_sent_byte_size": sent * 198,
        "total_received": received,
        "total_sent": sent,
        "plumtree": {name: int(counts[side] * share) for name, side, share in PLUMTREE_SHARES},
    }
