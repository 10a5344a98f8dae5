"""GetStatsAllConnections elements, one builder per Sora generation.

Field names follow the reference (sections b and c) exactly. Builders return fresh
top-level dicts, but sections that are all zeros (turn of a non-TURN connection, ...)
are shared between connections: treat the documents as read-only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sorabeat.sora.simulator.connection import (
    RECEIVES,
    RTCP_IN_SIZE,
    RTCP_OUT_SIZE,
    SENDS,
    SIMULCAST,
    SIMULCAST_AUTO,
    SIMULCAST_LAYERS,
    SPOTLIGHT,
    TURN,
    VIDEO,
    Connection,
    Media,
)

Document = dict[str, Any]
ConnectionBuilder = Callable[[Connection, float, str], Document]


def _rtcp_ratios(flags: int, *, from_client: bool) -> tuple[float, ...]:
    """Shares of RTCP compound packets that carry (afb, pli, rr, nack, twcc, sdes, sr).

    The client sends sender reports for what it sends and feedback for what it
    receives; Sora does the mirror image. Kinds are counted per sub-packet, so the
    shares add up to more than one, as in Sora's own numbers.
    """
    reports, feedback = (SENDS, RECEIVES) if from_client else (RECEIVES, SENDS)
    if flags & reports and flags & feedback:
        sr = 0.15
    elif flags & reports:
        sr = 1.0
    else:
        sr = 0.0
    fb = 1.0 - sr
    video = 1.0 if flags & VIDEO else 0.0
    afb, pli, nack, twcc = (0.5, 0.01, 0.06, 0.7) if from_client else (0.4, 0.02, 0.05, 0.6)
    return (afb * fb * video, pli * fb * video, fb, nack * fb, twcc * fb, 1.0, sr)


_FROM_CLIENT = [_rtcp_ratios(f, from_client=True) for f in range(8)]
_FROM_SORA = [_rtcp_ratios(f, from_client=False) for f in range(8)]


def _rtcp_kinds(c: Connection, m: Media) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(afb, pli, rr, nack, twcc, sdes, sr) counts of RTCP from the client and from Sora:
    the steady shares of the steady RTCP, plus the loss bursts' NACKs and PLIs."""
    a = _FROM_CLIENT[c.flags & 7]
    b = _FROM_SORA[c.flags & 7]
    steady_in = m.cin - m.nack_in - m.pli_in
    steady_out = m.cout - m.nack_out - m.pli_out
    kinds_in = [int(steady_in * share) for share in a]
    kinds_out = [int(steady_out * share) for share in b]
    kinds_in[1] += m.pli_in
    kinds_in[3] += m.nack_in
    kinds_out[1] += m.pli_out
    kinds_out[3] += m.nack_out
    return tuple(kinds_in), tuple(kinds_out)


def rtp_2017(c: Connection, m: Media) -> Document:
    rin, cin, rout, cout = m.rin, m.cin, m.rout, m.cout
    kinds_in, kinds_out = _rtcp_kinds(c, m)
    return {
        "total_received_bytes": rin * c.size_in + cin * RTCP_IN_SIZE,
        "total_received_packets": rin + cin,
        "total_received_rtp": rin,
        "total_received_rtcp": cin,
        "total_received_rtcp_bye": 0,
        "total_received_rtcp_psfb_afb": kinds_in[0],
        "total_received_rtcp_psfb_fir": 0,
        "total_received_rtcp_psfb_pli": kinds_in[1],
        "total_received_rtcp_rr": kinds_in[2],
        "total_received_rtcp_rtpfb_generic_nack": kinds_in[3],
        "total_received_rtcp_rtpfb_tmmbn": 0,
        "total_received_rtcp_rtpfb_tmmbr": 0,
        "total_received_rtcp_rtpfb_transport_wide": kinds_in[4],
        "total_received_rtcp_sdes": kinds_in[5],
        "total_received_rtcp_sr": kinds_in[6],
        "total_received_rtcp_unknown": 0,
        "total_received_rtcp_xr": 0,
        "total_sent_bytes": rout * c.size_out + cout * RTCP_OUT_SIZE,
        "total_sent_packets": rout + cout,
        "total_sent_rtp": rout,
        "total_sent_rtcp": cout,
        "total_sent_rtcp_bye": 0,
        "total_sent_rtcp_psfb_afb": kinds_out[0],
        "total_sent_rtcp_psfb_fir": 0,
        "total_sent_rtcp_psfb_pli": kinds_out[1],
        "total_sent_rtcp_rr": kinds_out[2],
        "total_sent_rtcp_rtpfb_generic_nack": kinds_out[3],
        "total_sent_rtcp_rtpfb_tmmbn": 0,
        "total_sent_rtcp_rtpfb_tmmbr": 0,
        "total_sent_rtcp_rtpfb_transport_wide": kinds_out[4],
        "total_sent_rtcp_sdes": kinds_out[5],
        "total_sent_rtcp_sr": kinds_out[6],
        "total_sent_rtcp_unknown": 0,
        "total_sent_rtcp_xr": 0,
    }


