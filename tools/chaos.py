#!/usr/bin/env python3
"""The fault campaign: real `sorabeat simulate`, `sorabeat receive` and `sorabeat run`
processes, N rounds of random faults at random moments, then a reconciliation of what the
simulator served against what the receiver wrote.

Faults: SIGKILL of sorabeat (then a restart), SIGKILL and restart of the receiver, a
receiver that drops connections, acks partially and late, Sora answering 500 / invalid
JSON / truncated / slow, and path.data (a tiny tmpfs) filling up. The last needs root and
mount(2); where it cannot be mounted the campaign says so and runs without it.

Figures, per round and in total:
  served      documents the simulator answered 200 (stats reports, connection objects)
  lost        events sorabeat logged as spooled (durable) that never reached the receiver,
              less the drops sorabeat counted and logged, plus documents served but never
              spooled beyond what the SIGKILLs/stops/timeouts of the round explain. Must be 0.
  dropped     events sorabeat logged as dropped (spool full, disk full)
  unspooled   ok answers never spooled; each explained by a poll cut short by a kill,
              a stop or a client timeout (the rest count as lost)
  duplicates  events received more than once; unexplained_duplicates: those whose copies
              are not separated by a resend-causing fault (kill, receiver restart, drop)
  disorder    per host and metricset, poll @timestamps (first copies, in arrival order)
              that go backwards. Must be 0.
Exit 1 when lost or disorder is not 0 (or on a hang, which is reported as such); 2 on
bad arguments. The same ``--seed`` replays the same faults in the same order at the same
moments of each round (what the processes do meanwhile still depends on timing).

This tool drives the real CLI in subprocesses (each in its own process group, all killed
at the end, even on error); it must not import tests/.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml

ADDRESS = re.compile(rb"(?:https?://)?(127\.0\.0\.1|localhost):(\d+)")
SPOOLED = re.compile(r"spooled (\d+) (stats|connections) events of (\S+) from (\S+)")
DROPPED = re.compile(r"dropped (\d+) ")
CONNECTIONS = 3
BULK, PIPELINING = 10, 2
PERIOD, TIMEOUT, SLOW = 0.5, 1.5, 3.0
FS_SIZE = 8 * 1024 * 1024
FAULT_KINDS = ("kill-sorabeat", "kill-receiver", "receiver-misbehaves", "sora-fault", "disk-full")
SORA_FAULTS = ("500", "invalid-json", "truncated", "slow")
METRICSETS = ("stats", "connections")
CLIENT_TIMEOUT = "no complete response from"  # sorabeat's error when a poll times out
# a slight ack delay keeps windows in flight, so kills often land on one
STEADY = ("--ack-delay", "0.05")


class HangError(Exception):
    """A wait that ran out of time: something did not happen that should have."""


# -- processes -----------------------------------------------------------------------------


class Proc:
    """`python -m sorabeat ARGS` in its own process group, output captured to files."""

    def __init__(self, args: list[str], workdir: Path, name: str) -> None:
        self.name = name
        self.stdout_path = workdir / f"{name}.stdout"
        self.stderr_path = workdir / f"{name}.stderr"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "sorabeat", *args],
                cwd=workdir,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        self._read = 0  # stderr bytes already taken by ``new_stderr``

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def new_stderr(self) -> str:
        """Complete stderr lines written since the last call."""
        data = self.stderr_path.read_bytes()
        end = data.rfind(b"\n", self._read) + 1
        if end <= self._read:
            return ""
        chunk, self._read = data[self._read : end], end
        return chunk.decode(errors="replace")

    def address(self, timeout: float = 60) -> tuple[str, int]:
        m = wait_for(
            lambda: ADDRESS.search(self.stdout_path.read_bytes()), timeout, self.name, self
        )
        return m.group(1).decode(), int(m.group(2))

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(30)

    def stop(self, timeout: float) -> int | None:
        """SIGTERM, then the exit code; None (and SIGKILL) if it did not exit in time."""
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None


def wait_for(
    condition: Callable[[], Any], timeout: float, what: str, proc: Proc | None = None
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if proc is not None and not proc.alive():
            raise HangError(
                f"{what}: {proc.name} exited {proc.popen.returncode}: {proc.stderr()[-1500:]}"
            )
        if time.monotonic() >= deadline:
            raise HangError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def control(address: tuple[str, int], target: str, body: dict[str, Any] | None = None) -> Any:
    response = httpx.post(
        f"http://{address[0]}:{address[1]}/",
        headers={"x-sora-target": target},
        content=orjson.dumps(body or {}),
        timeout=10,
        trust_env=False,
    )
    response.raise_for_status()
    return response.json()


def complete_lines(path: Path) -> list[bytes]:
    if not path.exists():
        return []
    return [line for line in path.read_bytes().split(b"\n")[:-1] if line]


# -- a full disk ---------------------------------------------------------------------------


def mount_tmpfs(mountpoint: Path) -> str | None:
    """Mount a tiny tmpfs; the reason it could not be mounted, or None."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        return "no mount command"
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={FS_SIZE}", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    if done.returncode != 0:
        return done.stderr.strip() or f"mount exited {done.returncode}"
    return None


