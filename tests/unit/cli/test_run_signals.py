"""How `sorabeat run` reads SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal

import pytest

from sorabeat.cli import run


def test_a_repeated_stop_signal_is_not_an_emergency(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(run.time, "monotonic", lambda: clock[0])
    stop = asyncio.Event()
    handler = run._StopOnSignal(stop)
    handler(signal.SIGTERM)
    assert stop.is_set()
    clock[0] += 0.01
    handler(signal.SIGTERM)  # the same stop delivered twice (timeout(1), process groups)
    clock[0] += 5
    with pytest.raises(SystemExit):
        handler(signal.SIGINT)  # an operator insisting