def rtp_split(c: Connection, m: Media) -> Document:
    """The Sora 18.10.04 names: byte sizes split into RTP and RTCP."""
    rin, cin, rout, cout = m.rin, m.cin, m.rout, m.cout
    kinds_in, kinds_out = _rtcp_kinds(c, m)
    rtp_in = rin * c.size_in
    rtcp_in = cin * RTCP_IN_SIZE
    rtp_out = rout * c.size_out
    rtcp_out = cout * RTCP_OUT_SIZE
    return {
        "total_received": rin + cin,
        "total_received_byte_size": rtp_in + rtcp_in,
        "total_received_rtp": rin,
        "total_received_rtp_byte_size": rtp_in,
        "total_received_rtcp": cin,
        "total_received_rtcp_byte_size": rtcp_in,
        "total_received_rtcp_bye": 0,
        "total_received_rtcp_psfb_afb": kinds_in[0],
        "total_received_rtcp_psfb_fir": 0,
        "total_received_rtcp_psfb_pli": kinds_in[1],
        "total_received_rtcp_rr": kinds_in[2],
        "total_received_rtcp_rtpfb_generic_nack": kinds_in[3],
        "total_received_rtcp_rtpfb_tmmbn": 0,
        "total_received_rtcp_rtpfb_tmmbr": 0,
        "total_received_rtcp_rtpfb_transport_wide": kinds_in[4],
        "total_received_rtcp_sdes": kinds_in[5],
        "total_received_rtcp_sr": kinds_in[6],
        "total_received_rtcp_unknown": 0,
        "total_received_rtcp_xr": 0,
        "total_sent": rout + cout,
        "total_sent_byte_size": rtp_out + rtcp_out,
        "total_sent_rtp": rout,
        "total_sent_rtp_byte_size": rtp_out,
        "total_sent_rtcp": cout,
        "total_sent_rtcp_byte_size": rtcp_out,
        "total_sent_rtcp_bye": 0,
        "total_sent_rtcp_psfb_afb": kinds_out[0],
        "total_sent_rtcp_psfb_fir": 0,
        "total_sent_rtcp_psfb_pli": kinds_out[1],
        "total_sent_rtcp_rr": kinds_out[2],
        "total_sent_rtcp_rtpfb_generic_nack": kinds_out[3],
        "total_sent_rtcp_rtpfb_tmmbn": 0,
        "total_sent_rtcp_rtpfb_tmmbr": 0,
        "total_sent_rtcp_rtpfb_transport_wide": kinds_out[4],
        "total_sent_rtcp_sdes": kinds_out[5],
        "total_sent_rtcp_sr": kinds_out[6],
        "total_sent_rtcp_unknown": 0,
        "total_sent_rtcp_xr": 0,
    }


