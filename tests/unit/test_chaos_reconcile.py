"""The campaign's reconciliation (tools/chaos.py) finds what it must find: a spooled event
that never arrived, a timestamp going backwards, a duplicate no fault explains; and it
forgives what a counted, logged drop or a kill explains."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "chaos.py"
HOST = "127.0.0.1:3000"
IDS = ("c1", "c2", "c3")  # tools/chaos.py runs the simulator with three connections


def load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chaos_tool", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["chaos_tool"] = module
    spec.loader.exec_module(module)
    return module


chaos = load_tool()


class FakeRun:
    """What reconcile reads of a sorabeat run: its new stderr lines."""

    def __init__(self, text: str) -> None:
        self.text = text

    def new_stderr(self) -> str:
        text, self.text = self.text, ""
        return text


def spooled(stamp: str, metricset: str = "stats") -> str:
    count = 1 if metricset == "stats" else len(IDS)
    return f"DEBUG\tspooled {count} {metricset} events of {stamp} from {HOST}\n"


def stats(stamp: str) -> dict[str, Any]:
    return {"@timestamp": stamp, "metricset": {"name": "stats"}, "service": {"address": HOST}}


def connections(stamp: str) -> list[dict[str, Any]]:
    return [
        {
            "@timestamp": stamp,
            "metricset": {"name": "connections"},
            "service": {"address": HOST},
            "sora": {"connections": {"connection_id": c}},
        }
        for c in IDS
    ]


T1, T2, T3 = "2026-01-01T00:00:01.000Z", "2026-01-01T00:00:01.500Z", "2026-01-01T00:00:02.000Z"


def campaign(tmp_path: Path, stderr: str, received: list[dict[str, Any]], ok: int) -> Any:
    c = chaos.Campaign(tmp_path, seed=0)
    c.settle_timeout = 0.2
    out = tmp_path / "received-0.ndjson"
    out.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in received))
    c.receivers = [(None, out)]
    c.beats = [FakeRun(stderr)]
    c.served = {
        "stats": {"ok": ok, "faulted": 0, "faults": {}},
        "connections": {"ok": 0, "faulted": 0, "faults": {}, "objects": 0},
    }
    return c


def reconcile(c: Any) -> Any:
    figures = chaos.RoundFigures()
    c.reconcile(figures)
    return figures


def test_nothing_missing_gives_zero_figures(tmp_path: Path) -> None:
    c = campaign(
        tmp_path, spooled(T1) + spooled(T2, "connections"), [stats(T1), *connections(T2)], ok=1
    )
    f = reconcile(c)
    assert (f.lost, f.disorder, f.duplicates, f.unspooled) == (0, 0, 0, 0)
    assert (f.served, f.received) == (1, 4)


def test_a_spooled_event_that_never_arrives_is_lost(tmp_path: Path) -> None:
    c = campaign(tmp_path, spooled(T1) + spooled(T2), [stats(T1)], ok=2)
    assert reconcile(c).lost == 1


def test_a_logged_drop_explains_a_missing_event(tmp_path: Path) -> None:
    drop = "WARNING\tno space left to store events in spool x (full): dropped 1 events; ...\n"
    c = campaign(tmp_path, spooled(T1) + spooled(T2) + drop, [stats(T1)], ok=2)
    f = reconcile(c)
    assert (f.lost, f.dropped) == (0, 1)


def test_a_served_answer_never_spooled_is_lost_unless_a_kill_explains_it(tmp_path: Path) -> None:
    c = campaign(tmp_path, spooled(T1), [stats(T1)], ok=2)
    f = reconcile(c)
    assert (f.unspooled, f.lost) == (1, 1)
    c = campaign(tmp_path, spooled(T1), [stats(T1)], ok=2)
    c.counts["kills"] = 1
    f = reconcile(c)
    assert (f.unspooled, f.lost) == (1, 0)


def test_a_timestamp_going_backwards_is_disorder(tmp_path: Path) -> None:
    c = campaign(
        tmp_path,
        spooled(T1) + spooled(T2) + spooled(T3),
        [stats(T1), stats(T3), stats(T2)],
        ok=3,
    )
    f = reconcile(c)
    assert (f.disorder, f.lost) == (1, 0)


@pytest.mark.parametrize("explained", [False, True])
def test_a_duplicate_is_explained_only_by_a_fault_between_its_copies(
    tmp_path: Path, explained: bool
) -> None:
    c = campaign(tmp_path, spooled(T1) + spooled(T2), [stats(T1), stats(T2), stats(T2)], ok=2)
    if explained:  # e.g. sorabeat killed after the first copy of T2 was written
        c.markers.append(chaos.Marker("sorabeat SIGKILL", (0, 2), (0, 2)))
    f = reconcile(c)
    assert (f.duplicates, f.unexplained_duplicates) == (1, 0 if explained else 1)
    assert (f.lost, f.disorder) == (0, 0)


@pytest.mark.parametrize("message", ["no complete response from http://x/ within 1.5s", "boom"])
def test_an_ok_answer_the_client_timed_out_on_is_explained(tmp_path: Path, message: str) -> None:
    failed = {**stats(T2), "error": {"message": message}}
    c = campaign(tmp_path, spooled(T1) + spooled(T2), [stats(T1), failed], ok=2)
    f = reconcile(c)
    assert f.unspooled == 1
    assert f.lost == (0 if message.startswith("no complete") else 1)


@pytest.mark.parametrize("killed", [False, True])
def test_spooled_events_missing_beyond_the_logged_drops_are_lost(
    tmp_path: Path, killed: bool
) -> None:
    # sorabeat logs every drop when it happens: a SIGKILL on a full disk excuses nothing
    c = campaign(tmp_path, spooled(T1) + spooled(T2) + spooled(T3), [stats(T1)], ok=3)
    if killed:
        c.killed.add(0)
    assert reconcile(c).lost == 2


def test_a_poll_the_spool_refused_is_explained_by_its_logged_drop(tmp_path: Path) -> None:
    # a full disk: the spool stored nothing of T2's poll and logged the drop at once
    refused = (
        f"DEBUG\tspooled 0 stats events of {T2} from {HOST} (1 dropped)\n"
        "WARNING\tno space left to store events in spool /d (No space): dropped 1 events\n"
    )
    c = campaign(tmp_path, spooled(T1) + refused, [stats(T1)], ok=2)
    f = reconcile(c)
    assert (f.dropped, f.unspooled, f.lost) == (1, 1, 0)


def test_a_refused_poll_without_its_drop_line_is_lost(tmp_path: Path) -> None:
    refused = f"DEBUG\tspooled 0 stats events of {T2} from {HOST} (1 dropped)\n"
    c = campaign(tmp_path, spooled(T1) + refused, [stats(T1)], ok=2)
    assert reconcile(c).lost == 1
