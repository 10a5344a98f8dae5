"""Saved-object ids that stay the same on every run and every machine, so importing again
with ``overwrite=true`` replaces the objects instead of adding copies."""

from __future__ import annotations

import uuid

# Fixed forever: changing it would orphan every object users already imported.
NAMESPACE = uuid.UUID("5b0f3c1e-7d2a-5e8b-9c41-50ab0bea7001")


def object_id(kind: str, key: str) -> str:
    """The id of the ``kind`` object named ``key`` (a field path, a data view pattern...)."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{key}"))


def part_id(owner: str, role: str) -> str:
    """An id inside an object (a Lens layer or column, a dashboard panel or control)."""
    return str(uuid.uuid5(uuid.UUID(owner), role))
