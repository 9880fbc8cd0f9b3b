"""KPIs on hand-checkable episodes: a 2-SKU deterministic shop written here, run for real."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from envs import MarketSimulator, PlanArrays, parse_scenario
from eval.episode import run_episode
from eval.errors import EvalConfigError, KpiError
from eval.kpis import KPI_FIELDS, KpiAccumulator, compute_kpis
from policies.base import DoNothing

# Two SKUs, deterministic demand (normal noise with a negligible spread): A sells 10/day at
# 10 (cost 5), B sells 2/day at 4 (cost 3). Opening stock: 3 days (A 30, B 6). No price
# response, no promotion lift or dip, lead time exactly 1 day.
TINY = {
    "name": "tiny",
    "horizon_days": 5,
    "demand_noise": "normal",
    "normal_cv": 1e-9,
    "initial_stock_days": 3,
    "categories": [
        {
            "name": "shelf",
            "supplier": "s",
            "elasticity": 0,
            "promo_lift_per_depth": 0,
            "post_promo_dip": 0,
            "cannibalisation": 0,
            "halo": 0,
            "skus": [
                {"id": "A", "price": 10, "unit_cost": 5, "base_demand": 10},
                {"id": "B", "price": 4, "unit_cost": 3, "base_demand": 2},
            ],
        }
    ],
    "suppliers": [
        {
            "name": "s",
            "lead_time_days": 1,
            "lead_time_jitter_days": 0,
            "moq": 0,
            "order_fixed_cost": 7,
            "reliability": 1,
        }
    ],
    "costs": {
        "holding_rate_per_day": 0.1,
        "lost_sale_penalty_rate": 0.5,
        "backorder_rate_per_day": 0.05,
        "promo_fixed_cost": 5,
        "promo_daily_cost": 1,
        "waste_disposal_cost": 0,
    },
}


class Scripted:
    """Day 0: 20% off A for 2 days. Day 2: order 25 of A. B is never reordered."""

    name = "scripted"

    def reset(self, sim: MarketSimulator) -> None:
        self._n = sim.n

    def act(self, view, sim) -> PlanArrays:
        plan = PlanArrays.empty(self._n)
        if view.day == 0:
            plan.promo_set[0] = True
            plan.discount[0] = 0.2
            plan.duration[0] = 2
        if view.day == 2:
            plan.order_qty[0] = 25
        return plan


def test_tiny_shop_kpis_match_hand_calculation() -> None:
    k = run_episode(Scripted(), parse_scenario(TINY), seed=0).kpis
    # Day by day: A sells 10 each day (at 8 on days 0-1, at 10 after), stock A 30,20,10,
    # then 25 arrive for day 3 -> 25,15; B sells 2 on days 0-2 and is out on days 3-4.
    assert k.days == 5 and k.n_skus == 2
    assert k.demand_units == 60 and k.sales_units == 56
    assert k.fill_rate == pytest.approx(56 / 60)
    assert k.stockout_sku_days == 2
    assert k.stockout_rate == pytest.approx(2 / 10)
    assert k.lost_units == 4 and k.lost_value == pytest.approx(16.0)
    assert k.revenue == pytest.approx(2 * 80 + 3 * 100 + 3 * 8)
    assert k.costs["cogs"] == pytest.approx(50 * 5 + 6 * 3)
    assert k.gross_margin == pytest.approx((484 - 268) / 484)
    # holding 0.1 x cost on end-of-day stock: A 20+10+0+15+5, B 4+2
    assert k.costs["holding"] == pytest.approx(50 * 0.5 + 6 * 0.3)
    assert k.costs["ordering"] == pytest.approx(7.0)
    assert k.costs["lost_sales"] == pytest.approx(4 * 0.5 * 4)
    assert k.costs["promotion"] == pytest.approx(5 + 1 + 1)
    assert k.profit == pytest.approx(484 - 268 - 26.8 - 7 - 7 - 8)
    # Morning stock A 30,20,10,25,15 and B 6,4,2,0,0.
    assert k.avg_inventory_units == pytest.approx(112 / 5)
    assert k.avg_inventory_value == pytest.approx((100 * 5 + 12 * 3) / 5)
    assert k.inventory_turns == pytest.approx(268 * 365 / 5 / 107.2)
    assert k.inventory_turns == pytest.approx(182.5)
    assert k.promo_discount_value == pytest.approx(20 * 10 * 0.2)
    assert k.promo_cost == pytest.approx(7.0)
    assert k.promo_spend == pytest.approx(47.0)
    assert k.promo_sku_days == 2
    assert k.ordered_units == 25 and k.order_lines == 1
    assert k.waste_units == 0 and k.backorder_unit_days == 0 and k.refused_units == 0


def test_backorders_count_waiting_units_not_lost_ones() -> None:
    spec = copy.deepcopy(TINY)
    spec["backorders"] = True
    k = run_episode(DoNothing(), parse_scenario(spec), seed=0).kpis
    # A: 30 units serve days 0-2, then 10 and 20 units wait; B: 6 units, then 2 and 4 wait.
    assert k.lost_units == 0 and k.lost_value == 0
    assert k.backorder_unit_days == pytest.approx(10 + 20 + 2 + 4)
    assert k.stockout_sku_days == 4
    assert k.fill_rate == pytest.approx(36 / 60)
    assert k.costs["backorder"] == pytest.approx(0.05 * (10 * 30 + 4 * 6))


def test_classic_kpis_agree_with_the_raw_days() -> None:
    """On the textbook scenario (Poisson, backorders) every sum matches the day records."""
    sim = MarketSimulator.from_scenario("classic", seed=3)
    days = []
    policy = DoNothing()
    policy.reset(sim)
    while not sim.done:
        view = sim.view()
        days.append((view, sim.step(policy.act(view, sim))))
    k = compute_kpis(days, sim.catalog.price, sim.catalog.unit_cost)
    demand = sum(r.demand.sum() for _, r in days)
    sales = sum(r.sales.sum() for _, r in days)
    assert k.fill_rate == pytest.approx(sales / demand)
    assert 0 < k.fill_rate < 1
    assert k.profit == pytest.approx(sum(r.profit for _, r in days))
    cogs = sum(r.breakdown["cogs"] for _, r in days)
    inv_value = np.mean([v.on_hand @ sim.catalog.unit_cost for v, _ in days])
    assert k.inventory_turns == pytest.approx(cogs / inv_value * 365 / len(days))
    # the backlog at the end of a day is the next morning's backlog
    assert k.backorder_unit_days == pytest.approx(
        sum(v.backlog.sum() for v, _ in days[1:]) + sim.state.backlog.sum()
    )


def test_run_episode_is_deterministic_and_records_traces() -> None:
    a = run_episode("naive", "steady", seed=1, record=["pantry-00000"])
    b = run_episode("naive", "steady", seed=1)
    assert a.kpis == b.kpis
    assert a.trace is not None and b.trace is None
    t = a.trace
    assert t.sku_ids == ("pantry-00000",) and t.days == 180
    assert t.sales.shape == (180, 1)
    assert t.profit.sum() == pytest.approx(a.kpis.profit)
    s = t.series("pantry-00000")
    assert np.all(s["sales"] <= s["on_hand"] + 1e-9)
    assert np.all(s["sales"] + s["lost"] == s["demand"])
    assert s["ordered"].sum() > 0  # the naive rule reorders weekly
    row = a.row()
    assert list(row)[:3] == ["policy", "scenario", "seed"]
    assert set(KPI_FIELDS) <= set(row)
    assert (row["policy"], row["scenario"], row["seed"]) == ("naive", "steady", 1)


def test_record_all_and_unknown_sku() -> None:
    full = run_episode(DoNothing(), parse_scenario(TINY), seed=0, record=True)
    assert full.trace is not None and full.trace.sku_ids == ("A", "B")
    assert full.trace.sales.sum() == full.kpis.sales_units
    with pytest.raises(EvalConfigError, match=r"unknown SKU.*'Z'"):
        run_episode(DoNothing(), parse_scenario(TINY), seed=0, record=["Z"])
    with pytest.raises(EvalConfigError, match="not recorded"):
        full.trace.series("Z")


def test_unknown_policy_name_is_refused() -> None:
    with pytest.raises(EvalConfigError, match=r"unknown policy 'nope'.*naive"):
        run_episode("nope", "steady", seed=0)


def test_accumulator_rejects_empty_and_mismatched_input() -> None:
    with pytest.raises(KpiError, match="no days"):
        KpiAccumulator(np.ones(2), np.ones(2)).result()
    sim = MarketSimulator.from_scenario(parse_scenario(TINY), seed=0)
    view = sim.view()
    result = sim.step(None)
    with pytest.raises(KpiError, match="3 SKUs"):
        KpiAccumulator(np.ones(3), np.ones(3)).add(view, result)
    nxt = sim.view()
    with pytest.raises(KpiError, match="day 1 but result of day 0"):
        KpiAccumulator(np.ones(2), np.ones(2)).add(nxt, result)


def test_nan_kpis_when_undefined() -> None:
    spec = copy.deepcopy(TINY)
    spec["initial_stock_days"] = 0
    for sku in spec["categories"][0]["skus"]:
        sku["base_demand"] = 0
    k = run_episode(DoNothing(), parse_scenario(spec), seed=0).kpis
    assert math.isnan(k.fill_rate) and math.isnan(k.inventory_turns)
    assert math.isnan(k.gross_margin)
    assert k.profit == 0 and k.stockout_sku_days == 0
