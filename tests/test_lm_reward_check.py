"""The reward check scores departures on the shipped checkpoint's own mornings."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("torch")

from eval.lm_reward_check import DEPARTURES, departure_values, summarise
from policies.lm.errors import LMConfigError


def test_departures_are_scored_against_the_advice_and_summarised() -> None:
    rows = departure_values(("steady",), (1010,), day_stride=20, skus_per_day=2,
                            n_futures=1, truth_futures=2, horizon=5, tail_days=2)
    assert rows, "no morning without an advised promotion was saved"
    assert {r["kind"] for r in rows} <= set(DEPARTURES)
    assert {r["group"] for r in rows} == {"scenario"}
    assert all(math.isfinite(r["estimate"]) and math.isfinite(r["truth"]) for r in rows)
    # a departure changes what happens: not every one is worth exactly the advice
    assert any(r["truth"] != 0.0 for r in rows)
    summary = summarise(rows)
    assert sum(f["n"] for f in summary.values()) == len(rows)
    for f in summary.values():
        mean, low, high = f["error"]
        assert f["n"] < 2 or low <= mean <= high


def test_the_check_refuses_report_seeds() -> None:
    with pytest.raises(LMConfigError, match="reporting seeds"):
        departure_values(("steady",), (3,))


def test_rows_are_summarised_per_group_of_shops() -> None:
    """Launch shops' launched category is reported apart from everything else."""
    from eval.lm_reward_check import _group

    assert _group("festival", False) == "scenario"
    assert _group("festival-v2", True) == "variant"
    assert _group("festival-l1", True) == "launched"
    assert _group("festival-l1", False) == "launch-other"
    rows = [
        {"kind": "up", "group": "scenario", "estimate": 0.0, "truth": -0.1},
        {"kind": "up", "group": "scenario", "estimate": 0.1, "truth": 0.1},
        {"kind": "up", "group": "launched", "estimate": 1.0, "truth": 2.0},
        {"kind": "up", "group": "launched", "estimate": 0.5, "truth": 1.0},
        {"kind": "promo", "group": "launched", "estimate": -1.0, "truth": 1.0},
    ]
    overall = summarise(rows)
    assert overall["up"]["n"] == 4 and overall["up"]["pays"] == 0.75
    grouped = summarise(rows, by_group=True)
    assert set(grouped) == {"scenario up", "launched up", "launched promo"}
    assert grouped["launched up"]["pays"] == 1.0
    assert grouped["launched up"]["error"][0] == pytest.approx(-0.75)
    assert grouped["scenario up"]["truth"][0] == pytest.approx(0.0)


def test_launch_shops_rows_name_the_launched_category() -> None:
    rows = departure_values(("classic",), (1010,), launch_variants=1, day_stride=30,
                            skus_per_day=1, n_futures=1, truth_futures=1, horizon=5,
                            tail_days=2)
    groups = {r["group"] for r in rows}
    # classic's one category is the one its launch shop launches
    assert groups == {"scenario", "launched"}
    assert {r["category"] for r in rows} == {"item"}
    assert all(r["scenario"] == "classic-l1" for r in rows if r["group"] == "launched")
    assert set(summarise(rows, by_group=True)) >= {"launched up", "scenario up"}
