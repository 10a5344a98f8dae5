"""Identifiers as Sora writes them: 26-character Crockford base32 (modern Sora) or UUIDs (2017)."""

from __future__ import annotations

import random
import uuid

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_LENGTH = 26


def base32_id(rng: random.Random) -> str:
    """26 Crockford base32 digits (130 random bits), e.g. ``FNRGZ8VFSN3R98DK7NBA38MFNR``."""
    bits = rng.getrandbits(5 * ID_LENGTH)
    digits = []
    for _ in range(ID_LENGTH):
        digits.append(CROCKFORD[bits & 31])
        bits >>= 5
    return "".join(digits)


def uuid4(rng: random.Random) -> str:
    """A random (version 4) UUID drawn from ``rng``, so that a seed reproduces it."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))
