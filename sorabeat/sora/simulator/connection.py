"""One simulated WebRTC connection: a few numbers from which every counter is derived.

A connection keeps no counters. Each counter is a fixed function of the connection's
*effective age* ``tau``, which grows with wall time but not evenly (a slow sine wobble,
so traffic rates vary), and never goes back: ``d tau / dt = 1 + w cos(...) > 0`` for
``w < 1``. Integer counters are floors of rate x tau, so they only grow, and 10,000
connections cost a few hundred bytes each.

Loss comes in bursts: a lossy connection (about a quarter of the video ones) has, every
``loss_period`` seconds of effective age, a burst of ``loss_length`` seconds during which
its peer sends NACKs (and, more rarely, PLIs) at a high rate on top of the steady trickle.
The seconds spent in bursts are a closed-form, non-decreasing function of ``tau``, so the
counters stay floors of non-decreasing functions and reading them costs O(1).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import NamedTuple

# flags
SENDS = 1  # the client sends media to Sora (sendrecv, sendonly)
RECEIVES = 2  # Sora forwards media to the client (sendrecv, recvonly)
VIDEO = 4
SIMULCAST = 8  # a simulcast sender: r0..r2 layers
TURN = 16  # media relayed through Sora's TURN server
TURN_TCP = 32
SPOTLIGHT = 64
SIMULCAST_AUTO = 128

RTCP_IN_SIZE = 152  # average bytes of an RTCP compound packet from the client
RTCP_OUT_SIZE = 134  # ... and from Sora
SIMULCAST_LAYERS = (("r0", 0.10, 400), ("r1", 0.25, 850), ("r2", 0.50, 1150))
SIMULCAST_PACKET_SIZE = 844  # the layer mix above plus 15% audio at 110 bytes
LOSSY_SHARE = 0.25  # of the video connections: their network loses packets in bursts
PLI_PER_NACK = 0.08  # a burst's PLIs (keyframe requests when NACKs come too late)


class Media(NamedTuple):
    """A connection's packet counts at one time: the one source of its counters and of
    what the node-wide counters add up. ``cin``/``cout`` include the bursts' RTCP."""

    tau: float
    rin: int  # RTP packets client -> Sora
    cin: int  # RTCP packets client -> Sora
    rout: int
    cout: int
    nack_in: int  # burst NACKs from the client (it lost packets Sora sent)
    pli_in: int
    nack_out: int  # burst NACKs from Sora (it lost packets the client sent)
    pli_out: int


@dataclass(slots=True)
class Channel:
    name: str
    group_id: str
    session_id: str = ""  # the live session; "" while the channel is empty
    members: int = 0
    audio_only: bool = False  # a voice room: nobody sends video


@dataclass(slots=True, eq=False)
class Connection:
    seq: int  # arrival order; unique for the simulator's lifetime
    channel: Channel
    client_id: str
    connection_id: str  # the same string object as client_id when Sora picked it
    kind: int  # index into the client type list (browser or sora_client)
    flags: int
    start: float  # simulation seconds
    end: float  # planned departure (inf: never)
    setup_ms: int
    rtp_in: float  # packets per second, client -> Sora
    rtcp_in: float
    rtp_out: float  # Sora -> client
    rtcp_out: float
    size_in: int  # average RTP packet bytes
    size_out: int
    sctp_rate: float  # data channel messages per second, each way
    amp: float  # wobble amplitude over angular frequency
    omega: float
    phase: float
    sin_phase: float
    loss_period: float = 0.0  # seconds of effective age between bursts (0: no bursts)
    loss_offset: float = 0.0  # where in the period a burst starts
    loss_length: float = 0.0  # seconds a burst lasts
    burst_nack_in: float = 0.0  # NACKs per second from the client during a burst
    burst_nack_out: float = 0.0  # NACKs per second from Sora during a burst

    def tau(self, t: float) -> float:
        """Effective age at simulation time ``t`` (non-decreasing in ``t``)."""
        age = t - self.start
        if age <= 0.0:
            return 0.0
        return age + self.amp * (math.sin(self.omega * age + self.phase) - self.sin_phase)

    def burst_seconds(self, tau: float) -> float:
        """Seconds of effective age spent in loss bursts up to ``tau`` (non-decreasing)."""
        if not self.loss_period:
            return 0.0
        periods, into = divmod(tau, self.loss_period)
        return periods * self.loss_length + min(max(into - self.loss_offset, 0.0), self.loss_length)

    def media(self, t: float) -> Media:
        tau = self.tau(t)
        burst = self.burst_seconds(tau)
        nack_in = int(self.burst_nack_in * burst)
        pli_in = int(self.burst_nack_in * PLI_PER_NACK * burst)
        nack_out = int(self.burst_nack_out * burst)
        pli_out = int(self.burst_nack_out * PLI_PER_NACK * burst)
        return Media(
            tau,
            int(self.rtp_in * tau),
            int(self.rtcp_in * tau) + nack_in + pli_in,
            int(self.rtp_out * tau),
            int(self.rtcp_out * tau) + nack_out + pli_out,
            nack_in,
            pli_in,
            nack_out,
            pli_out,
        )

    def totals(self, t: float) -> tuple[int, int, int, int, int, int, int]:
        """(rtp in, rtcp in, rtp out, rtcp out, bytes in, bytes out, sctp messages) at ``t``:
        what the node-wide counters add up; the same arithmetic as the documents."""
        tau, rin, cin, rout, cout, *_ = self.media(t)
        return (
            rin,
            cin,
            rout,
            cout,
            rin * self.size_in + cin * RTCP_IN_SIZE,
            rout * self.size_out + cout * RTCP_OUT_SIZE,
            int(self.sctp_rate * tau),
        )


