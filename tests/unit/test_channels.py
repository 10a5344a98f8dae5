"""Per-channel summaries (sorabeat.sora.channels): counts, correctly rounded sums, maxima,
and what is left out when nothing fed it."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sorabeat.sora.channels import ChannelTotals, channel_summaries
from sorabeat.sora.rates import QUALITY_RATES, RATE_NAMES


def conn(channel: Any, level: Any = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"channel_id": channel, "connection_id": "x"}
    if level is not None:
        doc["network_status"] = {"unstable_level": level}
    return doc


def rates(scale: float, *, skip: str | None = None) -> dict[str, float]:
    out = {name: scale * (i + 1) + 0.1 for i, name in enumerate(RATE_NAMES)}
    out["interval_seconds"] = 10.0
    if skip:
        del out[skip]
    return out


def exact_sum(values: list[float]) -> float:
    return float(sum((Fraction(v) for v in values), Fraction(0)))


def test_summaries_of_a_known_poll() -> None:
    connections = [
        conn("big", 0),
        conn("small"),
        conn("big", 2),
        conn("big", 1),
        conn(None),  # no channel: counted nowhere
        conn(""),
        conn(7),
        conn("new", 3),
    ]
    given_rates = [
        rates(1e6),
        rates(0.5),
        rates(3.3e-3, skip="sent_plis_per_second"),
        None,  # first poll of this one
        rates(1.0),
        rates(1.0),
        rates(1.0),
        None,
    ]
    big, small, new = channel_summaries(connections, given_rates)
    assert [big["channel_id"], small["channel_id"], new["channel_id"]] == ["big", "small", "new"]
    assert (big["connections"], big["rated_connections"]) == (3, 2)
    for name in RATE_NAMES:
        values = [r[name] for r in (given_rates[0], given_rates[2]) if r and name in r]
        assert big["rates"][name] == exact_sum(values)  # correctly rounded, to the bit
    for name in QUALITY_RATES:
        assert big["max"][name] == max(
            r[name] for r in (given_rates[0], given_rates[2]) if r and name in r
        )
    assert big["max"]["unstable_level"] == 2
    assert "interval_seconds" not in big["rates"]
    assert small == {
        "channel_id": "small",
        "connections": 1,
        "rated_connections": 1,
        "rates": {n: given_rates[1][n] for n in RATE_NAMES},  # type: ignore[index]
        "max": {n: given_rates[1][n] for n in QUALITY_RATES},  # type: ignore[index]
    }
    # no rates and an unstable level: counts and the level only
    assert new == {
        "channel_id": "new",
        "connections": 1,
        "rated_connections": 0,
        "max": {"unstable_level": 3},
    }


def test_an_unstable_level_that_is_not_an_integer_is_ignored() -> None:
    (summary,) = channel_summaries(
        [conn("c", True), conn("c", "2"), conn("c", 1.5), {"channel_id": "c", "network_status": 3}],
        [None] * 4,
    )
    assert summary == {"channel_id": "c", "connections": 4, "rated_connections": 0}


def test_streaming_and_whole_give_the_same() -> None:
    connections = [conn("a", 1), conn("b"), conn("a", 0)]
    given_rates = [rates(2.0), None, rates(3.0)]
    totals = ChannelTotals()
    for c, r in zip(connections, given_rates, strict=True):
        totals.add(c, r)
    assert len(totals) == 2
    assert totals.summaries() == channel_summaries(connections, given_rates)


RATE = st.floats(0, 1e12, allow_nan=False, allow_infinity=False)
MEMBER = st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.one_of(st.none(), st.integers(0, 3)),
    st.one_of(st.none(), st.fixed_dictionaries({n: RATE for n in RATE_NAMES})),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(MEMBER, max_size=30))
def test_counts_sums_and_maxima_hold_for_any_poll(
    members: list[tuple[str, int | None, dict[str, float] | None]],
) -> None:
    summaries = channel_summaries([conn(c, lvl) for c, lvl, _ in members], [r for *_, r in members])
    assert [s["channel_id"] for s in summaries] == list(dict.fromkeys(c for c, _, _ in members))
    for summary in summaries:
        mine = [(lvl, r) for c, lvl, r in members if c == summary["channel_id"]]
        rated = [r for _, r in mine if r]
        assert summary["connections"] == len(mine)
        assert summary["rated_connections"] == len(rated)
        for name in RATE_NAMES:
            if rated:
                total = summary["rates"][name]
                assert total == exact_sum([r[name] for r in rated])
                assert total >= 0
        for name in QUALITY_RATES:
            if rated:
                assert summary["max"][name] == max(r[name] for r in rated)
                assert summary["max"][name] <= summary["rates"][name]
        levels = [lvl for lvl, _ in mine if lvl is not None]
        assert summary.get("max", {}).get("unstable_level") == (max(levels) if levels else None)
        assert ("rates" in summary) == bool(rated)
