"""The base-stock heuristic: the textbook optimum on the classic scenario, parameters, tuning."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import poisson

from envs import MarketSimulator
from policies.base_stock import BaseStockPolicy, TunedBaseStockPolicy, load_tuned
from policies.errors import PolicyArtifactError, PolicyConfigError
from policies.registry import make_policy
from policies.rollout import rollout
from policies.tuning import tune_base_stock


def analytic_base_stock(mean_per_day: float, lead: int, b: float, h: float) -> int:
    """Smallest S with P(Poisson(mean * (lead + 1)) <= S) >= b / (b + h)."""
    ratio = b / (b + h)
    s = 0
    while poisson.cdf(s, mean_per_day * (lead + 1)) < ratio:
        s += 1
    return s


def test_matches_the_analytic_optimal_base_stock_level_on_classic():
    sim = MarketSimulator.from_scenario("classic", seed=0)
    spec, cat = sim.spec, sim.catalog
    h = cat.unit_cost[0] * spec.costs.holding_rate_per_day
    b = cat.price[0] * spec.costs.backorder_rate_per_day
    expected = analytic_base_stock(10.0, spec.suppliers[0].lead_time_days, b, h)
    assert (h, b, expected) == (pytest.approx(1.0), pytest.approx(9.0), 37)
    # Default service level = critical ratio b / (b + h) from the scenario's costs.
    policy = make_policy("base_stock", review_days=1)
    policy.reset(sim)
    assert policy.order_up_to(sim.view())[0] == expected  # the forecast starts at the mean
    for _ in range(40):  # later: the same rule applied to the policy's own demand estimate
        sim.step(policy.act(sim.view(), sim))
        view = sim.view()
        level = 0.5 * view.sales_ema7[0] + 0.5 * view.sales_ema28[0]
        assert policy.order_up_to(view)[0] == analytic_base_stock(level, 2, b, h)


def test_order_up_to_keeps_the_position_at_S_each_review():
    sim = MarketSimulator.from_scenario("classic", seed=2)
    policy = BaseStockPolicy(review_days=1)
    policy.reset(sim)
    for _ in range(20):
        view = sim.view()
        plan = policy.act(view, sim)
        position = view.on_hand + view.on_order - view.backlog
        target = policy.order_up_to(view)
        np.testing.assert_allclose(position + plan.order_qty, np.maximum(target, position))
        sim.step(plan)


def test_classic_profit_near_the_textbook_cost():
    # Expected cost per day of the optimal policy is about h*E[(S-D)+] + b*E[(D-S)+] ~ 8.
    profit = np.mean([rollout(BaseStockPolicy(review_days=1), "classic", s).profit for s in (0, 1)])
    revenue_margin = 10 * 365 * 5.0  # mean demand x unit margin over the year
    assert revenue_margin - 14 * 365 < profit < revenue_margin


def test_bad_parameters_name_the_field():
    with pytest.raises(PolicyConfigError, match="service_level"):
        BaseStockPolicy(service_level=1.5)
    with pytest.raises(PolicyConfigError, match="review_days"):
        make_policy("base_stock", review_days=0)
    with pytest.raises(PolicyConfigError, match=r"per_category\.pantry\.color"):
        BaseStockPolicy(per_category={"pantry": {"color": "red"}})


def test_markdowns_fire_only_on_overstock():
    sim = MarketSimulator.from_scenario("steady", seed=0)
    policy = BaseStockPolicy(overstock_days=5.0, markdown_depth=0.2, review_days=7)
    policy.reset(sim)
    plan = policy.act(sim.view(), sim)  # opening stock is 10 days: every SKU overstocked
    assert plan.promo_set.all()
    np.testing.assert_allclose(plan.discount, np.minimum(0.2, sim.catalog.max_discount))
    calm = BaseStockPolicy(overstock_days=None)
    calm.reset(sim)
    assert not calm.act(sim.view(), sim).promo_set.any()


def test_heuristic_is_fast_on_a_thousand_skus():
    # Not a timing assertion: a functional check that 10,000 SKUs work vectorised.
    sim = MarketSimulator.from_scenario("large", seed=0)
    policy = make_policy("base_stock")
    policy.reset(sim)
    plan = policy.act(sim.view(), sim)
    assert plan.order_qty.shape == (sim.n,)
    assert np.isfinite(plan.order_qty).all()


def test_tuning_improves_profit_and_records_its_seeds(tmp_path):
    out = tmp_path / "classic.json"
    record = tune_base_stock(
        "classic",
        seeds=[1000],
        passes=1,
        out=out,
        grid={"review_days": (1, 7), "service_level": (None, 0.5, 0.99)},
    )
    saved = json.loads(out.read_text())
    assert saved["seeds"] == [1000]
    assert saved["profit_tuned"] >= saved["profit_default_params"]
    assert record["per_category"]["item"]["review_days"] == 1
    assert "shopops train base-stock --scenario classic" in saved["command"]
    tuned = TunedBaseStockPolicy(path=out)
    assert rollout(tuned, "classic", 1000).profit == pytest.approx(saved["profit_tuned"])


def test_tuning_refuses_held_out_scenarios(tmp_path):
    with pytest.raises(PolicyConfigError, match="held out"):
        tune_base_stock("new_category", seeds=[1000], out=tmp_path / "x.json")


def test_tuned_policy_loads_committed_files_and_falls_back(tmp_path):
    data = load_tuned("policies/tuned/steady.json")
    assert all(s >= 1000 for s in data["seeds"])
    policy = make_policy("base_stock_tuned")
    policy.reset(MarketSimulator.from_scenario("steady", seed=0))
    assert policy.params_source.name == "steady.json"
    policy.reset(MarketSimulator.from_scenario("new_category", seed=0))
    assert policy.params_source.name == "default.json"
    strict = make_policy("base_stock_tuned", fallback=False)
    with pytest.raises(PolicyArtifactError, match="new_category"):
        strict.reset(MarketSimulator.from_scenario("new_category", seed=0))
    with pytest.raises(PolicyArtifactError, match="no tuned parameters"):
        make_policy("base_stock_tuned", path=tmp_path / "missing.json")
