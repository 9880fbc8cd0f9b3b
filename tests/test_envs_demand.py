"""Each modelled effect moves demand (or stock) the way an operations person expects.

Comparisons use forks of one simulator, so both sides see the same random future (common
random numbers) and the difference is the effect alone.
"""

from __future__ import annotations

import numpy as np
import pytest

from envs import MarketSimulator, PlanArrays, Promotion, load_scenario
from envs.plan import Plan


def promo(n: int, idx, discount: float, days: int = 1) -> PlanArrays:
    plan = PlanArrays.empty(n)
    plan.promo_set[idx] = True
    plan.discount[idx] = discount
    plan.duration[idx] = days
    return plan


def advanced(scenario: str, days: int, seed: int = 0) -> MarketSimulator:
    sim = MarketSimulator.from_scenario(scenario, seed=seed)
    for _ in range(days):
        sim.step(None)
    return sim


def test_deeper_discount_sells_more_on_the_same_draw() -> None:
    sim = advanced("steady", 5)
    all_skus = np.arange(sim.n)
    shallow = sim.fork().step(promo(sim.n, all_skus, 0.1))
    deep = sim.fork().step(promo(sim.n, all_skus, 0.3))
    none = sim.fork().step(None)
    assert (deep.mean_demand > shallow.mean_demand).all()
    assert (shallow.mean_demand > none.mean_demand).all()
    assert (deep.demand >= shallow.demand).all() and (shallow.demand >= none.demand).all()
    assert deep.demand.sum() > 1.3 * none.demand.sum()


def test_promotion_lift_fades_under_constant_promotion() -> None:
    sim = advanced("steady", 5)
    base, promoted = sim.fork(), sim.fork()
    sku = 0
    ratios = []
    for day in range(30):
        plan = promo(sim.n, [sku], 0.3, days=30) if day == 0 else None
        r_promo, r_base = promoted.step(plan), base.step(None)
        ratios.append(r_promo.mean_demand[sku] / r_base.mean_demand[sku])
    assert ratios[0] > ratios[10] > ratios[29] > 1.0


def test_post_promotion_dip_then_recovery() -> None:
    sim = advanced("steady", 5)
    base, promoted = sim.fork(), sim.fork()
    promoted.step(promo(sim.n, np.arange(sim.n), 0.3, days=7))
    base.step(None)
    for _ in range(6):
        promoted.step(None)
        base.step(None)
    after = [promoted.step(None).mean_demand / base.step(None).mean_demand for _ in range(14)]
    assert (after[0] < 0.97).all()  # the dip: demand was pulled forward
    assert (after[0] < after[-1]).all() and (after[-1] > 0.98).all()  # it fades


def test_cannibalisation_within_a_category() -> None:
    sim = advanced("steady", 5)
    cat = sim.catalog.category
    pantry = np.flatnonzero(cat == 0)
    target, siblings = pantry[0], pantry[1:]
    alone = sim.fork().step(None).mean_demand[target]
    crowded = sim.fork().step(promo(sim.n, siblings, 0.5)).mean_demand[target]
    assert crowded < 0.95 * alone
    other_cat = np.flatnonzero(cat == 1)[0]  # another category is unaffected
    assert sim.fork().step(promo(sim.n, siblings, 0.5)).mean_demand[other_cat] == pytest.approx(
        sim.fork().step(None).mean_demand[other_cat]
    )


def test_festival_surge_and_lull_before() -> None:
    sim = advanced("festival", 35)
    means = [sim.step(None).mean_demand.sum() for _ in range(15)]  # days 35..49
    normal, lull, surge = means[0], means[41 - 35], means[45 - 35]
    assert surge > 3.0 * normal
    assert lull < 0.95 * normal


def test_perishables_expire_first_in_first_out() -> None:
    sim = MarketSimulator.from_scenario("fresh", seed=0)
    bakery = np.flatnonzero(sim.catalog.shelf_life == 4)
    glut = PlanArrays.empty(sim.n)
    glut.order_qty[bakery] = np.ceil(10 * sim.catalog.base_demand[bakery])  # ten days' worth
    expired = sim.step(glut).expired
    for _ in range(8):
        expired = expired + sim.step(None).expired
    assert (expired[bakery] > 0).all()  # four-day shelf life: most of the glut is wasted
    assert (sim.state.on_hand >= 0).all()
    p = sim._perishable_idx
    assert np.allclose(sim.state.ages.sum(axis=0), sim.state.on_hand[p])  # buckets add up
    # FIFO: with fresh stock arriving daily, the oldest units go first and less is wasted
    a, b = (
        MarketSimulator.from_scenario("fresh", seed=1),
        MarketSimulator.from_scenario("fresh", seed=1),
    )
    daily = PlanArrays.empty(a.n)
    daily.order_qty[bakery] = np.ceil(a.catalog.base_demand[bakery])
    waste_daily = sum(a.step(daily).expired[bakery].sum() for _ in range(60))
    bulk = PlanArrays.empty(b.n)
    waste_bulk = 0.0
    for day in range(60):
        bulk.order_qty[bakery] = np.ceil(a.catalog.base_demand[bakery]) * 10 if day % 10 == 0 else 0
        waste_bulk += b.step(bulk).expired[bakery].sum()
    assert waste_bulk > 2 * waste_daily


