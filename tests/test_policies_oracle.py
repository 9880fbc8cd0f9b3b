"""The oracle's bound is at least every policy's profit on the same scenario and seed."""

from __future__ import annotations

import numpy as np
import pytest

from envs import MarketSimulator, PlanArrays
from policies.base_stock import BaseStockPolicy
from policies.errors import PolicyConfigError
from policies.oracle import profit_bound
from policies.registry import make_policy
from policies.rollout import rollout


class DeepPromoter(BaseStockPolicy):
    """Orders like the heuristic but keeps every SKU on its deepest discount: the policy
    that most exploits promotion lift, to stress the bound's demand relaxation."""

    def act(self, view, sim):
        plan = super().act(view, sim)
        n = len(view.sku_ids)
        plan.promo_set = np.ones(n, dtype=bool)
        plan.discount = sim.catalog.max_discount.copy()
        plan.duration = np.full(n, 30, dtype=np.int64)
        plan.order_qty = plan.order_qty * 2
        return plan


class Alternator(BaseStockPolicy):
    """Promotes every other day at a moderate depth (restarts dodge promotion fatigue)."""

    def act(self, view, sim):
        plan = super().act(view, sim)
        n = len(view.sku_ids)
        plan.promo_set = np.ones(n, dtype=bool)
        on = view.day % 2 == 0
        plan.discount = np.full(n, 0.15 if on else 0.0)
        plan.duration = np.ones(n, dtype=np.int64)
        return plan


def everyone():
    return [
        make_policy("do_nothing"),
        make_policy("naive"),
        make_policy("base_stock"),
        make_policy("base_stock", review_days=1, service_level=0.99),
        make_policy("base_stock_tuned"),
        make_policy("oracle"),
        DeepPromoter(),
        Alternator(),
    ]


@pytest.mark.parametrize(
    ("scenario", "seed"),
    [
        ("steady", 0),
        ("steady", 7),
        ("fresh", 1),
        ("festival", 2),
        ("disruption", 3),
        ("classic", 4),
        ("new_category", 5),
    ],
)
def test_bound_is_at_least_every_policys_profit(scenario, seed):
    # A coarser programme than the default (faster; same code path, looser bound).
    sim = MarketSimulator.from_scenario(scenario, seed=seed)
    bound = profit_bound(sim, grid=16, fatigue_states=8)
    profits = {f"{p.name}#{i}": rollout(p, scenario, seed).profit for i, p in enumerate(everyone())}
    assert bound >= max(profits.values()), (scenario, seed, float(bound), profits)


@pytest.mark.slow  # a full 180-day MPC episode (light settings): ~15 s alone
def test_bound_beats_the_lookahead_planner_too():
    bound = profit_bound(MarketSimulator.from_scenario("steady", seed=3))
    mpc = make_policy("mpc", horizon=7, samples=1)
    assert bound >= rollout(mpc, "steady", 3).profit


def test_bound_is_tight_enough_to_be_useful():
    # A bound far above what good policies reach makes "% of oracle" meaningless.
    sim = MarketSimulator.from_scenario("steady", seed=0)
    bound = profit_bound(sim)
    tuned = rollout(make_policy("base_stock_tuned"), "steady", 0).profit
    assert tuned < bound < 1.3 * tuned
    classic = profit_bound(MarketSimulator.from_scenario("classic", seed=0))
    textbook = rollout(make_policy("base_stock", review_days=1), "classic", 0).profit
    assert textbook < classic < 1.35 * textbook


def test_bound_depends_on_the_realised_future():
    a = profit_bound(MarketSimulator.from_scenario("steady", seed=0))
    b = profit_bound(MarketSimulator.from_scenario("steady", seed=1))
    assert a != b
    again = profit_bound(MarketSimulator.from_scenario("steady", seed=0))
    assert float(a) == float(again)
    assert a.per_sku.shape == (30,)
    assert float(a.per_sku.sum()) == pytest.approx(float(a))


def test_bound_needs_a_fresh_episode():
    sim = MarketSimulator.from_scenario("steady", seed=0)
    sim.step(PlanArrays.empty(sim.n))
    with pytest.raises(PolicyConfigError, match="day 0"):
        profit_bound(sim)
