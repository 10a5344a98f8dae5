"""Simulated Sora documents against the reference (shared/reference/sora-api.md).

The key lists below are copied from the reference's field catalog and samples, not from
the generator, so a renamed or missing field fails here.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sorabeat.simulator.profiles import PROFILES
from sorabeat.simulator.report import stats_report
from sorabeat.simulator.state import NodeState

EPOCH = 1_700_000_000.25  # 2023-11-14T22:13:20.25Z

# -- GetStatsReport (reference b, c.1, c.2) -----------------------------------------------

STATS_2017 = {
    "average_duration_sec",
    "average_setup_time_msec",
    "browser",
    "erlang_vm",
    "total_duration_sec",
    "total_failed_connections",
    "total_ongoing_connections",
    "total_successful_connections",
}
STATS_2018 = STATS_2017 | {"error"}
STATS_CURRENT = {
    "version",
    "average_duration_sec",
    "average_setup_time_msec",
    "total_connection_created",
    "total_connection_updated",
    "total_connection_destroyed",
    "total_successful_connections",
    "total_failed_connections",
    "total_ongoing_connections",
    "total_duration_sec",
    "total_turn_udp_connections",
    "total_turn_tcp_connections",
    "total_session_created",
    "total_session_destroyed",
    "total_received_invalid_turn_tcp_packet",
    "total_auth_webhook_allowed",
    "total_auth_webhook_denied",
    "total_successful_auth_webhook",
    "total_failed_auth_webhook",
    "total_successful_session_webhook",
    "total_failed_session_webhook",
    "total_ignored_session_webhook",
    "total_successful_event_webhook",
    "total_failed_event_webhook",
    "total_ignored_event_webhook",
    "total_successful_stats_webhook",
    "total_failed_stats_webhook",
    "total_ignored_stats_webhook",
    "total_received_srtp",
    "total_received_srtp_byte_size",
    "total_sent_srtp",
    "total_sent_srtp_byte_size",
    "total_sent_srtp_sfu_delay_us",
    "total_decrypted_srtp",
    "total_decrypted_srtp_byte_size",
    "total_received_sctp",
    "total_received_sctp_byte_size",
    "total_sent_sctp",
    "total_sent_sctp_byte_size",
    "error",
    "sora_client",
    "erlang_vm",
    "cluster",
    "cluster_relay",
}
STATS_KEYS = {"2017": STATS_2017, "2018": STATS_2018, "current": STATS_CURRENT}
BROWSER_TYPES = {"chrome", "edge", "firefox", "safari", "unknown"}
SORA_CLIENT_TYPES = {
    "sora_android_sdk",
    "sora_c_sdk",
    "sora_cpp_sdk",
    "sora_flutter_sdk",
    "sora_ios_sdk",
    "sora_js_sdk",
    "sora_unity_sdk",
    "sora_python_sdk",
    "obs_studio_whip",
    "obs_studio_whep",
    "unknown",
    "webrtc_load_testing_tool_zakuro",
    "webrtc_native_client_momo",
}
MEMORY_KEYS = {
    "total",
    "processes",
    "processes_used",
    "system",
    "atom",
    "atom_used",
    "binary",
    "code",
    "ets",
}
STATISTICS_KEYS = {
    "active_tasks",
    "active_tasks_all",
    "run_queue_lengths",
    "run_queue_lengths_all",
    "total_active_tasks",
    "total_active_tasks_all",
    "total_run_queue_lengths",
    "total_run_queue_lengths_all",
    "run_queue",
    "context_switches",
    "reductions",
    "exact_reductions",
    "garbage_collection",
    "io",
    "runtime",
    "wall_clock",
}
STATISTICS_OBJECTS = {
    "reductions": {"reductions_since_last_call", "total_reductions"},
    "exact_reductions": {"exact_reductions_since_last_call", "total_exact_reductions"},
    "garbage_collection": {"number_of_gcs", "words_reclaimed"},
    "io": {"input", "output"},
    "runtime": {"time_since_last_call", "total_run_time"},
    "wall_clock": {"wallclock_time_since_last_call", "total_wallclock_time"},
}
CLUSTER_KEYS = {"raft_state", "raft_term", "raft_commit_index"}
RELAY_KEYS = {
    "node_name",
    "total_received_byte_size",
    "total_sent_byte_size",
    "total_received",
    "total_sent",
    "plumtree",
}
PLUMTREE_KEYS = {
    "total_sent_gossip",
    "total_received_gossip",
    "total_received_gossip_hop",
    "total_sent_ihave",
    "total_received_ihave",
    "total_sent_graft",
    "total_received_graft",
    "total_sent_prune",
    "total_received_prune",
    "total_graft_miss",
    "total_skipped_send",
    "total_ihave_overflow",
    "total_ignored",
}
STATS_STRINGS = {"version", "raft_state", "node_name"}

# -- GetStatsAllConnections (reference b, c.3, c.4) ---------------------------------------

RTCP_KINDS = [
    "bye",
    "psfb_afb",
    "psfb_fir",
    "psfb_pli",
    "rr",
    "rtpfb_generic_nack",
    "rtpfb_tmmbn",
    "rtpfb_tmmbr",
    "rtpfb_transport_wide",
    "sdes",
    "sr",
    "unknown",
    "xr",
]
RTP_2017 = {
    f"total_{d}_{k}"
    for d in ("received", "sent")
    for k in ("bytes", "packets", "rtp", "rtcp", *(f"rtcp_{kind}" for kind in RTCP_KINDS))
}
RTP_1810 = {
    f"total_{d}{k}"
    for d in ("received", "sent")
    for k in (
        "",
        "_byte_size",
        "_rtp",
        "_rtp_byte_size",
        "_rtcp",
        "_rtcp_byte_size",
        *(f"_rtcp_{kind}" for kind in RTCP_KINDS),
    )
}
TURN_KEYS = {
    f"total_received_{k}"
    for k in (
        "allocate_request",
        "binding_request",
        "channel_bind_request",
        "channel_data",
        "create_permission_request",
        "refresh_request",
        "send_indication",
        "turn_binding_error",
        "turn_binding_request",
        "turn_binding_success",
    )
} | {
    f"total_sent_{k}"
    for k in (
        "allocate_error",
        "allocate_success",
        "binding_error",
        "binding_success",
        "channel_bind_error",
        "channel_bind_success",
        "channel_data",
        "create_permission_error",
        "create_permission_success",
        "data_indication",
        "refresh_error",
        "refresh_success",
        "turn_binding_error",
        "turn_binding_request",
        "turn_binding_success",
    )
}
CONNECTION_2017 = {"channel_id", "client_id", "timestamp", "rtp", "turn"}
CONNECTION_2018 = CONNECTION_2017 | {"connection_id"}
CONNECTION_CURRENT = CONNECTION_2018 | {
    "group_id",
    "session_id",
    "bundle_id",
    "simulcast",
    "simulcast_auto",
    "spotlight",
    "dtls",
    "network_status",
    "ice_connection_state",
}
CONNECTION_KEYS = {"2017": CONNECTION_2017, "2018": CONNECTION_2018, "current": CONNECTION_CURRENT}
SIMULCAST_RTP = {
    "total_decrypt_skipped_srtp",
    "total_received_rtp",
    "total_received_rtp_byte_size",
    "total_received_rtp_padding",
    "total_received_rtp_padding_size",
    "total_received_rtp_red",
    "total_received_rtp_red_rtx",
    "total_received_rtp_red_ulpfec",
    "total_received_rtp_rtx",
}
SIMULCAST_HDREXT = {
    f"total_received_rtp_hdrext_{ext}"
    for ext in (
        "abs_send_time",
        "audio_level",
        "av1_rtp_sepc",
        "color_space",
        "inband_cn",
        "playout_delay",
        "sdes_mid",
        "sdes_repaired_rtp_stream_id",
        "sdes_rtp_stream_id",
        "toffset",
        "transport_wide_cc",
        "unknown",
        "video_content_type",
        "video_orientation",
        "video_timing",
        "video_composition_time",
    )
}
MODERN_SECTIONS = {
    "simulcast_auto": {
        "target_sender_count",
        "total_switched",
        "total_up_trend",
        "total_history_not_ready",
    },
    "spotlight": {
        "total_spotlight_audible_to_focus_delay_us",
        "total_spotlight_focus_failed",
        "total_spotlight_focus_succeeded",
        "total_spotlight_unfocus_audio_no_room",
        "total_spotlight_unfocus_audio_out_packet",
        "total_spotlight_unfocus_audio_publish",
    },
    "dtls": {"total_received_dtls", "total_sent_dtls"},
    "network_status": {
        "unstable_level",
        "total_unstable_level0",
        "total_unstable_level1",
        "total_unstable_level2",
        "total_unstable_level3",
    },
    "ice_connection_state": {"total_connected_req", "total_connected_ack", "total_checking_req"},
}
ID_FIELDS = {"channel_id", "client_id", "connection_id", "group_id", "session_id", "bundle_id"}
CROCKFORD_ID = re.compile(r"^[0-9ABCDEFGHJKMNPQRSTVWXYZ]{26}$")
SECONDS_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
MICRO_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

# Gauges: may go down between calls. Every other number is a counter.
STATS_GAUGES = {
    "average_duration_sec",
    "average_setup_time_msec",
    "total_ongoing_connections",
    "active_tasks",
    "active_tasks_all",
    "run_queue_lengths",
    "run_queue_lengths_all",
    "total_active_tasks",
    "total_active_tasks_all",
    "total_run_queue_lengths",
    "total_run_queue_lengths_all",
    "run_queue",
    "reductions_since_last_call",
    "exact_reductions_since_last_call",
    "time_since_last_call",
    "wallclock_time_since_last_call",
    *MEMORY_KEYS,
}
CONNECTION_GAUGES = {"unstable_level", "target_sender_count"}


def node(profile: str, connections: int = 40, **kwargs: Any) -> NodeState:
    kwargs.setdefault("seed", 7)
    kwargs.setdefault("epoch", EPOCH)
    return NodeState(PROFILES[profile], connections=connections, **kwargs)


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, value) of every scalar; list items are ``path[i]``."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from leaves(item, f"{path}[{i}]")
    else:
        yield path, value


def is_int(value: Any) -> bool:
    return type(value) is int


# -- key sets and types -------------------------------------------------------------------


@pytest.mark.parametrize("profile", list(PROFILES))
def test_stats_report_has_exactly_the_reference_keys(profile: str) -> None:
    report = stats_report(node(profile), 5.0)
    assert set(report) == STATS_KEYS[profile]
    statistics = report["erlang_vm"]["statistics"]
    assert set(report["erlang_vm"]) == {"memory", "statistics"}
    assert set(report["erlang_vm"]["memory"]) == MEMORY_KEYS
    assert set(statistics) == STATISTICS_KEYS
    for name, keys in STATISTICS_OBJECTS.items():
        assert set(statistics[name]) == keys, name
    if profile in ("2018", "current"):
        assert set(report["error"]) == {"sdp_generation_error", "signaling_error"}
    if profile != "current":
        browser = report["browser"]
        assert set(browser) == {"total_failed_browser_type", "total_successful_browser_type"}
        assert all(set(kinds) == BROWSER_TYPES for kinds in browser.values())
    else:
        clients = report["sora_client"]
        assert set(clients) == {
            "total_failed_sora_client_type",
            "total_successful_sora_client_type",
        }
        assert all(set(kinds) == SORA_CLIENT_TYPES for kinds in clients.values())
        assert set(report["cluster"]) == CLUSTER_KEYS
        assert report["cluster"]["raft_state"] in ("follower", "leader", "candidate")
        assert len(report["cluster_relay"]) == 2
        for relay in report["cluster_relay"]:
            assert set(relay) == RELAY_KEYS
            assert set(relay["plumtree"]) == PLUMTREE_KEYS


@pytest.mark.parametrize("profile", list(PROFILES))
def test_stats_report_numbers_are_integers_and_strings_only_where_the_reference_says(
    profile: str,
) -> None:
    report = stats_report(node(profile), 5.0)
    for path, value in leaves(report):
        if path.rsplit(".", 1)[-1] in STATS_STRINGS:  # cluster_relay[0].node_name too
            assert isinstance(value, str), path
            assert value, path
        else:
            assert is_int(value), (path, value)
            assert value >= 0, (path, value)


def test_a_node_without_cluster_peers_reports_no_cluster() -> None:
    report = stats_report(node("current", cluster_peers=0), 5.0)
    assert set(report) == STATS_CURRENT - {"cluster", "cluster_relay"}


@pytest.mark.parametrize("profile", list(PROFILES))
def test_connections_have_exactly_the_reference_keys(profile: str) -> None:
    documents = node(profile, 60).connection_documents(5.0)
    assert len(documents) == 60
    simulcast_senders = 0
    for doc in documents:
        assert set(doc) == CONNECTION_KEYS[profile]
        assert set(doc["rtp"]) == (RTP_2017 if profile == "2017" else RTP_1810)
        assert set(doc["turn"]) == TURN_KEYS
        if profile != "current":
            continue
        for section, keys in MODERN_SECTIONS.items():
            assert set(doc[section]) == keys, section
        if doc["simulcast"]:
            simulcast_senders += 1
            assert set(doc["simulcast"]) == {"r0", "r1", "r2"}
            for layer in doc["simulcast"].values():
                assert set(layer) == {"rtp", "rtp_hdrext"}
                assert set(layer["rtp"]) == SIMULCAST_RTP
                assert set(layer["rtp_hdrext"]) == SIMULCAST_HDREXT
    if profile == "current":
        assert 0 < simulcast_senders < len(documents)  # senders have layers, others {}
    assert len(RTP_2017) == 34
    assert len(RTP_1810) == 38
    assert len(TURN_KEYS) == 25


@pytest.mark.parametrize("profile", list(PROFILES))
def test_connection_values_are_ints_and_id_strings(profile: str) -> None:
    for doc in node(profile, 30).connection_documents(5.0):
        for path, value in leaves(doc):
            if path in ID_FIELDS or path == "timestamp":
                assert isinstance(value, str), path
                assert value, path
            else:
                assert is_int(value), (path, value)
                assert value >= 0, (path, value)


def test_2017_client_ids_are_uuids_and_timestamps_have_seconds() -> None:
    state = node("2017", 30)
    documents = state.connection_documents(12.5)
    ids = {doc["client_id"] for doc in documents}
    assert len(ids) == 30
    for doc in documents:
        assert str(uuid.UUID(doc["client_id"])) == doc["client_id"]
        assert uuid.UUID(doc["client_id"]).version == 4
        assert doc["timestamp"] == "2023-11-14T22:13:32Z"  # EPOCH + 12.5 s, seconds only


@pytest.mark.parametrize("profile", ["2018", "current"])
def test_later_ids_are_crockford_base32_and_timestamps_have_microseconds(profile: str) -> None:
    documents = node(profile, 30).connection_documents(12.5)
    connection_ids = {doc["connection_id"] for doc in documents}
    assert len(connection_ids) == 30
    fields = ID_FIELDS - {"channel_id"} if profile == "current" else {"client_id", "connection_id"}
    for doc in documents:
        for name in fields:
            assert CROCKFORD_ID.match(doc[name]), (name, doc[name])
        assert doc["timestamp"] == "2023-11-14T22:13:32.750000Z"  # EPOCH + 12.5 s
        assert MICRO_STAMP.match(doc["timestamp"])
    assert SECONDS_STAMP.match("2017-11-16T05:16:02Z")  # the pattern itself is sound


# -- internal consistency -----------------------------------------------------------------


@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize("schedulers", [1, 4, 16])
def test_erlang_lists_are_sized_by_schedulers_and_totals_are_sums(
    profile: str, schedulers: int
) -> None:
    state = node(profile, 500, schedulers=schedulers)
    for t in (1.0, 2.0, 30.0):
        statistics = stats_report(state, t)["erlang_vm"]["statistics"]
        for name in ("active_tasks", "run_queue_lengths"):
            assert len(statistics[name]) == schedulers + 1
            assert len(statistics[f"{name}_all"]) == schedulers + 2
            assert statistics[f"{name}_all"][: schedulers + 1] == statistics[name]
            assert statistics[f"total_{name}"] == sum(statistics[name])
            assert statistics[f"total_{name}_all"] == sum(statistics[f"{name}_all"])
        assert statistics["run_queue"] == statistics["total_run_queue_lengths"]
        for queued, active in zip(
            statistics["run_queue_lengths"], statistics["active_tasks"], strict=True
        ):
            assert queued <= active


@pytest.mark.parametrize("profile", list(PROFILES))
def test_memory_parts_add_up(profile: str) -> None:
    memory = stats_report(node(profile), 1.0)["erlang_vm"]["memory"]
    assert memory["total"] == memory["processes"] + memory["system"]
    assert memory["processes_used"] <= memory["processes"]
    assert memory["atom_used"] <= memory["atom"]
    assert memory["atom"] + memory["binary"] + memory["code"] + memory["ets"] <= memory["system"]


@pytest.mark.parametrize("profile", list(PROFILES))
def test_ongoing_connections_is_the_number_listed(profile: str) -> None:
    state = node(profile, 25, churn=30.0)  # a connection lives two seconds on average
    for t in (0.0, 3.0, 7.5, 20.0):
        listed = state.connection_documents(t)
        report = stats_report(state, t)
        assert report["total_ongoing_connections"] == len(listed) == 25


@pytest.mark.parametrize("profile", list(PROFILES))
def test_rtp_totals_are_rtp_plus_rtcp_and_bytes_fit_the_packets(profile: str) -> None:
    packets, size = ("_packets", "_bytes") if profile == "2017" else ("", "_byte_size")
    for doc in node(profile, 60).connection_documents(300.0):
        rtp = doc["rtp"]
        for d in ("received", "sent"):
            rtp_count, rtcp_count = rtp[f"total_{d}_rtp"], rtp[f"total_{d}_rtcp"]
            assert rtp[f"total_{d}{packets}"] == rtp_count + rtcp_count
            total_bytes = rtp[f"total_{d}{size}"]
            # between a bare RTCP report and a full Ethernet MTU per packet
            assert 8 * (rtp_count + rtcp_count) <= total_bytes <= 1500 * (rtp_count + rtcp_count)
            if profile != "2017":
                rtp_bytes = rtp[f"total_{d}_rtp_byte_size"]
                rtcp_bytes = rtp[f"total_{d}_rtcp_byte_size"]
                assert total_bytes == rtp_bytes + rtcp_bytes
                assert 50 * rtp_count <= rtp_bytes <= 1500 * rtp_count
                assert 8 * rtcp_count <= rtcp_bytes <= 1500 * rtcp_count
        if profile == "current" and doc["simulcast"]:
            layers = doc["simulcast"].values()
            assert sum(x["rtp"]["total_received_rtp"] for x in layers) <= rtp["total_received_rtp"]


@pytest.mark.parametrize("profile", list(PROFILES))
def test_connection_counters_agree_with_each_other(profile: str) -> None:
    state = node(profile, 80, churn=6.0)
    state.connection_documents(120.0)
    report = stats_report(state, 120.0)
    successful = report["total_successful_connections"]
    failed = report["total_failed_connections"]
    assert successful >= report["total_ongoing_connections"]
    kinds = report["browser" if profile != "current" else "sora_client"]
    by_kind = list(kinds.values())
    assert sum(by_kind[0].values()) == failed  # total_failed_*_type
    assert sum(by_kind[1].values()) == successful  # total_successful_*_type
    if profile != "2017":
        assert (
            report["error"]["signaling_error"] + report["error"]["sdp_generation_error"] <= failed
        )
    if profile == "current":
        assert report["total_connection_created"] == successful
        assert (
            report["total_connection_created"] - report["total_connection_destroyed"]
            == report["total_ongoing_connections"]
        )
        assert report["total_auth_webhook_allowed"] == successful
        assert report["total_auth_webhook_denied"] <= failed
        assert report["total_decrypted_srtp"] <= report["total_received_srtp"]
        sessions = {doc["session_id"] for doc in state.connection_documents(120.0)}
        assert report["total_session_created"] - report["total_session_destroyed"] == len(sessions)
    assert report["average_duration_sec"] == report["total_duration_sec"] // (
        successful - report["total_ongoing_connections"]
    )


def test_node_media_totals_cover_the_listed_connections() -> None:
    state = node("current", 50, churn=0.0)
    documents = state.connection_documents(60.0)
    report = stats_report(state, 60.0)
    listed = sum(d["rtp"]["total_received"] for d in documents)
    assert report["total_received_srtp"] >= listed  # plus what departed connections moved
    listed_bytes = sum(d["rtp"]["total_sent_byte_size"] for d in documents)
    assert report["total_sent_srtp_byte_size"] >= listed_bytes
    assert (
        report["erlang_vm"]["statistics"]["io"]["input"] >= report["total_received_srtp_byte_size"]
    )


# -- evolution ----------------------------------------------------------------------------


def counters(document: Any, gauges: set[str]) -> dict[str, int]:
    return {
        path: value
        for path, value in leaves(document)
        if is_int(value) and path.split(".")[-1].split("[")[0] not in gauges
    }


def assert_not_decreasing(before: dict[str, int], after: dict[str, int], where: str) -> None:
    for path, value in before.items():
        if path in after:
            assert after[path] >= value, (where, path, value, after[path])


@settings(max_examples=25, deadline=None)
@given(
    profile=st.sampled_from(list(PROFILES)),
    seed=st.integers(0, 2**32),
    connections=st.integers(0, 30),
    churn=st.sampled_from([0.0, 1.0, 20.0]),
    steps=st.lists(st.floats(0.0, 400.0), min_size=1, max_size=6),
)
def test_counters_never_decrease(
    profile: str, seed: int, connections: int, churn: float, steps: list[float]
) -> None:
    state = node(profile, connections, seed=seed, churn=churn)
    t = 0.0
    report = counters(stats_report(state, t), STATS_GAUGES)
    by_id = {d["client_id"]: counters(d, CONNECTION_GAUGES) for d in state.connection_documents(t)}
    for step in steps:
        t += step
        later = counters(stats_report(state, t), STATS_GAUGES)
        assert set(later) == set(report)
        assert_not_decreasing(report, later, "stats")
        report = later
        for d in state.connection_documents(t):
            now = counters(d, CONNECTION_GAUGES)
            if d["client_id"] in by_id:
                assert_not_decreasing(by_id[d["client_id"]], now, d["client_id"])
            by_id[d["client_id"]] = now


@pytest.mark.parametrize("profile", list(PROFILES))
def test_counters_never_decrease_over_two_hours(profile: str) -> None:
    state = node(profile, 40, churn=0.5)
    report = counters(stats_report(state, 0.0), STATS_GAUGES)
    by_id = {d["client_id"]: counters(d, CONNECTION_GAUGES) for d in state.connection_documents(0)}
    for step in range(1, 75):
        t = step * 97.3
        later = counters(stats_report(state, t), STATS_GAUGES)
        assert_not_decreasing(report, later, f"stats at {t}")
        report = later
        for d in state.connection_documents(t):
            now = counters(d, CONNECTION_GAUGES)
            assert_not_decreasing(by_id.get(d["client_id"], {}), now, f"{d['client_id']} at {t}")
            by_id[d["client_id"]] = now


@pytest.mark.parametrize("profile", list(PROFILES))
def test_counters_grow_with_time_and_traffic(profile: str) -> None:
    state = node(profile, 20, churn=0.0)
    first = {d["client_id"]: d for d in state.connection_documents(1.0)}
    before = stats_report(state, 1.0)
    later = {d["client_id"]: d for d in state.connection_documents(61.0)}
    after = stats_report(state, 61.0)
    assert set(first) == set(later)  # no churn: the same connections
    received = "total_received_packets" if profile == "2017" else "total_received"
    for client_id, doc in later.items():
        # every connection gets at least RTCP from its client
        assert doc["rtp"][received] > first[client_id]["rtp"][received]
    busiest = max(later.values(), key=lambda d: d["rtp"]["total_sent_rtp"])
    assert busiest["rtp"]["total_sent_rtp"] > 60 * 50  # 50+ packets/s for a minute
    statistics = (before["erlang_vm"]["statistics"], after["erlang_vm"]["statistics"])
    assert statistics[1]["wall_clock"]["wallclock_time_since_last_call"] == 60_000
    assert (
        statistics[1]["reductions"]["total_reductions"]
        > statistics[0]["reductions"]["total_reductions"]
    )
    if profile == "current":
        assert after["total_received_srtp"] > before["total_received_srtp"]
        assert after["total_sent_srtp_byte_size"] > before["total_sent_srtp_byte_size"]


def test_churn_replaces_connections_and_counts_them() -> None:
    state = node("current", 50, churn=6.0)  # ten-second lifetimes on average
    first = state.connection_documents(0.0)
    before = stats_report(state, 0.0)
    later = state.connection_documents(120.0)
    after = stats_report(state, 120.0)
    assert len(later) == len(first) == 50
    gone = {d["connection_id"] for d in first} - {d["connection_id"] for d in later}
    assert len(gone) > 25  # most lived less than two minutes
    destroyed = after["total_connection_destroyed"] - before["total_connection_destroyed"]
    created = after["total_connection_created"] - before["total_connection_created"]
    assert destroyed == created >= len(gone)
    assert after["total_duration_sec"] > before["total_duration_sec"]


def test_without_churn_the_same_connections_stay() -> None:
    state = node("2018", 30, churn=0.0)
    first = [d["connection_id"] for d in state.connection_documents(0.0)]
    assert [d["connection_id"] for d in state.connection_documents(3600.0)] == first


def test_set_connections_adds_and_removes_now() -> None:
    state = node("current", 10, churn=0.0)
    state.advance(5.0)
    before = stats_report(state, 5.0)
    state.set_connections(25)
    assert len(state.connection_documents(5.0)) == 25
    state.set_connections(3)
    assert len(state.connection_documents(5.0)) == 3
    after = stats_report(state, 5.0)
    assert after["total_ongoing_connections"] == 3
    assert after["total_connection_created"] - before["total_connection_created"] == 15
    assert after["total_connection_destroyed"] - before["total_connection_destroyed"] == 22
    state.set_connections(0)
    assert state.connection_documents(6.0) == []
    with pytest.raises(ValueError, match="between 0 and"):
        state.set_connections(-1)


def test_time_never_goes_back() -> None:
    state = node("current", 5)
    late = state.connection_documents(100.0)
    assert state.connection_documents(50.0) == late  # an earlier time reads as the latest


# -- determinism --------------------------------------------------------------------------


@pytest.mark.parametrize("profile", list(PROFILES))
def test_the_same_seed_gives_the_same_documents(profile: str) -> None:
    def run(seed: int) -> list[Any]:
        state = node(profile, 20, seed=seed, churn=3.0)
        out: list[Any] = []
        for t in (0.0, 10.0, 95.5):
            out.append(stats_report(state, t))
            out.append(state.connection_documents(t))
        return out

    assert run(11) == run(11)
    assert run(11) != run(12)


def test_invalid_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="churn"):
        node("current", churn=-1.0)
    with pytest.raises(ValueError, match="schedulers"):
        node("current", schedulers=0)
    with pytest.raises(ValueError, match="connections"):
        node("current", 100_001)