def draw_connection(
    rng: random.Random,
    *,
    seq: int,
    channel: Channel,
    client_id: str,
    connection_id: str,
    kind: int,
    start: float,
    end: float,
) -> Connection:
    """A connection with a plausible role and traffic mix, drawn from ``rng``."""
    role = rng.random()
    flags = SENDS | RECEIVES if role < 0.5 else RECEIVES if role < 0.9 else SENDS
    if rng.random() < 0.85 and not channel.audio_only:
        flags |= VIDEO
        if flags & SENDS and rng.random() < 0.2:
            flags |= SIMULCAST
    if rng.random() < 0.2:
        flags |= TURN
        if rng.random() < 0.15:
            flags |= TURN_TCP
    if rng.random() < 0.1:
        flags |= SPOTLIGHT
    if flags & RECEIVES and flags & VIDEO and rng.random() < 0.1:
        flags |= SIMULCAST_AUTO
    rtp_in = rtcp_in = rtp_out = rtcp_out = 0.0
    size_in = size_out = 0
    if flags & SENDS:
        video = rng.uniform(90.0, 380.0) if flags & VIDEO else 0.0
        rtp_in = 50.0 + video
        size_in = (
            SIMULCAST_PACKET_SIZE
            if flags & SIMULCAST
            else int((50.0 * 110 + video * rng.uniform(900.0, 1150.0)) / rtp_in)
        )
        rtcp_in += rng.uniform(0.8, 2.0)  # sender reports
        rtcp_out += rng.uniform(4.0, 12.0)  # Sora's feedback on what it receives
    if flags & RECEIVES:
        rtp_out = rng.uniform(50.0, 900.0) if flags & VIDEO else rng.uniform(50.0, 200.0)
        size_out = int(rng.uniform(850.0, 1100.0)) if flags & VIDEO else int(rng.uniform(95, 140))
        rtcp_in += rng.uniform(4.0, 12.0)  # the client's feedback
        rtcp_out += rng.uniform(0.8, 4.0)  # Sora's sender reports
    omega = rng.uniform(0.01, 0.1)
    phase = rng.uniform(0.0, 2 * math.pi)
    period = offset = length = nack_in = nack_out = 0.0
    if flags & VIDEO and rng.random() < LOSSY_SHARE:
        period = rng.uniform(40.0, 300.0)
        length = rng.uniform(3.0, 20.0)
        offset = rng.uniform(0.0, period - length)
        # a receiver's NACKs ask for a share of what Sora sends it, and the mirror image
        nack_in = rtp_out * rng.uniform(0.02, 0.15) if flags & RECEIVES else 0.0
        nack_out = rtp_in * rng.uniform(0.02, 0.15) if flags & SENDS else 0.0
    return Connection(
        seq=seq,
        channel=channel,
        client_id=client_id,
        connection_id=connection_id,
        kind=kind,
        flags=flags,
        start=start,
        end=end,
        setup_ms=int(rng.triangular(60.0, 900.0, 180.0)),
        rtp_in=rtp_in,
        rtcp_in=rtcp_in,
        rtp_out=rtp_out,
        rtcp_out=rtcp_out,
        size_in=size_in,
        size_out=size_out,
        sctp_rate=rng.uniform(0.05, 1.5),
        amp=rng.uniform(0.1, 0.7) / omega,
        omega=omega,
        phase=phase,
        sin_phase=math.sin(phase),
        loss_period=period,
        loss_offset=offset,
        loss_length=length,
        burst_nack_in=nack_in,
        burst_nack_out=nack_out,
    )
