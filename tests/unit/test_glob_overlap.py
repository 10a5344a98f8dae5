"""The ES emulator's template-overlap rule: two index patterns overlap exactly when some
name matches both (checked against every short name over a small alphabet)."""

from __future__ import annotations

import fnmatch
import itertools

from hypothesis import given
from hypothesis import strategies as st

from tools.emulators.elasticsearch import globs_overlap

patterns = st.text(alphabet="ab*", max_size=5)


def witness(a: str, b: str) -> bool:
    literals = len(a.replace("*", "")) + len(b.replace("*", ""))
    for n in range(literals + 2):
        for name in map("".join, itertools.product("ab", repeat=n)):
            if fnmatch.fnmatchcase(name, a) and fnmatch.fnmatchcase(name, b):
                return True
    return False


@given(patterns, patterns)
def test_overlap_is_exactly_a_common_match(a: str, b: str) -> None:
    assert globs_overlap(a, b) == witness(a, b)
    assert globs_overlap(a, b) == globs_overlap(b, a)


def test_known_pairs() -> None:
    assert globs_overlap("sorabeat-0.1.0-*", "sorabeat-*")
    assert not globs_overlap("sorabeat-0.1.0-*", "sorabeat-8.11.0-*")
    assert not globs_overlap("sorabeat-0.1.0", "sorabeat-0.1.0-*")
    assert globs_overlap("*-x", "logs-*")
