"""Notices in the simulated world: their true effects, applied from the dates they name.

A scenario's notices carry directives (:mod:`envs.directives`); the simulator fines sales
under a stop-sale, penalises promotions under a ban or past a cap, stretches the lead time of
orders placed during a supplier delay and multiplies demand under a demand shift. A plan can
hold a SKU off sale for a day. Without notices every number is what it was before notices
existed (values recorded from the code before this feature).
"""

from __future__ import annotations

import copy
import datetime as dt

import numpy as np
import pytest
import yaml

from envs import MarketSimulator, Plan, PlanArrays, PlanError, ScenarioError, parse_scenario
from envs.directives import DIRECTIVE_KINDS
from envs.scenario import load_scenario
from policies.base_stock import BaseStockPolicy
from policies.oracle import profit_bound
from policies.registry import make_policy
from policies.rollout import rollout
from scenarios import SCENARIO_DIR
from tools.sim_shop import SimShop

STEADY = yaml.safe_load((SCENARIO_DIR / "steady.yaml").read_text())
START = dt.date(2025, 3, 3)  # steady's start date (day 0)


def on(day: int) -> str:
    """The ISO date of episode ``day`` in the steady-based scenarios below."""
    return (START + dt.timedelta(days=day)).isoformat()


def spec_with(notices: list[dict], horizon: int = 60, **costs: float):
    data = copy.deepcopy(STEADY)
    data.update(horizon_days=horizon, notices=notices)
    if costs:
        data["costs"] = costs
    return parse_scenario(data, "test")


def notice(day: int, *effects: dict, text: str = "a notice") -> dict:
    return {"day": day, "text": text, "effects": list(effects)}


def pair(notices: list[dict], seed: int = 3, **costs: float):
    """A simulator with ``notices`` and one without, same scenario and seed."""
    return (
        MarketSimulator(spec_with(notices, **costs), seed=seed),
        MarketSimulator(spec_with([], **costs), seed=seed),
    )


# ---------------------------------------------------------------------- validation
BAD = [
    (
        "unknown category",
        notice(1, {"kind": "stop_sale", "category": "toys", "start": on(2)}),
        "notices.0.effects.0.category",
        "defined categories",
    ),
    (
        "unknown supplier",
        notice(1, {"kind": "supplier_delay", "supplier": "acme", "extra_days": 3, "start": on(2)}),
        "notices.0.effects.0.supplier",
        "defined suppliers",
    ),
    (
        "unknown SKU",
        notice(1, {"kind": "promotion_ban", "skus": ["pantry-00012"], "start": on(2)}),
        "notices.0.effects.0.skus",
        "pantry-00000..pantry-00011",
    ),
    (
        "start outside the horizon",
        notice(1, {"kind": "stop_sale", "skus": ["pantry-00001"], "start": on(60)}),
        "notices.0.effects.0.start",
        "outside the scenario's dates",
    ),
    (
        "end before the first day",
        notice(
            1,
            {
                "kind": "demand_shift",
                "category": "pantry",
                "factor": 2,
                "start": on(-3),
                "end": on(-1),
            },
        ),
        "notices.0.effects.0.start",
        "outside the scenario's dates",
    ),
    (
        "notice day outside the horizon",
        notice(60, {"kind": "none"}),
        "notices.0.day",
        "not inside the horizon",
    ),
    ("empty text", {"day": 1, "text": "", "effects": []}, "notices.0.text", "at least 1"),
]


@pytest.mark.parametrize(("label", "bad", "field", "words"), BAD, ids=[b[0] for b in BAD])
def test_bad_notices_name_the_field(label, bad, field, words) -> None:
    with pytest.raises(ScenarioError) as info:
        spec_with([bad])
    assert info.value.field == field, info.value
    assert words in info.value.problem


def test_a_window_ending_before_it_starts_is_refused() -> None:
    effect = {"kind": "stop_sale", "category": "pantry", "start": on(9), "end": on(4)}
    with pytest.raises(ScenarioError) as info:
        spec_with([notice(0, {"kind": "none"}), notice(3, effect)])
    assert info.value.field.startswith("notices.1.effects.0"), info.value
    assert "before start" in info.value.problem