def test_disruption_delays_deliveries() -> None:
    spec = load_scenario("disruption")
    sim = MarketSimulator(spec, seed=0)
    sku = sim.catalog.sku_ids.index(next(s for s in sim.sku_ids if s.startswith("pantry")))

    def days_to_arrive(order_day: int) -> int:
        s = MarketSimulator(spec, seed=0)
        while s.day < order_day:
            s.step(None)
        plan = PlanArrays.empty(s.n)
        plan.order_qty[sku] = 500
        s.step(plan)
        waited = 1
        while s.state.on_order[sku] > 0:
            s.step(None)
            waited += 1
        return waited

    before, during = days_to_arrive(50), days_to_arrive(65)
    assert during >= before + 10 - 3  # 10 extra days, less the jitter


def test_drift_changes_base_demand_on_schedule() -> None:
    sim = advanced("drift", 60)  # the next step simulates day 60, when the drift starts
    pantry = sim.catalog.category == 0
    before = sim.state.base[pantry].copy()
    sim.step(None)
    assert np.allclose(sim.state.base[pantry], 1.8 * before)


def test_lost_sales_versus_backorders() -> None:
    lost = load_scenario("steady").model_copy(update={"initial_stock_days": 0})
    back = lost.model_copy(update={"backorders": True})
    a, b = MarketSimulator(lost, seed=0), MarketSimulator(back, seed=0)
    ra, rb = a.step(None), b.step(None)
    assert ra.lost.sum() == ra.demand.sum() > 0 and ra.breakdown["lost_sales"] > 0
    assert rb.lost.sum() == 0 and np.array_equal(b.state.backlog, rb.demand)
    assert rb.breakdown["backorder"] > 0


def test_minimum_order_quantity_rounds_up() -> None:
    sim = MarketSimulator.from_scenario("steady", seed=0)
    r = sim.step(Plan(restocks=[{"sku": sim.sku_ids[0], "quantity": 1}]))
    assert r.ordered[0] == 10 and r.moq_added_units == 9


def test_weekly_budget_caps_spend() -> None:
    sim = MarketSimulator.from_scenario("new_category", seed=0)
    plan = PlanArrays.empty(sim.n)
    plan.order_qty[:] = 10_000
    r = sim.step(plan)
    spent = float(r.ordered @ sim.catalog.unit_cost)
    assert spent <= 20_000 and r.budget_clipped_units > 0


def test_warehouse_capacity_refuses_excess() -> None:
    spec = load_scenario("steady").model_copy(update={"warehouse_capacity": 2000.0})
    sim = MarketSimulator(spec, seed=0)
    plan = PlanArrays.empty(sim.n)
    plan.order_qty[:] = 1000
    refused = 0.0
    for _ in range(15):
        refused += sim.step(plan).refused.sum()
        plan = None
    assert refused > 0 and sim.state.on_hand.sum() <= 2000


def test_stock_is_conserved_every_day() -> None:
    rng = np.random.default_rng(0)
    for scenario in ("fresh", "disruption", "new_category"):
        sim = MarketSimulator.from_scenario(scenario, seed=4)
        while not sim.done:
            before = sim.state.on_hand.copy()
            plan = PlanArrays.empty(sim.n)
            plan.order_qty = rng.integers(0, 40, sim.n) * (rng.random(sim.n) < 0.3)
            plan.promo_set = rng.random(sim.n) < 0.05
            plan.discount = rng.choice([0.0, 0.2, 0.5], sim.n)
            plan.duration = rng.integers(1, 5, sim.n)
            r = sim.step(plan)
            same_day = sim.state.on_hand - (before - r.sales - r.expired + r.receipts)
            assert (same_day >= 0).all()  # only same-day deliveries (lead time 0) add more
            assert (sim.state.on_hand >= 0).all() and (r.sales <= r.demand + 1e-9).all()


def test_unknown_sku_in_a_plan_is_named() -> None:
    from envs import PlanError

    sim = MarketSimulator.from_scenario("steady", seed=0)
    with pytest.raises(PlanError, match=r"promotions\.0: unknown SKU 'nope'"):
        sim.step(Plan(promotions=[Promotion(sku="nope", discount=0.1)]))
    bad = PlanArrays.empty(sim.n)
    bad.order_qty[3] = -5
    with pytest.raises(PlanError, match=r"order_qty\[3\] = -5"):
        sim.step(bad)
    assert sim.day == 0  # nothing happened


def test_product_lifecycle_launch_ramp_and_end_of_life() -> None:
    sim = MarketSimulator.from_scenario("new_category", seed=0)  # toys launch on day 30
    toys = sim.catalog.category == 1
    assert sim.mean_demand(day=29)[toys].sum() == 0
    ramp = [sim.mean_demand(day=d)[toys].sum() / sim.state.base[toys].sum() for d in (30, 40, 50)]
    assert 0 < ramp[0] < ramp[1] < ramp[2]
    spec = load_scenario("steady")
    cats = [spec.categories[0].model_copy(update={"end_of_life_day": 100, "decline_days": 20})]
    old = MarketSimulator(spec.model_copy(update={"categories": cats + spec.categories[1:]}), 0)
    pantry = old.catalog.category == 0
    m = [old.mean_demand(day=d)[pantry].sum() for d in (98, 105, 125)]
    assert m[0] > m[1] > 0 and m[2] == 0
