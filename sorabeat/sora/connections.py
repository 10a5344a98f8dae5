"""GetStatsAllConnections: one event per connection, plus ``channel_client_id``."""

from __future__ import annotations

from typing import Any


def channel_client_id(connection: dict[str, Any]) -> str:
    """``channel_id + "/" + client_id``; a missing or non-string part is "" (as the original)."""
    channel = connection.get("channel_id")
    client = connection.get("client_id")
    return (
        f"{channel if isinstance(channel, str) else ''}/{client if isinstance(client, str) else ''}"
    )


def identity(connection: dict[str, Any]) -> str:
    """What tells connections of one fetch apart: connection_id when Sora gives one."""
    connection_id = connection.get("connection_id")
    if isinstance(connection_id, str) and connection_id:
        return connection_id
    return str(connection.get("channel_client_id", ""))


def add_channel_client_id(connections: list[dict[str, Any]]) -> None:
    for connection in connections:
        connection["channel_client_id"] = channel_client_id(connection)