# ---------------------------------------------------------------------- stop_sale and holds
def test_stop_sale_fines_every_unit_sold_in_its_window_and_none_outside() -> None:
    targets = ["pantry-00000", "household-00013"]
    # The text arrives on day 8 but the recall applies from day 5: the world's truth.
    effect = {"kind": "stop_sale", "skus": targets, "start": on(5), "end": on(9)}
    sim, bare = pair([notice(8, effect)], compliance_fine_per_unit=7.5)
    idx = [sim.sku_index[s] for s in targets]
    fined_units = 0.0
    for t in range(14):
        r, b = sim.step(None), bare.step(None)
        assert np.array_equal(r.sales, b.sales)  # a fine changes money, not demand
        want = np.zeros(sim.n)
        if 5 <= t <= 9:
            want[idx] = r.sales[idx] * 7.5
            fined_units += r.sales[idx].sum()
        np.testing.assert_allclose(r.fines, want)
        assert r.breakdown["compliance"] == pytest.approx(want.sum())
        assert r.profit == pytest.approx(b.profit - want.sum())
    assert fined_units > 0


def test_a_hold_sells_nothing_loses_nothing_and_keeps_the_stock() -> None:
    sim, bare = pair([])
    sku = "pantry-00003"
    i = sim.sku_index[sku]
    stock, ema7 = sim.state.on_hand[i], sim.state.sales_ema7[i]
    r = sim.step(Plan(holds=[sku]))
    b = bare.step(None)
    assert b.sales[i] > 0
    assert r.sales[i] == 0 and r.lost[i] == 0 and r.demand[i] == 0
    assert r.mean_demand[i] == b.mean_demand[i]
    assert sim.state.on_hand[i] == stock
    assert sim.state.sales_ema7[i] == pytest.approx(ema7 * (1 - 2 / 8))  # a day of 0 sales
    others = np.arange(sim.n) != i
    assert np.array_equal(r.sales[others], b.sales[others])
    price, rate = sim.catalog.price[i], sim.spec.costs.lost_sale_penalty_rate
    lost_b = b.breakdown["lost_sales"] - b.lost[i] * price * rate
    assert r.breakdown["lost_sales"] == pytest.approx(lost_b)
    assert r.breakdown["revenue"] == pytest.approx(b.breakdown["revenue"] - b.sales[i] * price)
    # A hold lasts one day: the next day it sells again.
    assert sim.step(None).sales[i] > 0


def test_hold_in_plans_and_arrays() -> None:
    sim = MarketSimulator(spec_with([]), seed=0)
    n = sim.n
    legacy = PlanArrays(np.zeros(n), np.zeros(n, bool), np.zeros(n), np.zeros(n, np.int64))
    assert legacy.hold.shape == (n,) and not legacy.hold.any()
    assert not PlanArrays.empty(n).hold.any()
    plan = Plan(holds=["pantry-00001", "electronics-00029"])
    arrays = plan.to_arrays(sim.sku_index)
    assert np.flatnonzero(arrays.hold).tolist() == [1, 29]
    assert Plan.from_arrays(arrays, sim.sku_ids).holds == plan.holds
    with pytest.raises(ValueError, match=r"holds\.1: SKU 'pantry-00001' appears twice"):
        Plan(holds=["pantry-00001", "pantry-00001"])
    with pytest.raises(PlanError, match=r"holds\.0: unknown SKU 'toys-1'"):
        Plan(holds=["toys-1"]).to_arrays(sim.sku_index)
    wrong = PlanArrays.empty(n)
    wrong.hold = np.zeros(3, bool)
    with pytest.raises(PlanError, match=r"hold: expected shape \(30,\)"):
        sim.step(wrong)


