"""Argument types shared by the commands: argparse turns their ArgumentTypeError into a usage
error (exit 2) that names the flag."""

from __future__ import annotations

import argparse
import math


def listen_address(text: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port``; port 0 binds a free port."""
    host, colon, port = text.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(
            f"expected host:port (e.g. 127.0.0.1:3000, [::1]:3000), got {text!r}"
        )
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def count(text: str) -> int:
    """A whole number >= 0."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(text)


def positive_count(text: str) -> int:
    value = count(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {text!r}")
    return value


def non_negative(text: str) -> float:
    """A finite number >= 0 (seconds, rates)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def share(text: str) -> float:
    """A number between 0 and 1 (a share of something)."""
    value = non_negative(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}")
    return value
