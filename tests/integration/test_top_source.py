"""`sorabeat top`'s numbers come from the Sora input's own pollers: a simulated node over
real HTTP, and a host that refuses connections, each seen as top shows it."""

from __future__ import annotations

import socket

from sorabeat.sora.settings import SoraModuleSettings
from sorabeat.sora.simulator import SoraSimulator
from sorabeat.top.render import render
from sorabeat.top.source import TopSource


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def refused_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"  # closed at once: nothing listens there


async def test_a_node_gets_rates_from_its_second_round_and_a_dead_one_a_clear_line() -> None:
    clock = Clock()
    dead = refused_address()
    async with SoraSimulator("current", 40, seed=3, churn=0, clock=clock, epoch=1.7e9) as sim:
        module = SoraModuleSettings(module="sora", hosts=[sim.url, dead], period=1.0, timeout=5.0)
        async with TopSource([module]) as source:
            first = await source.poll()
            clock.t += 10.0
            alive, failed = await source.poll()
    assert [n.address for n in first] == [alive.address, failed.address]
    assert first[0].error is None and first[0].bits_in is None  # nothing to compare with yet
    assert alive.error is None
    assert alive.connections == 40 == sum(c.connections for c in alive.channels)
    assert alive.bits_in is not None and alive.bits_in > 0
    assert alive.bits_out is not None and alive.bits_out > alive.bits_in  # an SFU fans out
    assert alive.run_queue_max is not None and alive.run_queue_imbalance is not None
    assert failed.error is not None and "cannot connect" in failed.error
    lines = render([alive, failed], width=100, height=40)
    assert lines[-1] == f"{failed.address}  FAILED: {failed.error}"[:100]