# ---------------------------------------------------------------------- bans and caps
def test_promotion_ban_and_discount_cap_cost_a_penalty_per_sku_day_in_breach() -> None:
    ban = {"kind": "promotion_ban", "category": "electronics", "start": on(2), "end": on(4)}
    cap = {
        "kind": "discount_cap",
        "category": "household",
        "max_percent": 15,
        "start": on(2),
        "end": on(4),
    }
    sim, _ = pair([notice(0, ban, cap)], policy_breach_penalty=11.0)
    promos = {"electronics-00022": 0.1, "household-00012": 0.2, "household-00013": 0.15}
    promos["household-00014"] = 0.1
    promos["pantry-00000"] = 0.3  # neither banned nor capped
    plan = Plan(
        promotions=[{"sku": s, "discount": d, "duration_days": 10} for s, d in promos.items()]
    )
    breach = [sim.sku_index["electronics-00022"], sim.sku_index["household-00012"]]
    for t in range(7):
        r = sim.step(plan if t == 0 else None)
        want = np.zeros(sim.n)
        if 2 <= t <= 4:
            want[breach] = 11.0
        np.testing.assert_array_equal(r.fines, want)
        assert r.breakdown["compliance"] == pytest.approx(want.sum())


# ---------------------------------------------------------------------- supplier delays
def arrival_day(sim: MarketSimulator, sku: str, placed: int) -> int:
    i = sim.sku_index[sku]
    while sim.day < placed:
        sim.step(None)
    plan = PlanArrays.empty(sim.n)
    plan.order_qty[i] = 20
    sim.step(plan)
    while True:
        r = sim.step(None)
        if r.receipts[i] > 0:
            return r.day + 1  # receipts arrive on the morning after the step


def test_supplier_delay_lengthens_orders_placed_in_its_window_only() -> None:
    delay = {
        "kind": "supplier_delay",
        "supplier": "gadgets",
        "extra_days": 20,  # past the disruption-free ring buffer: it must grow
        "start": on(3),
        "end": on(5),
    }
    spec = spec_with([notice(4, delay)])
    for placed in range(2, 8):
        late = arrival_day(MarketSimulator(spec, seed=1), "electronics-00024", placed)
        usual = arrival_day(MarketSimulator(spec_with([]), seed=1), "electronics-00024", placed)
        assert late - usual == (20 if 3 <= placed <= 5 else 0), placed
        dry = arrival_day(MarketSimulator(spec, seed=1), "pantry-00002", placed)
        assert dry == arrival_day(MarketSimulator(spec_with([]), seed=1), "pantry-00002", placed)
    # The view is what the team knows without reading the text: no notice delay in it.
    sim = MarketSimulator(spec, seed=1)
    for _ in range(4):
        sim.step(None)
    assert np.array_equal(sim.view().lead_time, MarketSimulator(spec_with([]), 1).view().lead_time)
    assert sim.extra_lead[4, 1] == 20 and sim.extra_lead[6, 1] == 0


# ---------------------------------------------------------------------- demand shifts
def test_demand_shift_multiplies_mean_demand_on_its_days_for_its_targets_only() -> None:
    one = {"kind": "demand_shift", "skus": ["pantry-00002"], "factor": 2.0}
    one.update(start=on(10), end=on(12))
    cat = {"kind": "demand_shift", "category": "household", "factor": 1.5}
    cat.update(start=on(11), end=on(13))
    sim, bare = pair([notice(0, one), notice(12, cat)])
    household = np.array([s.startswith("household") for s in sim.sku_ids])
    for day in range(8, 16):
        want = np.ones(sim.n)
        if 10 <= day <= 12:
            want[2] *= 2.0
        if 11 <= day <= 13:
            want[household] *= 1.5
        got = sim.mean_demand(day=day) / bare.mean_demand(day=day)
        np.testing.assert_allclose(got, want, rtol=1e-12)
    for _ in range(11):
        sim.step(None)
        bare.step(None)
    r, b = sim.step(None), bare.step(None)  # day 11: both shifts
    assert r.mean_demand[2] == pytest.approx(2.0 * b.mean_demand[2])
    assert r.demand[household].sum() > b.demand[household].sum()


