"""The Prometheus text exposition format 0.0.4, rendered from a Registry snapshot.

Names are ``sorabeat_`` plus the registry name with every character Prometheus does not
allow turned into ``_``; counters end in ``_total``. Label values escape backslash, double
quote and newline; HELP text escapes backslash and newline, as the format requires.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sorabeat.monitoring.registry import Labels
from sorabeat.monitoring.snapshot import Snapshot

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "sorabeat_"
_NAME_INVALID = re.compile(r"[^a-zA-Z0-9_:]")
_LABEL_INVALID = re.compile(r"[^a-zA-Z0-9_]")


def metric_name(name: str, *, counter: bool) -> str:
    base = PREFIX + _NAME_INVALID.sub("_", name)
    base = re.sub(r"__+", "_", base).rstrip("_")
    if counter and not base.endswith("_total"):
        base += "_total"
    return base


def label_name(name: str) -> str:
    cleaned = _LABEL_INVALID.sub("_", name)
    if not cleaned or cleaned[0].isdigit() or cleaned.startswith("__"):
        cleaned = "l_" + cleaned.lstrip("_")
    return cleaned


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


@dataclass
class Family:
    name: str
    kind: str  # counter | gauge
    help: str
    samples: list[tuple[Mapping[str, str], float]] = field(default_factory=list)


def families(snapshot: Snapshot, info: Mapping[str, str], uptime_s: float) -> list[Family]:
    """Every metric of the snapshot, plus ``sorabeat_info`` and ``sorabeat_uptime_seconds``."""
    out: dict[str, Family] = {
        f"{PREFIX}info": Family(
            f"{PREFIX}info", "gauge", "Identity of this sorabeat; always 1.", [(info, 1)]
        ),
        f"{PREFIX}uptime_seconds": Family(
            f"{PREFIX}uptime_seconds", "gauge", "Seconds since sorabeat started.", [({}, uptime_s)]
        ),
    }
    for values, kind in ((snapshot.counters, "counter"), (snapshot.gauges, "gauge")):
        for (name, labels), value in sorted(values.items()):
            _add(out, name, labels, value, kind)
    return list(out.values())


def _add(out: dict[str, Family], name: str, labels: Labels, value: float, kind: str) -> None:
    family_name = metric_name(name, counter=kind == "counter")
    family = out.get(family_name)
    if family is None:
        family = Family(family_name, kind, f"sorabeat {kind} {name}")
        out[family_name] = family
    elif family.kind != kind:
        # a gauge and a counter whose names clash once sanitized: keep them apart
        _add(out, f"{name}_{kind}", labels, value, kind)
        return
    family.samples.append(({label_name(k): v for k, v in labels}, value))


def render(fams: Iterable[Family]) -> str:
    lines: list[str] = []
    for family in fams:
        lines.append(f"# HELP {family.name} {escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for labels, value in family.samples:
            if labels:
                inner = ",".join(
                    f'{k}="{escape_label_value(v)}"' for k, v in sorted(labels.items())
                )
                lines.append(f"{family.name}{{{inner}}} {format_value(value)}")
            else:
                lines.append(f"{family.name} {format_value(value)}")
    return "\n".join(lines) + "\n"
