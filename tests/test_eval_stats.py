"""Intervals, paired differences and percent of a reference, on tables with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from eval.errors import EvalConfigError
from eval.stats import paired_differences, percent_of_reference, summarise, t_interval


def _runs() -> pd.DataFrame:
    rows = []
    for seed, (a, b, o) in zip(
        (1000, 1001, 1002),
        ((10.0, 8.0, 20.0), (12.0, 9.0, 24.0), (14.0, 13.0, 28.0)),
        strict=True,
    ):
        rows += [
            {"policy": "a", "scenario": "s", "seed": seed, "profit": a},
            {"policy": "b", "scenario": "s", "seed": seed, "profit": b},
            {"policy": "oracle", "scenario": "s", "seed": seed, "profit": o},
        ]
    return pd.DataFrame(rows)


def test_t_interval_matches_the_textbook_formula() -> None:
    iv = t_interval([1, 2, 3, 4, 5], 0.95)
    assert iv.mean == 3 and iv.n == 5
    # t_{0.975, 4} = 2.7764; sd = sqrt(2.5)
    assert iv.half == pytest.approx(2.776445 * math.sqrt(2.5) / math.sqrt(5), rel=1e-5)
    assert (iv.low, iv.high) == pytest.approx((3 - iv.half, 3 + iv.half))
    assert t_interval([1, 2, 3, 4, 5], 0.99).half > iv.half


def test_t_interval_edge_cases() -> None:
    one = t_interval([7.0])
    assert one.mean == 7 and math.isnan(one.half) and one.n == 1
    same = t_interval([2.0, 2.0, 2.0])
    assert same.half == 0 and same.low == same.high == 2
    nan_ignored = t_interval([1.0, float("nan"), 3.0])
    assert nan_ignored.n == 2 and nan_ignored.mean == 2
    assert t_interval([]).n == 0
    with pytest.raises(EvalConfigError, match="between 0 and 1"):
        t_interval([1, 2], 1.5)


def test_paired_difference_of_a_policy_with_itself_is_exactly_zero() -> None:
    d = paired_differences(_runs(), "profit", baseline="a")
    self_row = d[(d["policy_a"] == "a") & (d["policy_b"] == "a")].iloc[0]
    assert self_row["diff"] == 0 and self_row["diff_half"] == 0 and self_row["n_seeds"] == 3
    assert self_row["a_better_share"] == 0


def test_paired_differences_use_per_seed_differences() -> None:
    d = paired_differences(_runs(), "profit", baseline="b")
    row = d[d["policy_a"] == "a"].iloc[0]
    per_seed = np.array([2.0, 3.0, 1.0])
    assert row["diff"] == pytest.approx(2.0)
    assert row["diff_half"] == pytest.approx(t_interval(per_seed).half)
    assert row["a_better_share"] == 1.0
    # unpaired intervals would be much wider than the paired one
    assert row["diff_half"] < t_interval([10, 12, 14]).half
    every_pair = paired_differences(_runs(), "profit")
    assert len(every_pair) == 6  # ordered pairs of 3 distinct policies
    with pytest.raises(EvalConfigError, match="baseline 'zzz'"):
        paired_differences(_runs(), "profit", baseline="zzz")


def test_percent_of_reference_is_per_seed() -> None:
    runs = _runs()
    pct = percent_of_reference(runs, "oracle")
    assert pct.name == "pct_of_oracle"
    a = pct[runs["policy"] == "a"].to_numpy()
    assert a == pytest.approx([50.0, 50.0, 50.0])
    assert (pct[runs["policy"] == "oracle"] == 100).all()
    bounded = percent_of_reference(runs, "oracle", bounds={("s", 1000): 40.0})
    assert bounded[(runs["policy"] == "a") & (runs["seed"] == 1000)].iloc[0] == 25.0
    missing = percent_of_reference(runs, "nobody")
    assert missing.isna().all()


def test_percent_of_a_non_positive_reference_is_nan() -> None:
    runs = _runs()
    runs.loc[(runs["policy"] == "oracle") & (runs["seed"] == 1001), "profit"] = -5.0
    pct = percent_of_reference(runs, "oracle")
    assert pct[runs["seed"] == 1001].isna().all()
    assert pct[runs["seed"] == 1000].notna().all()


def test_summarise_groups_by_scenario_then_policy() -> None:
    runs = pd.concat([_runs(), _runs().assign(scenario="t")])
    s = summarise(runs, ["profit"])
    assert list(zip(s["scenario"], s["policy"], strict=True))[:4] == [
        ("s", "a"),
        ("s", "b"),
        ("s", "oracle"),
        ("t", "a"),
    ]
    a = s.iloc[0]
    assert a["profit"] == 12 and a["n_seeds"] == 3
    assert a["profit_half"] == pytest.approx(t_interval([10, 12, 14]).half)
    with pytest.raises(EvalConfigError, match="lacks column"):
        summarise(runs, ["nope"])