# ---------------------------------------------------------------------- forks and the oracle
def test_forks_share_the_future_with_notices_and_holds() -> None:
    sim = MarketSimulator.from_scenario("notices", seed=5)
    rng = np.random.default_rng(0)

    def plan() -> PlanArrays:
        p = PlanArrays.empty(sim.n)
        p.order_qty = rng.integers(0, 30, sim.n) * (rng.random(sim.n) < 0.3)
        p.promo_set = rng.random(sim.n) < 0.1
        p.discount = rng.choice([0.0, 0.1, 0.3], sim.n)
        p.duration = rng.integers(1, 8, sim.n)
        p.hold = rng.random(sim.n) < 0.1
        return p

    for _ in range(10):
        sim.step(plan())
    other = sim.fork()
    for _ in range(50):
        p = plan()
        a, b = sim.step(p), other.step(p)
        assert a == b
    assert a.day == 59


class Heeding(BaseStockPolicy):
    """The heuristic told the truth: holds what may not be sold, promotes within the rules
    (10% off every other day, less under a cap, none under a ban), orders for a shift."""

    def act(self, view, sim):
        plan = super().act(view, sim)
        fx, t, n = sim.notice_effects, view.day, sim.n
        stop = fx.stop_sale.get(t, np.zeros(n, bool))
        ban = fx.promotion_ban.get(t, np.zeros(n, bool))
        cap = fx.discount_cap.get(t, np.full(n, np.inf))
        plan.hold = stop.copy()
        plan.order_qty = np.where(stop, 0.0, plan.order_qty * sim.demand_factor(t + 5))
        plan.promo_set = np.ones(n, dtype=bool)
        allowed = np.minimum(0.1, cap)
        plan.discount = np.where(ban | (t % 2 == 1), 0.0, allowed)
        plan.duration = np.ones(n, dtype=np.int64)
        return plan


class Breaching(BaseStockPolicy):
    """Ignores every notice and keeps every SKU on its deepest discount (bans, caps)."""

    def act(self, view, sim):
        plan = super().act(view, sim)
        plan.promo_set = np.ones(sim.n, dtype=bool)
        plan.discount = sim.catalog.max_discount.copy()
        plan.duration = np.full(sim.n, 30, dtype=np.int64)
        return plan


@pytest.mark.parametrize("seed", [0, 1])
def test_oracle_bound_is_above_every_policy_on_the_notices_scenario(seed: int) -> None:
    bound = profit_bound(MarketSimulator.from_scenario("notices", seed=seed), grid=16)
    policies = {p: make_policy(p) for p in ("naive", "base_stock", "oracle")}
    policies.update(heeding=Heeding(), breaching=Breaching())
    runs = {name: rollout(p, "notices", seed) for name, p in policies.items()}
    assert bound >= max(r.profit for r in runs.values()), (float(bound), runs)
    assert runs["oracle"].breakdown["compliance"] == 0.0  # it holds and does not promote
    assert runs["heeding"].breakdown["compliance"] == 0.0
    assert runs["base_stock"].breakdown["compliance"] > 0  # blind to the texts: fined
    assert runs["heeding"].profit > runs["base_stock"].profit
    assert runs["breaching"].breakdown["compliance"] > runs["base_stock"].breakdown["compliance"]


# ---------------------------------------------------------------------- nothing changes
def test_without_notices_every_number_is_unchanged() -> None:
    # Recorded from the code before notices existed: steady, seed 3, this fixed plan.
    sim = MarketSimulator.from_scenario("steady", seed=3)
    n = sim.n
    sums = dict.fromkeys(("profit", "revenue", "cogs", "holding", "lost_sales"), 0.0)
    sums.update(ordering=0.0, promotion=0.0, sales=0.0, demand=0.0, compliance=0.0)
    first = []
    for t in range(30):
        p = PlanArrays.empty(n)
        if t % 5 == 0:
            p.order_qty = np.full(n, 20.0)
        if t % 7 == 0:
            p.promo_set[::3], p.discount[::3], p.duration[::3] = True, 0.2, 4
        r = sim.step(p)
        first.append(r.profit)
        sums["profit"] += r.profit
        for k in ("revenue", "cogs", "holding", "lost_sales", "ordering", "promotion"):
            sums[k] += r.breakdown[k]
        sums["compliance"] += r.breakdown["compliance"] + float(np.abs(r.fines).sum())
        sums["sales"] += r.sales.sum()
        sums["demand"] += r.demand.sum()
    recorded = {
        "profit": 7161.065399559573,
        "revenue": 67280.78719029039,
        "cogs": 50632.50522940133,
        "holding": 452.0664553395475,
        "lost_sales": 8185.150105989955,
        "ordering": 510.0,
        "promotion": 340.0,
        "sales": 4414.0,
        "demand": 7529.0,
        "compliance": 0.0,
    }
    assert sums == pytest.approx(recorded, rel=1e-12, abs=0)
    assert first[:3] == pytest.approx([464.7220744558458, 698.5474308888561, 604.5107782830378])
    assert sim.mean_demand(day=40).sum() == pytest.approx(327.32407640739615, rel=1e-12)
    bound = profit_bound(MarketSimulator.from_scenario("steady", seed=3), grid=8, fatigue_states=4)
    assert float(bound) == pytest.approx(204497.31306409938, rel=1e-12)
    assert sim.notice_effects is None and sim.notices_on(0) == []


