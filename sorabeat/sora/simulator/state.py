"""The evolving node: connections arriving and leaving, and the counters that follow.

Channels are of very different sizes, as on a real node: a connection joins channel ``i``
with a weight ``1 / (i + 1) ** CHANNEL_SKEW`` (Zipf), so a few channels hold most
connections and many hold one or two; a share of the channels are voice rooms where
nobody sends video. With ``reconnect``, a share of the departing connections come back at
once under the same ``client_id`` in the same channel, their counters starting over (a new
``connection_id`` where the profile has one; in 2017 the same ``channel_id``+``client_id``).

Pure: no clock, no I/O. Time is simulation seconds passed in by the caller; the same
seed and the same sequence of times give the same documents. Departures are planned at
arrival (exponential lifetimes), so when they happen does not depend on how often the
state is read.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import time
from dataclasses import dataclass, field

from sorabeat.sora.simulator.connection import TURN, TURN_TCP, Channel, Connection, draw_connection
from sorabeat.sora.simulator.documents import BUILDERS, Document
from sorabeat.sora.simulator.erlang import ErlangVM
from sorabeat.sora.simulator.ids import base32_id, uuid4
from sorabeat.sora.simulator.profiles import Profile

BROWSERS = ("chrome", "edge", "firefox", "safari", "unknown")
BROWSER_WEIGHTS = (62, 6, 12, 17, 3)
SORA_CLIENTS = (
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
)
SORA_CLIENT_WEIGHTS = (6, 1, 2, 1, 7, 70, 1, 2, 3, 1, 2, 1, 3)
FAILURE_RATE = 0.02  # share of connection attempts that fail
CONNECTIONS_PER_CHANNEL = 6
CHANNEL_SKEW = 1.1  # Zipf exponent of the channel sizes
AUDIO_ONLY_CHANNELS = 0.3  # share of the channels (but the first) that are voice rooms
MAX_CONNECTIONS = 100_000
TOTALS = 7  # the length of Connection.totals()


@dataclass
class NodeCounters:
    """Cumulative counters since the (simulated) Sora node started."""

    kinds: int
    successful: int = 0
    failed: int = 0
    destroyed: int = 0
    updated: int = 0
    duration_sec: int = 0  # of destroyed connections
    setup_ms: int = 0  # sum over successful connections
    sessions_created: int = 0
    sessions_destroyed: int = 0
    turn_udp: int = 0
    turn_tcp: int = 0
    auth_denied: int = 0
    signaling_errors: int = 0
    sdp_errors: int = 0
    kind_successful: list[int] = field(default_factory=list)
    kind_failed: list[int] = field(default_factory=list)
    retired: list[int] = field(default_factory=list)  # Connection.totals() of departed ones

    def __post_init__(self) -> None:
        self.kind_successful = [0] * self.kinds
        self.kind_failed = [0] * self.kinds
        self.retired = [0] * TOTALS


@dataclass(frozen=True)
class RelayPeer:
    node_name: str
    received_rate: float  # messages per second
    sent_rate: float
    started: float  # simulation time at which the counters were zero


class NodeState:
    """One Sora node of a ``profile``, ``connections`` connections at any time."""

    def __init__(
        self,
        profile: Profile,
        *,
        connections: int,
        seed: int = 0,
        churn: float = 0.0,
        schedulers: int = 4,
        cluster_peers: int = 2,
        epoch: float | None = None,
        reconnect: float = 0.0,
    ) -> None:
        check_connection_count(connections)
        if churn < 0 or not math.isfinite(churn):
            raise ValueError(f"churn must be a finite number >= 0, got {churn}")
        if not 0.0 <= reconnect <= 1.0:
            raise ValueError(f"reconnect must be between 0 and 1, got {reconnect}")
        if schedulers < 1:
            raise ValueError(f"schedulers must be at least 1, got {schedulers}")
        if cluster_peers < 0:
            raise ValueError(f"cluster_peers must be >= 0, got {cluster_peers}")
        self.profile = profile
        self.churn = churn  # share of the connections replaced per minute
        self.reconnect = reconnect  # share of the departures that come back at once
        # client_id -> how many times it reconnected, for the connections live now
        self.reconnects: dict[str, int] = {}
        self.epoch = time.time() if epoch is None else epoch  # wall time at t = 0
        self.rng = random.Random(seed)
        self.gauges = random.Random(f"{seed}/gauges")
        self.t = 0.0
        if profile.stats_browser:
            self.kind_weights: tuple[int, ...] = BROWSER_WEIGHTS
        else:
            self.kind_weights = SORA_CLIENT_WEIGHTS
        self.counters = NodeCounters(kinds=len(self.kind_weights))
        self.live: dict[int, Connection] = {}  # arrival order, which is the listing order
        self._departures: list[tuple[float, int]] = []
        self._seq = 0
        self.channels: list[Channel] = []
        self._channel_weights: list[float] = []  # cumulative
        self._grow_channels(connections)
        self.uptime0 = self.rng.uniform(6 * 3600.0, 20 * 86400.0)
        self._history(connections)
        for _ in range(connections):
            age = min(self._lifetime(), self.uptime0) if churn else self.rng.uniform(30.0, 7200.0)
            self._arrive(-min(age, self.uptime0), end=self._lifetime())
        self.vm = ErlangVM(schedulers, self.uptime0, connections)
        self.raft_term = self.rng.randint(1, 9)
        self.raft_leader = self.rng.random() < 0.3
        self.raft_commit0 = self.rng.randint(10, 5_000)
        self.peers = [
            RelayPeer(
                node_name=f"sora@10.0.0.{i + 2}",
                received_rate=self.rng.uniform(2.0, 20.0),
                sent_rate=self.rng.uniform(2.0, 20.0),
                started=-self.uptime0 * self.rng.uniform(0.5, 1.0),
            )
            for i in range(cluster_peers)
        ]

    # -- time -------------------------------------------------------------------------

    def advance(self, t: float) -> None:
        """Move to simulation time ``t`` (earlier times are ignored: time never goes back)."""
        if t <= self.t:
            return
        self.vm.advance(t - self.t, len(self.live))
        while self._departures and self._departures[0][0] <= t:
            end, seq = heapq.heappop(self._departures)
            leaving = self.live.get(seq)
            if leaving is None or leaving.end != end:
                continue  # already removed by set_connections
            self._depart(leaving, end)
            if self.reconnect and self.rng.random() < self.reconnect:
                self.reconnects[leaving.client_id] = self.reconnects.get(leaving.client_id, 0) + 1
                self._arrive(end, end=end + self._lifetime(), again=leaving)
            else:
                self.reconnects.pop(leaving.client_id, None)
                self._arrive(end, end=end + self._lifetime())
        self.t = t

    def uptime(self) -> float:
        return self.uptime0 + self.t

    def timestamp(self) -> str:
        """The per-connection ``timestamp``: RFC 3339 UTC, to the second or microsecond."""
        wall = self.epoch + self.t
        seconds = math.floor(wall)
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        if not self.profile.microsecond_timestamps:
            return text + "Z"
        return f"{text}.{min(int((wall - seconds) * 1_000_000), 999_999):06d}Z"

    # -- reading ------------------------------------------------------------------------

    def connection_documents(self, t: float) -> list[Document]:
        """GetStatsAllConnections at ``t``: one document per live connection."""
        self.advance(t)
        build = BUILDERS[self.profile.name]
        stamp = self.timestamp()
        now = self.t
        return [build(c, now, stamp) for c in self.live.values()]

    def media_totals(self) -> list[int]:
        """Connection.totals() summed over every connection, departed ones included."""
        sums = list(self.counters.retired)
        now = self.t
        for c in self.live.values():
            for i, value in enumerate(c.totals(now)):
                sums[i] += value
        return sums

    def open_sessions(self) -> int:
        return sum(1 for channel in self.channels if channel.members)

    def relay_counts(self, peer: RelayPeer) -> tuple[int, int]:
        age = self.t - peer.started
        return int(peer.received_rate * age), int(peer.sent_rate * age)

    # -- control ------------------------------------------------------------------------

    def set_connections(self, count: int) -> None:
        """Connections arrive or leave now until ``count`` are live."""
        check_connection_count(count)
        self._grow_channels(count)
        surplus = len(self.live) - count
        if surplus > 0:
            for seq in sorted(self.rng.sample(list(self.live), surplus)):
                self._depart(self.live[seq], self.t)
        for _ in range(-surplus):
            self._arrive(self.t, end=self.t + self._lifetime())

    # -- internals ----------------------------------------------------------------------

    def _lifetime(self) -> float:
        return self.rng.expovariate(self.churn / 60.0) if self.churn else math.inf

    def _grow_channels(self, connections: int) -> None:
        wanted = max(1, math.ceil(connections / CONNECTIONS_PER_CHANNEL))
        while len(self.channels) < wanted:
            name = "sora" if not self.channels else f"room-{len(self.channels):05d}"
            voice = bool(self.channels) and self.rng.random() < AUDIO_ONLY_CHANNELS
            self.channels.append(Channel(name=name, group_id=base32_id(self.rng), audio_only=voice))
        if len(self._channel_weights) != len(self.channels):
            weights = (1.0 / (i + 1) ** CHANNEL_SKEW for i in range(len(self.channels)))
            self._channel_weights = list(itertools.accumulate(weights))

    def _kind(self) -> int:
        return self.rng.choices(range(len(self.kind_weights)), self.kind_weights)[0]

    def _attempts(self) -> None:
        """The failed attempts before a successful one (usually none)."""
        counters = self.counters
        while self.rng.random() < FAILURE_RATE:
            counters.failed += 1
            counters.kind_failed[self._kind()] += 1
            cause = self.rng.random()
            if cause < 0.5:
                counters.auth_denied += 1
            elif cause < 0.9:
                counters.signaling_errors += 1
            else:
                counters.sdp_errors += 1

    def _ids(self) -> tuple[str, str]:
        if self.profile.uuid_ids:
            client_id = uuid4(self.rng)
            return client_id, client_id
        connection_id = base32_id(self.rng)
        # Sora uses the connection id as client id unless the client chose one.
        client_id = base32_id(self.rng) if self.rng.random() < 0.2 else connection_id
        return client_id, connection_id

    def _arrive(self, at: float, *, end: float, again: Connection | None = None) -> Connection:
        """A connection arrives at ``at``; ``again``: the departed one reconnecting."""
        self._attempts()
        if again is None:
            channel = self.rng.choices(self.channels, cum_weights=self._channel_weights)[0]
            client_id, connection_id = self._ids()
        else:
            channel = again.channel
            client_id = again.client_id
            connection_id = base32_id(self.rng) if self.profile.connection_id else client_id
        kind = self._kind()
        self._seq += 1
        c = draw_connection(
            self.rng,
            seq=self._seq,
            channel=channel,
            client_id=client_id,
            connection_id=connection_id,
            kind=kind,
            start=at,
            end=end,
        )
        counters = self.counters
        counters.successful += 1
        counters.kind_successful[kind] += 1
        counters.setup_ms += c.setup_ms
        if c.flags & TURN:
            if c.flags & TURN_TCP:
                counters.turn_tcp += 1
            else:
                counters.turn_udp += 1
        if not channel.members:
            channel.session_id = base32_id(self.rng)
            counters.sessions_created += 1
        counters.updated += channel.members  # the others get a re-offer
        channel.members += 1
        self.live[c.seq] = c
        if end != math.inf:
            heapq.heappush(self._departures, (end, c.seq))
        return c

    def _depart(self, c: Connection, at: float) -> None:
        del self.live[c.seq]
        counters = self.counters
        for i, value in enumerate(c.totals(at)):
            counters.retired[i] += value
        counters.destroyed += 1
        counters.duration_sec += int(at - c.start)
        channel = c.channel
        channel.members -= 1
        counters.updated += channel.members
        if not channel.members:
            channel.session_id = ""
            counters.sessions_destroyed += 1

    def _history(self, connections: int) -> None:
        """Connections that came and went before the simulation started."""
        departed = self.rng.randint(50, 400) + int(connections * self.rng.uniform(0.5, 1.5))
        mean_life = 60.0 / self.churn if self.churn else 900.0
        start = -self.uptime0
        for _ in range(departed):
            life = min(self.rng.expovariate(1.0 / mean_life), 86400.0)
            c = self._arrive(start, end=math.inf)
            self._depart(c, start + life)


def check_connection_count(count: int) -> None:
    if not 0 <= count <= MAX_CONNECTIONS:
        raise ValueError(f"connections must be between 0 and {MAX_CONNECTIONS}, got {count}")