TURN_KEYS = (
    "total_received_allocate_request",
    "total_received_binding_request",
    "total_received_channel_bind_request",
    "total_received_channel_data",
    "total_received_create_permission_request",
    "total_received_refresh_request",
    "total_received_send_indication",
    "total_received_turn_binding_error",
    "total_received_turn_binding_request",
    "total_received_turn_binding_success",
    "total_sent_allocate_error",
    "total_sent_allocate_success",
    "total_sent_binding_error",
    "total_sent_binding_success",
    "total_sent_channel_bind_error",
    "total_sent_channel_bind_success",
    "total_sent_channel_data",
    "total_sent_create_permission_error",
    "total_sent_create_permission_success",
    "total_sent_data_indication",
    "total_sent_refresh_error",
    "total_sent_refresh_success",
    "total_sent_turn_binding_error",
    "total_sent_turn_binding_request",
    "total_sent_turn_binding_success",
)
_NO_TURN: Document = dict.fromkeys(TURN_KEYS, 0)


def turn(c: Connection, m: Media) -> Document:
    """TURN counters: an allocation (first try answered 401), permissions and channel
    binding refreshed every few minutes, consent checks, media in channel data."""
    if not c.flags & TURN:
        return _NO_TURN
    tau, rin, cin, rout, cout = m.tau, m.rin, m.cin, m.rout, m.cout
    bind = 1 + int(tau / 300.0)
    permission = 1 + int(tau / 240.0)
    refresh = int(tau / 540.0)
    checks = int(tau / 2.5)
    return {
        "total_received_allocate_request": 2,
        "total_received_binding_request": 0,
        "total_received_channel_bind_request": bind,
        "total_received_channel_data": rin + cin,
        "total_received_create_permission_request": permission,
        "total_received_refresh_request": refresh,
        "total_received_send_indication": 3,
        "total_received_turn_binding_error": 0,
        "total_received_turn_binding_request": checks,
        "total_received_turn_binding_success": checks,
        "total_sent_allocate_error": 1,
        "total_sent_allocate_success": 1,
        "total_sent_binding_error": 0,
        "total_sent_binding_success": 0,
        "total_sent_channel_bind_error": 0,
        "total_sent_channel_bind_success": bind,
        "total_sent_channel_data": rout + cout,
        "total_sent_create_permission_error": 0,
        "total_sent_create_permission_success": permission,
        "total_sent_data_indication": 2,
        "total_sent_refresh_error": 0,
        "total_sent_refresh_success": refresh,
        "total_sent_turn_binding_error": 0,
        "total_sent_turn_binding_request": checks,
        "total_sent_turn_binding_success": checks,
    }


def _simulcast_layer(packets: int, size: int) -> Document:
    padding = int(packets * 0.01)
    rtx = int(packets * 0.004)
    return {
        "rtp": {
            "total_decrypt_skipped_srtp": 0,
            "total_received_rtp": packets,
            "total_received_rtp_byte_size": packets * size,
            "total_received_rtp_padding": padding,
            "total_received_rtp_padding_size": padding * 256,
            "total_received_rtp_red": 0,
            "total_received_rtp_red_rtx": 0,
            "total_received_rtp_red_ulpfec": 0,
            "total_received_rtp_rtx": rtx,
        },
        "rtp_hdrext": {
            "total_received_rtp_hdrext_abs_send_time": packets,
            "total_received_rtp_hdrext_audio_level": 0,
            "total_received_rtp_hdrext_av1_rtp_sepc": 0,
            "total_received_rtp_hdrext_color_space": 0,
            "total_received_rtp_hdrext_inband_cn": 0,
            "total_received_rtp_hdrext_playout_delay": 0,
            "total_received_rtp_hdrext_sdes_mid": min(packets, 120),
            "total_received_rtp_hdrext_sdes_repaired_rtp_stream_id": min(rtx, 40),
            "total_received_rtp_hdrext_sdes_rtp_stream_id": min(packets, 120),
            "total_received_rtp_hdrext_toffset": 0,
            "total_received_rtp_hdrext_transport_wide_cc": packets,
            "total_received_rtp_hdrext_unknown": 0,
            "total_received_rtp_hdrext_video_content_type": int(packets * 0.02),
            "total_received_rtp_hdrext_video_orientation": int(packets * 0.03),
            "total_received_rtp_hdrext_video_timing": int(packets * 0.01),
            "total_received_rtp_hdrext_video_composition_time": 0,
        },
    }


