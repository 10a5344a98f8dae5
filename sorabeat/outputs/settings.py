"""Settings of the local outputs: ``output.console`` and ``output.file``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from sorabeat.config.schema import Range, setting


@dataclass(frozen=True)
class ConsoleSettings:
    enabled: bool = setting(True, doc="Print events to stdout, one JSON document per line.")
    pretty: bool = setting(False, doc="Indent each event over several lines.")
    bulk_max_size: Annotated[int, Range(1)] = setting(2048, doc="Events written per batch.")


@dataclass(frozen=True)
class FileSettings:
    enabled: bool = setting(True, doc="Write events to rotating files, one JSON document per line.")
    path: str = setting("${path.data}/sorabeat", doc="Directory of the files.")
    filename: str = setting("sorabeat", doc="Name of the active file: <filename>.ndjson.")
    rotate_every_kb: Annotated[int, Range(1)] = setting(
        10240, doc="Rotate when the active file reaches this size."
    )
    number_of_files: Annotated[int, Range(2, 1024)] = setting(
        7, doc="Files kept, the active one included; the oldest is deleted."
    )
    permissions: Annotated[int, Range(0, 0o777)] = setting(
        0o600, doc="File mode of the files (octal, e.g. 0600)."
    )
    rotate_on_startup: bool = setting(True, doc="Start a new file at every start.")
    bulk_max_size: Annotated[int, Range(1)] = setting(2048, doc="Events written per batch.")
