"""The ``erlang_vm`` block: ``erlang:memory/0`` and ``erlang:statistics/1`` of a BEAM whose
load follows the number of connections."""

from __future__ import annotations

import random
from typing import Any


class ErlangVM:
    """Cumulative VM counters integrated over simulation time, plus per-call gauges.

    ``*_since_last_call`` values are relative to the previous GetStatsReport, as
    ``erlang:statistics/1`` reports them relative to the previous call.
    """

    def __init__(self, schedulers: int, uptime: float, connections: int) -> None:
        self.schedulers = schedulers
        self.run_time_ms = 0.0
        self.reductions = 0.0
        self.context_switches = 0.0
        self.gcs = 0.0
        self.words_reclaimed = 0.0
        self.io_in = 0.0  # signaling, webhooks, API: what is not media
        self.io_out = 0.0
        self.advance(uptime, connections)
        self._last_run_time = int(self.run_time_ms)
        self._last_reductions = int(self.reductions)
        self._last_exact = self._exact()
        self._last_wall_ms = int(uptime * 1000)

    def utilization(self, connections: int) -> float:
        """Busy schedulers (CPU seconds per second)."""
        return min(self.schedulers * 0.9, 0.03 + connections * 0.0004)

    def advance(self, dt: float, connections: int) -> None:
        self.run_time_ms += dt * 1000.0 * self.utilization(connections)
        self.reductions += dt * (150_000.0 + 9_000.0 * connections)
        self.context_switches += dt * (800.0 + 40.0 * connections)
        self.gcs += dt * (300.0 + 12.0 * connections)
        self.words_reclaimed += dt * (90_000.0 + 4_000.0 * connections)
        self.io_in += dt * (2_000.0 + 300.0 * connections)
        self.io_out += dt * (3_000.0 + 450.0 * connections)

    def _exact(self) -> int:
        return int(self.reductions * 1.0007)

    def report(
        self,
        rng: random.Random,
        *,
        uptime: float,
        connections: int,
        media_in: int,
        media_out: int,
    ) -> dict[str, Any]:
        busy = self.utilization(connections) / self.schedulers
        active = [
            int(rng.random() < busy) + int(rng.random() < busy / 3) for _ in range(self.schedulers)
        ]
        active.append(int(rng.random() < 0.05))  # the dirty CPU run queue
        queued = [max(0, n - 1) for n in active]
        dirty_io = int(rng.random() < 0.1)
        active_all = [*active, dirty_io]
        queued_all = [*queued, 0]

        wall_ms = int(uptime * 1000)
        run_time = int(self.run_time_ms)
        reductions = int(self.reductions)
        exact = self._exact()
        statistics = {
            "active_tasks": active,
            "active_tasks_all": active_all,
            "context_switches": int(self.context_switches),
            "exact_reductions": {
                "exact_reductions_since_last_call": exact - self._last_exact,
                "total_exact_reductions": exact,
            },
            "garbage_collection": {
                "number_of_gcs": int(self.gcs),
                "words_reclaimed": int(self.words_reclaimed),
            },
            "io": {"input": int(self.io_in) + media_in, "output": int(self.io_out) + media_out},
            "reductions": {
                "reductions_since_last_call": reductions - self._last_reductions,
                "total_reductions": reductions,
            },
            "run_queue": sum(queued),
            "run_queue_lengths": queued,
            "run_queue_lengths_all": queued_all,
            "runtime": {
                "time_since_last_call": run_time - self._last_run_time,
                "total_run_time": run_time,
            },
            "total_active_tasks": sum(active),
            "total_active_tasks_all": sum(active_all),
            "total_run_queue_lengths": sum(queued),
            "total_run_queue_lengths_all": sum(queued_all),
            "wall_clock": {
                "total_wallclock_time": wall_ms,
                "wallclock_time_since_last_call": wall_ms - self._last_wall_ms,
            },
        }
        self._last_run_time = run_time
        self._last_reductions = reductions
        self._last_exact = exact
        self._last_wall_ms = wall_ms
        return {"memory": memory(rng, connections), "statistics": statistics}


def memory(rng: random.Random, connections: int) -> dict[str, int]:
    """Gauges in bytes, consistent as erlang:memory/0's are: total = processes + system,
    the *_used parts below their totals, atom/binary/code/ets inside system."""
    processes = 18_000_000 + 45_000 * connections + rng.randrange(0, 2_000_000)
    atom = 1_056_953
    binary = 4_000_000 + 6_000 * connections + rng.randrange(0, 1_500_000)
    code = 30_112_345
    ets = 3_000_000 + 1_500 * connections
    system = atom + binary + code + ets + 12_000_000 + rng.randrange(0, 500_000)
    return {
        "total": processes + system,
        "processes": processes,
        "processes_used": processes - rng.randrange(0, 65_536),
        "system": system,
        "atom": atom,
        "atom_used": atom - 16_732,
        "binary": binary,
        "code": code,
        "ets": ets,
    }