_NOT_SIMULCAST: Document = {}


def simulcast(c: Connection, rin: int) -> Document:
    """r0..r2 for simulcast senders only (the reference infers that); {} otherwise."""
    if not c.flags & SIMULCAST:
        return _NOT_SIMULCAST
    return {rid: _simulcast_layer(int(rin * share), size) for rid, share, size in SIMULCAST_LAYERS}


_NO_SIMULCAST_AUTO: Document = {
    "target_sender_count": 0,
    "total_switched": 0,
    "total_up_trend": 0,
    "total_history_not_ready": 0,
}
_NO_SPOTLIGHT: Document = {
    "total_spotlight_audible_to_focus_delay_us": 0,
    "total_spotlight_focus_failed": 0,
    "total_spotlight_focus_succeeded": 0,
    "total_spotlight_unfocus_audio_no_room": 0,
    "total_spotlight_unfocus_audio_out_packet": 0,
    "total_spotlight_unfocus_audio_publish": 0,
}
_DTLS: Document = {"total_received_dtls": 4, "total_sent_dtls": 5}


def connection_2017(c: Connection, t: float, timestamp: str) -> Document:
    m = c.media(t)
    return {
        "channel_id": c.channel.name,
        "client_id": c.client_id,
        "timestamp": timestamp,
        "rtp": rtp_2017(c, m),
        "turn": turn(c, m),
    }


def connection_2018(c: Connection, t: float, timestamp: str) -> Document:
    m = c.media(t)
    return {
        "channel_id": c.channel.name,
        "client_id": c.client_id,
        "connection_id": c.connection_id,
        "timestamp": timestamp,
        "rtp": rtp_split(c, m),
        "turn": turn(c, m),
    }


def connection_current(c: Connection, t: float, timestamp: str) -> Document:
    m = c.media(t)
    tau = m.tau
    flags = c.flags
    if flags & SIMULCAST_AUTO:
        simulcast_auto = {
            "target_sender_count": 2,
            "total_switched": int(tau / 30.0),
            "total_up_trend": int(tau / 60.0),
            "total_history_not_ready": min(int(tau), 3),
        }
    else:
        simulcast_auto = _NO_SIMULCAST_AUTO
    if flags & SPOTLIGHT:
        focused = int(tau / 45.0)
        spotlight = {
            "total_spotlight_audible_to_focus_delay_us": focused * 180_000,
            "total_spotlight_focus_failed": 0,
            "total_spotlight_focus_succeeded": focused,
            "total_spotlight_unfocus_audio_no_room": int(tau / 400.0),
            "total_spotlight_unfocus_audio_out_packet": int(tau / 50.0),
            "total_spotlight_unfocus_audio_publish": int(tau / 600.0),
        }
    else:
        spotlight = _NO_SPOTLIGHT
    unsettled = int(tau / 211.0)
    return {
        "timestamp": timestamp,
        "channel_id": c.channel.name,
        "group_id": c.channel.group_id,
        "session_id": c.channel.session_id,
        "client_id": c.client_id,
        "bundle_id": c.connection_id,
        "connection_id": c.connection_id,
        "rtp": rtp_split(c, m),
        "turn": turn(c, m),
        "simulcast": simulcast(c, m.rin),
        "simulcast_auto": simulcast_auto,
        "spotlight": spotlight,
        "dtls": _DTLS,
        "network_status": {
            "unstable_level": 1 if unsettled & 1 else 0,
            "total_unstable_level0": 1 + unsettled,
            "total_unstable_level1": unsettled,
            "total_unstable_level2": int(tau / 900.0),
            "total_unstable_level3": int(tau / 3600.0),
        },
        "ice_connection_state": {
            "total_checking_req": 1,
            "total_connected_req": 1 + int(tau / 1800.0),
            "total_connected_ack": 1 + int(tau / 1800.0),
        },
    }


BUILDERS: dict[str, ConnectionBuilder] = {
    "2017": connection_2017,
    "2018": connection_2018,
    "current": connection_current,
}
