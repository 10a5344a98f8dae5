"""``http.*``: the self-monitoring endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from sorabeat.config.schema import PositiveSeconds, Range, setting


@dataclass(frozen=True)
class HttpSettings:
    enabled: bool = setting(
        False, doc="Serve / (identity), /stats (JSON), /metrics (Prometheus) and /health."
    )
    host: str = setting(
        "localhost", doc="Listen address; anyone who can reach it can read the metrics."
    )
    port: Annotated[int, Range(0, 65535)] = setting(5066, doc="Listen port (0: any free port).")
    unhealthy_after: PositiveSeconds = setting(
        300.0,
        doc="/health turns unhealthy when no event was acknowledged this long while some wait.",
    )