# ---------------------------------------------------------------------- the agent's side
def test_sim_shop_shows_texts_not_effects_and_queues_holds() -> None:
    shop = SimShop.from_scenario("notices", seed=0)
    assert shop.notices_today() == []
    while shop.day < 2:
        shop.close_day()
    today = shop.notices_today()
    assert [set(x) for x in today] == [{"day", "text", "author", "source"}]
    assert today[0]["day"] == 2 and "Gadgets Ltd" in today[0]["text"]
    assert "notice" not in " ".join(shop.view().to_dict())
    sku = "pantry-00004"
    hold = {"kind": "hold", "sku": sku}
    assert shop.execute(hold, "k1")["status"] == "executed"
    assert shop.execute(hold, "k1")["status"] == "duplicate"
    assert shop.execute(hold, "k2")["status"] == "executed"  # holding twice is holding once
    restock = {"kind": "restock", "sku": "pantry-00005", "quantity": 30}
    shop.execute(restock, "k3")
    stock = shop.sim.state.on_hand[shop.sku_index[sku]]
    r = shop.close_day()
    i = shop.sku_index[sku]
    assert r.sales[i] == 0 and r.lost[i] == 0 and shop.sim.state.on_hand[i] == stock
    assert r.ordered[shop.sku_index["pantry-00005"]] == 30
    r = shop.close_day([hold])  # lines given by the store
    assert r.sales[i] == 0


@pytest.mark.parametrize("name", ["notices", "notices_holdout"])
def test_shipped_notice_scenarios_cover_every_kind(name: str) -> None:
    spec = load_scenario(name)
    assert spec.horizon_days == 120 and spec.n_skus == 30
    assert 10 <= len(spec.notices) <= 14
    kinds = {e.kind for n in spec.notices for e in n.effects} | {
        "none" for n in spec.notices if not n.effects
    }
    assert kinds == set(DIRECTIVE_KINDS)
    delays = [e for n in spec.notices for e in n.effects if e.kind == "supplier_delay"]
    assert {e.end is None for e in delays} == {True, False}
    stops = [e for n in spec.notices for e in n.effects if e.kind == "stop_sale"]
    assert {e.category is None for e in stops} == {True, False}
    asks_nothing = [n for n in spec.notices if all(e.kind == "none" for e in n.effects)]
    assert len(asks_nothing) >= 3  # chatter and the like, and one injection
    assert any("10000" in n.text.replace(",", "") for n in asks_nothing)
    # The fine is above every margin: a stop-sale never pays.
    c = MarketSimulator(spec, 0).catalog
    assert (c.price - c.unit_cost).max() < spec.costs.compliance_fine_per_unit


def test_the_held_out_file_shares_no_text_with_the_training_file() -> None:
    train, held = load_scenario("notices"), load_scenario("notices_holdout")
    assert held.held_out and not train.held_out and held.seed != train.seed
    train_lines = {line.strip() for n in train.notices for line in n.text.splitlines()}
    held_lines = {line.strip() for n in held.notices for line in n.text.splitlines()}
    assert train_lines & held_lines <= {""}
    assert [n.day for n in train.notices] != [n.day for n in held.notices]