def fill(directory: Path) -> Path:
    """Take every free byte of the filesystem of ``directory`` (until ENOSPC)."""
    path = directory / "chaos.filler"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for _ in range(FS_SIZE // 4096 + 16):  # bounded: the filesystem is FS_SIZE
            try:
                os.write(fd, bytes(4096))
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    break
                raise
    finally:
        os.close(fd)
    return path


# -- the campaign --------------------------------------------------------------------------


@dataclass
class Marker:
    """Receiver positions around a fault that makes sorabeat send events again: a
    duplicate is explained when its first copy came before ``after`` and its second at or
    after ``before``."""

    kind: str
    before: tuple[int, int]
    after: tuple[int, int] = (1 << 30, 0)


@dataclass
class RoundFigures:
    served: int = 0
    received: int = 0
    lost: int = 0
    dropped: int = 0
    unspooled: int = 0
    duplicates: int = 0
    unexplained_duplicates: int = 0
    disorder: int = 0
    faults: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    FIGURES = (
        "served",
        "received",
        "lost",
        "dropped",
        "unspooled",
        "duplicates",
        "unexplained_duplicates",
        "disorder",
    )

    def line(self) -> str:
        return " ".join(f"{k}={getattr(self, k)}" for k in self.FIGURES)


class Campaign:
    def __init__(self, workdir: Path, seed: int) -> None:
        self.workdir = workdir
        self.seed = seed
        self.rng = random.Random(seed)
        self.procs: list[Proc] = []
        self.home = workdir / "home"
        self.data = self.home / "data"
        self.port = free_port()
        self.receivers: list[tuple[Proc, Path]] = []
        self.beats: list[Proc] = []
        self.markers: list[Marker] = []
        self.mounted = False
        self.disk_full_skipped: str | None = None
        # reconciliation state, carried across rounds
        self.seen: dict[tuple[str, str, str, str], tuple[int, int]] = {}
        self.last_poll: dict[tuple[str, str], str] = {}
        self.read_upto: dict[int, int] = {}  # receiver incarnation -> lines reconciled
        # spooled polls not yet seen at the receiver: event count, and the run that spooled it
        self.pending_spooled: dict[tuple[str, str, str], tuple[int, int]] = {}
        self.killed: set[int] = set()  # runs of sorabeat ended by SIGKILL
        self.counts: dict[str, int] = Counter()
        self.delivered: dict[tuple[str, str, str], set[str]] = {}
        self.served: dict[str, Any] = {}  # the simulator's counts for the round
        self.settle_timeout = 60.0  # how long spooled events may take to reach the receiver

    # processes

    def start(self, args: list[str], name: str) -> Proc:
        proc = Proc(args, self.workdir, name)
        self.procs.append(proc)
        return proc

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.alive():
                with contextlib.suppress(Exception):
                    proc.kill()
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.data)], check=False, timeout=30)
            self.mounted = False

    def start_receiver(self, *switches: str) -> None:
        n = len(self.receivers)
        out = self.workdir / f"received-{n}.ndjson"
        proc = self.start(
            ["receive", "--listen", f"127.0.0.1:{self.port}", "--output", str(out), *switches],
            f"receive-{n}",
        )
        proc.address()
        self.receivers.append((proc, out))

    @property
    def receiver(self) -> Proc:
        return self.receivers[-1][0]

    def position(self) -> tuple[int, int]:
        n = len(self.receivers) - 1
        return (n, len(complete_lines(self.receivers[n][1])))

    def start_beat(self) -> None:
        proc = self.start(
            ["run", "-e", "-d", "sora", "--path.home", str(self.home)],
            f"sorabeat-{len(self.beats)}",
        )
        self.beats.append(proc)

    @property
    def beat(self) -> Proc:
        return self.beats[-1]

    def configure(self, sora: tuple[str, int]) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        settings = {
            "output.logstash": {
                "hosts": [f"localhost:{self.port}"],
                "timeout": "5s",
                "backoff.init": "0.2s",
                "backoff.max": "1s",
                "bulk_max_size": BULK,
                "pipelining": PIPELINING,
            },
            "queue.spool": {"segment_size": 1024 * 1024, "max_size": 4 * 1024 * 1024},
            "sorabeat.shutdown_timeout": "10s",
        }
        modules = [
            {
                "module": "sora",
                "metricsets": list(METRICSETS),
                "period": f"{PERIOD}s",
                "timeout": f"{TIMEOUT}s",
                "hosts": [f"{sora[0]}:{sora[1]}"],
            }
        ]
        (self.home / "sorabeat.yml").write_text(yaml.safe_dump(settings))
        (self.home / "modules.d").mkdir(exist_ok=True)
        (self.home / "modules.d" / "sora.yml").write_text(yaml.safe_dump(modules))
        for path in (self.home / "sorabeat.yml", self.home / "modules.d" / "sora.yml"):
            path.chmod(0o600)

    # faults

    def kill_beat(self) -> None:
        before = self.position()
        self.beat.kill()
        self.killed.add(len(self.beats) - 1)
        self.counts["kills"] += 1
        time.sleep(self.rng.uniform(0.0, 0.5))
        self.start_beat()
        # the receiver may still be writing (and acking into the void) what the killed run
        # sent, for up to its ack delay; the new run is still starting meanwhile
        time.sleep(0.4)
        self.markers.append(Marker("sorabeat SIGKILL", before, self.position()))

    def kill_receiver(self, *switches: str) -> None:
        before = self.position()
        self.receiver.kill()
        time.sleep(self.rng.uniform(0.0, 1.0))
        self.start_receiver(*(switches or STEADY))
        self.markers.append(Marker("receiver restart", before, self.position()))

    def misbehave(self) -> list[str]:
        switches = [
            "--partial-ack-every", str(self.rng.randint(1, 5)),
            "--drop-after-events", str(self.rng.randint(5, 40)),
            "--drop-connections", str(self.rng.choice([0, 1, 2])),
            "--ack-delay", f"{self.rng.uniform(0, 0.3):.2f}",
        ]  # fmt: skip
        self.kill_receiver(*switches)
        # every event of this incarnation may be resent after one of its dropped connections
        self.markers[-1].after = (len(self.receivers), 0)
        return switches

    def sora_fault(self, address: tuple[str, int]) -> str:
        fault = self.rng.choice(SORA_FAULTS)
        count = self.rng.randint(1, 4)
        control(address, "Simulator.SetFault", {"fault": fault, "count": count})
        return f"{fault} x{count}"

    # one round

    def play_round(self, address: tuple[str, int]) -> RoundFigures:
        figures = RoundFigures()
        kinds = [k for k in FAULT_KINDS if k != "disk-full" or self.mounted]
        chosen = self.rng.sample(kinds, self.rng.randint(1, 2))
        moments = sorted((self.rng.uniform(0.3, 3.0), kind) for kind in chosen)
        begun = time.monotonic()
        misbehaving = disk_full = False
        for moment, kind in moments:
            time.sleep(max(0.0, begun + moment - time.monotonic()))
            if kind == "kill-sorabeat":
                self.kill_beat()
                figures.faults.append(kind)
            elif kind == "kill-receiver":
                self.kill_receiver()
                figures.faults.append(kind)
            elif kind == "receiver-misbehaves":
                switches = self.misbehave()
                misbehaving = True
                figures.faults.append(f"{kind}({' '.join(switches)})")
            elif kind == "sora-fault":
                figures.faults.append(f"sora-fault({self.sora_fault(address)})")
            else:
                filler = fill(self.data)
                held = self.rng.uniform(0.5, 2.0)
                time.sleep(held)
                filler.unlink()
                disk_full = True
                figures.faults.append(f"disk-full({held:.1f}s)")
        time.sleep(max(0.0, begun + 3.5 - time.monotonic()))
        if misbehaving:  # heal the receiver; its connections may be cut at any time
            before = self.position()
            self.receiver.stop(15)
            self.start_receiver(*STEADY)
            self.markers.append(Marker("receiver restart", before, self.position()))
        self.freeze(address)
        if disk_full:
            # a clean stop logs every drop counted so far, and a full disk may have kept
            # the acknowledged position from being saved (a resend the log announces)
            before = self.position()
            code = self.beat.stop(30)
            if code != 0:
                figures.notes.append(f"sorabeat stop after disk-full exited {code}")
            self.markers.append(Marker("stop after disk-full", before, self.position()))
            self.counts["stops"] += 1
            self.start_beat()
        self.reconcile(figures)
        control(address, "Simulator.SetFault", {"fault": "none"})
        return figures

    def freeze(self, address: tuple[str, int]) -> None:
        """Answer 500 from now on and take the round's served counts: once two answers of
        each metricset have faulted, every poll answered before has been spooled (polls of
        a metricset run one after another) or was cut short by a kill."""
        control(address, "Simulator.SetFault", {"fault": "500"})
        self.served = control(address, "Simulator.GetServed", {"reset": True})
        wait_for(
            lambda: all(
                control(address, "Simulator.GetServed")[m]["faults"].get("500", 0) >= 2
                for m in METRICSETS
            ),
            60,
            "two polls of each metricset after the freeze",
            self.beat,
        )

    # reconciliation

    def new_events(self) -> list[tuple[tuple[int, int], dict[str, Any]]]:
        out = []
        for n, (_, path) in enumerate(self.receivers):
            lines = complete_lines(path)
            start = self.read_upto.get(n, 0)
            out += [((n, i), orjson.loads(lines[i])) for i in range(start, len(lines))]
            self.read_upto[n] = len(lines)
        return out

    def reconcile(self, figures: RoundFigures) -> None:
        served = self.served
        figures.served = served["stats"]["ok"] + served["connections"]["objects"]
        timeouts = 0
        stopped_polls = self.counts["kills"] + self.counts["stops"] - self.counts["explained"]
        for run, beat in enumerate(self.beats):
            text = beat.new_stderr()
            for m in SPOOLED.finditer(text):
                count, metricset, at, host = int(m.group(1)), m.group(2), m.group(3), m.group(4)
                self.pending_spooled[(host, metricset, at)] = (count, run)
            figures.dropped += sum(int(m.group(1)) for m in DROPPED.finditer(text))
        # wait until every spooled poll is at the receiver (or the time is up: lost)
        received: dict[tuple[str, str, str], set[str]] = defaultdict(set)

        def unreceived() -> int:
            """Spooled events not received (sorabeat logs every drop when it happens, so a
            missing event beyond the logged drops is lost, SIGKILL or not)."""
            return sum(
                count - len(self.delivered.get(poll, set()) | received.get(poll, set()))
                for poll, (count, _) in self.pending_spooled.items()
            )

        good_polls: Counter[str] = Counter()
        good_objects = 0

        def take() -> bool:
            nonlocal timeouts, good_objects
            for position, event in self.new_events():
                metricset = event["metricset"]["name"]
                host = event.get("service", {}).get("address", "")
                stamp = event["@timestamp"]
                if "error" in event:
                    key = "error"
                    if CLIENT_TIMEOUT in str(event["error"]):
                        timeouts += 1
                else:
                    key = event.get("sora", {}).get("connections", {}).get("connection_id", "")
                identity = (host, metricset, stamp, key)
                figures.received += 1
                first = self.seen.get(identity)
                if first is not None:
                    figures.duplicates += 1
                    if not any(first < mk.after and position >= mk.before for mk in self.markers):
                        figures.unexplained_duplicates += 1
                    continue
                self.seen[identity] = position
                received[(host, metricset, stamp)].add(key)
                if key != "error":
                    good_objects += metricset == "connections"
                    if metricset == "stats" or len(received[(host, metricset, stamp)]) == 1:
                        good_polls[metricset] += 1
                last = self.last_poll.get((host, metricset))
                if last is not None and stamp < last:
                    figures.disorder += 1
                    figures.notes.append(f"{metricset} of {host}: {stamp} after {last}")
                else:
                    self.last_poll[(host, metricset)] = stamp
            for poll, (count, _) in list(self.pending_spooled.items()):
                if len(self.delivered.get(poll, set()) | received.get(poll, set())) >= count:
                    del self.pending_spooled[poll]
            return not self.pending_spooled

        def settled() -> bool:
            # drops cannot be told apart: the wait ends when what is missing is at most
            # what was dropped (each still counted below)
            return take() or unreceived() <= figures.dropped

        with contextlib.suppress(HangError):
            wait_for(settled, self.settle_timeout, "every spooled event at the receiver")
        for poll, keys in received.items():
            self.delivered.setdefault(poll, set()).update(keys)
        missing = unreceived()
        self.pending_spooled.clear()
        # served documents never spooled: each kill or stop may cut one poll per metricset,
        # each client timeout of an ok answer turns it into an error event
        slow = sum(served[m]["faults"].get("slow", 0) for m in METRICSETS)
        ok_timeouts = max(0, timeouts - slow)
        allowance = stopped_polls + ok_timeouts
        # good events short of what was served, beyond the spooled ones that never came
        short = max(0, served["stats"]["ok"] - good_polls["stats"]) + max(
            0, served["connections"]["objects"] - good_objects
        )
        figures.unspooled = max(0, short - missing)
        self.counts["explained"] = self.counts["kills"] + self.counts["stops"]
        # a logged drop explains one missing event, whether the spool refused it at append
        # (never spooled) or deleted it later to make room (spooled, never sent)
        uncut = max(0, figures.unspooled - allowance * (1 + CONNECTIONS))
        figures.lost = max(0, missing + uncut - figures.dropped)
        if missing:
            figures.notes.append(f"{missing} spooled events never arrived")
        if figures.lost:
            figures.notes.append(
                f"{figures.lost} served events neither received nor explained by a logged drop, "
                "a kill, a stop or a client timeout"
            )

    def run(self, rounds: int) -> int:
        reason = mount_tmpfs(self.data)
        if reason is None:
            self.mounted = True
        else:
            self.disk_full_skipped = reason
            print(f"chaos: fault class disk-full NOT RUN: cannot mount a tmpfs ({reason})")
        sim = self.start(
            [
                "simulate", "--listen", "127.0.0.1:0", "--connections", str(CONNECTIONS),
                "--churn", "0", "--seed", str(self.seed), "--slow-seconds", str(SLOW),
            ],
            "simulate",
        )  # fmt: skip
        address = sim.address()
        self.configure(address)
        self.start_receiver(*STEADY)
        self.start_beat()
        wait_for(lambda: "spooled" in self.beat.stderr(), 60, "a first poll", self.beat)
        total = RoundFigures()
        failed = False
        for number in range(1, rounds + 1):
            try:
                figures = self.play_round(address)
            except HangError as exc:
                print(f"round {number}: HANG: {exc}")
                failed = True
                break
            print(f"round {number}: {figures.line()} faults: {', '.join(figures.faults)}")
            for note in figures.notes:
                print(f"round {number}:   {note}")
            for name in RoundFigures.FIGURES:
                setattr(total, name, getattr(total, name) + getattr(figures, name))
            sys.stdout.flush()
        # before its signal handlers are set, SIGTERM would end a run as the kernel does
        wait_for(lambda: "started" in self.beat.stderr(), 60, "the last run started", self.beat)
        code = self.beat.stop(30)
        if code != 0:
            print(f"chaos: the last sorabeat run stopped with exit {code}")
            failed = True
        print(f"total: {total.line()} rounds={rounds} seed={self.seed}")
        if self.disk_full_skipped:
            print(f"total: fault class disk-full NOT RUN ({self.disk_full_skipped})")
        return 1 if failed or total.lost or total.disorder else 0


@contextlib.contextmanager
def workspace(keep: str | None) -> Iterator[Path]:
    if keep:
        path = Path(keep)
        path.mkdir(parents=True, exist_ok=True)
        yield path
    else:
        with tempfile.TemporaryDirectory(prefix="sorabeat-chaos-") as tmp:
            yield Path(tmp)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=10, help="rounds of faults (default 10)")
    parser.add_argument("--seed", type=int, default=None, help="replay a campaign")
    parser.add_argument("--keep", metavar="DIR", help="keep logs and received events in DIR")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.keep and Path(args.keep).exists() and any(Path(args.keep).iterdir()):
        parser.error(f"--keep {args.keep}: not empty (a campaign would mix with older events)")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    print(f"chaos: seed {seed} (replay with --seed {seed})", flush=True)
    began = time.monotonic()
    with workspace(args.keep) as workdir:
        campaign = Campaign(workdir, seed)
        try:
            code = campaign.run(args.rounds)
        except HangError as exc:
            print(f"chaos: HANG: {exc}")
            code = 1
        finally:
            campaign.kill_all()
    print(f"chaos: {time.monotonic() - began:.0f}s, exit {code}")
    return code


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
