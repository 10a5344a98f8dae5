"""GetStatsReport: the report goes under ``sora.stats`` unchanged, plus aggregates of the
Erlang VM's per-scheduler lists (what the original Sorabeat added, computed defensively)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from sorabeat.sora.field_types import annotate, describe, metricset_types, remove_invalid
from sorabeat.sora.metricset import NotJSONError, Reading, ResponseError

TARGET = "Sora_20171010.GetStatsReport"

AGGREGATED_LISTS = (
    "active_tasks",
    "active_tasks_all",
    "run_queue_lengths",
    "run_queue_lengths_all",
)
SUFFIXES = ("max", "min", "mean", "stddev", "imbalance")


@dataclass(frozen=True)
class Aggregates:
    max: float
    min: float
    mean: float
    stddev: float  # population standard deviation
    imbalance: float  # max / max(min, 1)

    def as_fields(self, name: str) -> dict[str, float]:
        values = {
            f"{name}_max": self.max,
            f"{name}_min": self.min,
            f"{name}_mean": self.mean,
            f"{name}_stddev": self.stddev,
            f"{name}_imbalance": self.imbalance,
        }
        return {k: v for k, v in values.items() if math.isfinite(v)}


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def aggregate(values: Sequence[float]) -> Aggregates:
    """Aggregates of a non-empty list of numbers, always as floats."""
    n = len(values)
    high = float(max(values))
    low = float(min(values))
    try:
        mean = math.fsum(values) / n
        # in exact arithmetic: around a rounded mean, equal values near 1e12 would show a
        # spread of one unit in the last place (6e-5) where there is none
        stddev = statistics.pstdev(values)
    except (OverflowError, ValueError):  # numbers near the float limit: leave them out
        mean = stddev = math.nan
    return Aggregates(
        max=high,
        min=low,
        mean=float(mean),
        stddev=float(stddev),
        imbalance=high / max(low, 1.0),
    )


def add_aggregates(report: dict[str, Any]) -> int:
    """Add ``<list>_{max,min,mean,stddev,imbalance}`` next to each Erlang VM list, in place.

    Returns how many non-numeric list members were skipped. Missing or empty lists add
    nothing; a value that is not a list is left alone.
    """
    vm = report.get("erlang_vm")
    statistics = vm.get("statistics") if isinstance(vm, dict) else None
    if not isinstance(statistics, dict):
        return 0
    skipped = 0
    for name in AGGREGATED_LISTS:
        values = statistics.get(name)
        if not isinstance(values, list):
            continue
        numbers = [v for v in values if is_number(v)]
        skipped += len(values) - len(numbers)
        if numbers:
            statistics.update(aggregate(numbers).as_fields(name))
    return skipped


class StatsReportReader:
    """Keeps the whole body (a report is small) and reads it at the end."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        self.data += chunk
        self.size += len(chunk)

    def finish(self) -> Reading:
        try:
            report = orjson.loads(self.data)
        except orjson.JSONDecodeError as exc:
            raise NotJSONError(str(exc), self.data) from None
        if not isinstance(report, dict):
            raise ResponseError(f"GetStatsReport must be a JSON object, got {describe(report)}")
        skipped = add_aggregates(report)
        invalid = remove_invalid(report, metricset_types("stats").group)
        if invalid:
            annotate(report, invalid)
        return Reading({"stats": [("", (orjson.dumps(report),))]}, invalid, skipped)


class StatsReport:
    """The ``stats`` metricset: one GetStatsReport, one event under ``sora.stats``."""

    name = "stats"
    target = TARGET
    emits = ("stats",)

    def reader(self, poll_time_us: int) -> StatsReportReader:
        return StatsReportReader()
