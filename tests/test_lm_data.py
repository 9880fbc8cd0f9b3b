"""Training data for the LM policy: randomised shop variants, DAgger drivers, name dropout,
and the simulator reward's continuation (a held decision pays what it really costs)."""

from __future__ import annotations

import numpy as np
import pytest

from envs import MarketSimulator
from envs.scenario import load_scenario, parse_scenario
from policies.base_stock import TunedBaseStockPolicy
from policies.lm.demos import collect_demonstrations, drop_names
from policies.lm.errors import LMConfigError
from policies.lm.grammar import Decision
from policies.lm.variants import launch_variant, training_shops, training_variant

STEADY = load_scenario("steady")


def test_variants_are_deterministic_valid_and_different() -> None:
    a = training_variant(STEADY, 1, 1000)
    assert a == training_variant(STEADY, 1, 1000)
    b = training_variant(STEADY, 2, 1000)
    c = training_variant(STEADY, 1, 1001)
    leads = {s.lead_time_days for v in (a, b, c) for s in v.suppliers}
    assert leads != {s.lead_time_days for s in STEADY.suppliers}
    assert all(1 <= d <= 21 for d in leads)
    assert a.name == "steady-v1" and not a.held_out and a.seed != STEADY.seed
    # the catalogue is new but the shape (categories, suppliers, horizon) is the scenario's
    assert [c.name for c in a.categories] == [c.name for c in STEADY.categories]
    assert a.horizon_days == STEADY.horizon_days
    MarketSimulator.from_scenario(a, seed=1000).step(None)  # the simulator accepts it


def test_variants_draw_launches_somewhere() -> None:
    launches = [
        c.launch_day for k in range(1, 9) for c in training_variant(STEADY, k, 1000).categories
    ]
    assert any(d > 0 for d in launches) and any(d == 0 for d in launches)


def test_demonstrations_cover_variants_and_a_dagger_driver() -> None:
    base = collect_demonstrations(["classic"], [1000], "base_stock", day_stride=30)
    more = collect_demonstrations(
        ["classic"], [1000], "base_stock", day_stride=30, drivers=[None, "do_nothing"],
        variants=1,
    )
    # two drivers x (scenario + 1 variant): four episodes of the same length
    assert len(more) == 4 * len(base)
    assert more.record()["driver"] == "expert,do_nothing"
    assert more.record()["variants_per_scenario_seed"] == 1
    # the do-nothing driver runs the shop dry: the expert's labels there say "restock"
    dry = more.completions[2 * len(base):]
    assert any(not c.startswith(" restock=0 ") for c in dry)


def test_starved_starts_teach_that_empty_shelves_need_an_order() -> None:
    """``starve_days``: each episode runs once more with nobody ordering at first; the
    expert's labels on those emptied mornings say to restock."""
    base = collect_demonstrations(["steady"], [1000], "base_stock_tuned", day_stride=5)
    both = collect_demonstrations(
        ["steady"], [1000], "base_stock_tuned", day_stride=5, starve_days=25
    )
    assert len(both) == 2 * len(base) and both.record()["starve_days"] == 25
    assert both.expert_profit == base.expert_profit  # the starved copy is not the expert's play
    emptied = [
        c for p, c in zip(both.prompts[len(base):], both.completions[len(base):], strict=True)
        if " stock=0 " in p and " pipe=0 " in p and " end=0 " not in p
    ]
    assert len(emptied) >= 50
    assert sum(not c.startswith(" restock=0 ") for c in emptied) >= 0.9 * len(emptied)
    with pytest.raises(LMConfigError, match="starve_days"):
        collect_demonstrations(["steady"], [1000], "base_stock_tuned", starve_days=-1)


def test_name_dropout_hides_names_from_a_share_of_rows() -> None:
    prompts = [f"cat=pantry name=sku-{i} dow=1 dem=3 ->" for i in range(2000)]
    out = drop_names(prompts, 0.25, seed=3)
    hidden = [p for p in out if not p.startswith("cat=pantry ")]
    assert 400 < len(hidden) < 600
    assert all(p.endswith(" dow=1 dem=3 ->") for p in hidden)
    assert len({p.split(" ")[0] for p in hidden}) == len(hidden)  # one-off words: <unk>
    assert drop_names(prompts, 0.0, seed=3) == prompts


def test_bad_demonstration_options_are_refused() -> None:
    with pytest.raises(LMConfigError, match="name_dropout"):
        collect_demonstrations(["steady"], [1000], name_dropout=1.5)
    with pytest.raises(LMConfigError, match="held out"):
        collect_demonstrations(["new_category"], [1000])


@pytest.fixture(scope="module")
def stocked_state():
    pytest.importorskip("torch")
    from policies.lm.rewards import StateBank, make_state

    sim = MarketSimulator.from_scenario("steady", seed=1005)
    expert = TunedBaseStockPolicy()
    expert.reset(sim)
    for _ in range(30):
        sim.step(expert.act(sim.view(), sim))
    view = sim.view()
    cover = (view.on_hand + view.on_order) / np.maximum(view.sales_ema28, 1e-9)
    sku = int(np.argmin(np.where(view.sales_ema28 > 1.0, cover, np.inf)))  # the next to order
    bank = StateBank()
    sid = bank.add(make_state(sim, sku, expert.act(view, sim), expert, future_seed=5))
    return bank, sid


def test_held_no_order_costs_what_it_costs(stocked_state) -> None:
    """With the expert taking over after day 0, "no order today" looks free (the policy
    that learns from it stops ordering); held for H days it is clearly worse."""
    from policies.lm.rewards import SimulatorReward

    bank, sid = stocked_state
    hold = SimulatorReward(bank, horizon=21, n_futures=2, continuation="hold")
    handover = SimulatorReward(bank, horizon=21, n_futures=2, continuation="expert")
    never, usual = Decision(0, 0, 0), Decision(7, 0, 0)
    assert abs(handover.score(sid, never)) < 0.5
    assert hold.score(sid, never) < hold.score(sid, usual) - 2.0
    assert hold.score(sid, never) == hold.score(sid, never)  # cached, deterministic
    with pytest.raises(LMConfigError, match="continuation"):
        SimulatorReward(bank, continuation="later")


def test_policy_continuation_scores_the_policys_own_advantage(stocked_state) -> None:
    """With the shipped checkpoint continuing: the greedy decision itself scores exactly 0
    (it is the reference), and a repeated call gives the same numbers."""
    from policies.lm.model import load_lm
    from policies.lm.policy import DEFAULT_CHECKPOINT
    from policies.lm.rewards import SimulatorReward

    bank, sid = stocked_state
    reward = SimulatorReward(bank, horizon=7, n_futures=2, continuation="policy")
    with pytest.raises(LMConfigError, match="attach_policy"):
        reward.scores([(sid, Decision(7, 0, 0))])
    model, tok = load_lm(DEFAULT_CHECKPOINT)
    reward.attach_policy(model, tok)
    st = bank[sid]
    from policies.lm.policy import LMPolicy

    greedy = LMPolicy(model=model, tokenizer=tok)
    greedy.reset(st.sim)
    prompt = bank.codec(st).prompts(st.sim.view())[st.sku]
    from policies.lm.grammar import parse_completion

    mine = parse_completion(greedy.completions([prompt]).texts[0])
    other = Decision(28, 50, 14) if mine != Decision(28, 50, 14) else Decision(0, 0, 0)
    items = [(sid, mine), (sid, other), (sid, mine)]
    first = reward.scores(items)
    assert first[0] == first[2] == 0.0
    assert first[1] != 0.0  # another decision does make a difference
    assert reward.scores(items) == first


def test_carry_cost_charges_left_over_stock_and_backlog() -> None:
    pytest.importorskip("torch")
    from policies.lm.codec import LMCodec
    from policies.lm.rewards import SimulatorReward

    sim = MarketSimulator.from_scenario("classic", seed=1000)  # holding 20 % a day
    codec = LMCodec(sim)
    base = SimulatorReward.carry_cost(sim, 0, codec)
    sim.state.m[_row("ON_HAND"), 0] += 40  # 40 more units on the shelf
    assert SimulatorReward.carry_cost(sim, 0, codec) > base + 40 * 1.0  # > 1 day of holding
    while not sim.done:
        sim.step(None)
    assert SimulatorReward.carry_cost(sim, 0, codec) == 0.0  # after the end, leftovers are free


def test_carry_cost_charges_perishable_stock_that_will_expire_as_waste() -> None:
    """Stock a perishable SKU cannot sell before its shelf life ends is charged as waste."""
    pytest.importorskip("torch")
    from policies.lm.codec import LMCodec
    from policies.lm.rewards import SimulatorReward

    sim = MarketSimulator.from_scenario("fresh", seed=1000)
    codec = LMCodec(sim)
    i = int(np.flatnonzero(sim.catalog.shelf_life == 4)[0])  # bakery: 4 days
    pantry = int(np.flatnonzero(sim.catalog.shelf_life == 0)[0])
    p = int(np.flatnonzero(np.flatnonzero(sim.catalog.perishable) == i)[0])
    d = float(codec.forecast(sim.view())[i])
    sim.state.m[_row("ON_HAND"), i] = 0.0
    sim.state.ages[:, p] = 0.0
    assert SimulatorReward.expected_waste(sim, i, d) == 0.0
    sim.state.m[_row("ON_HAND"), i] = 10 * d  # fresh today: 4 days sell at most 4 d
    sim.state.ages[0, p] = 10 * d
    assert SimulatorReward.expected_waste(sim, i, d) == pytest.approx(6 * d)
    sim.state.ages[0, p], sim.state.ages[2, p] = 0.0, 10 * d  # 2 days old: 2 days left
    assert SimulatorReward.expected_waste(sim, i, d) == pytest.approx(8 * d)
    waste_cost = 8 * d * (sim.catalog.unit_cost[i] + sim.spec.costs.waste_disposal_cost)
    assert SimulatorReward.carry_cost(sim, i, codec) >= waste_cost
    sim.state.m[_row("ON_HAND"), pantry] += 10 * d
    assert SimulatorReward.expected_waste(sim, pantry, d) == 0.0  # does not perish


def _row(name: str) -> int:
    from envs import kernel

    return getattr(kernel, name)


def test_variants_redraw_the_promotion_response_and_keep_the_other_draws() -> None:
    """Training shops differ in how they answer a promotion (else ``up=`` teaches nothing)."""
    lifts = {training_variant(STEADY, k, 1000).categories[0].promo_lift_per_depth
             for k in range(1, 9)}
    assert len(lifts) == 8 and min(lifts) >= 0.5 and max(lifts) <= 3.0
    v = training_variant(STEADY, 1, 1000)
    for base, var in zip(STEADY.categories, v.categories, strict=True):
        ratio = var.elasticity.low / base.elasticity.low
        assert 0.6 <= ratio <= 1.6
        assert var.elasticity.high / base.elasticity.high == pytest.approx(ratio)


def test_launch_variants_hold_new_categorys_situation_without_its_category() -> None:
    """A launch shop: one category launched into its own festival behind a slow supplier,
    elastic and promotion-responsive, under a weekly budget; the rest is the scenario's."""
    v = launch_variant(STEADY, 1, 1000)
    assert v == launch_variant(STEADY, 1, 1000) and v != launch_variant(STEADY, 2, 1000)
    assert v.name == "steady-l1" and not v.held_out and v.seed != STEADY.seed
    launched = [c for c in v.categories if c.launch_day > 0]
    assert len(launched) == 1
    cat = launched[0]
    assert cat.name in {c.name for c in STEADY.categories}  # never the held-out 'toys'
    assert 20 <= cat.launch_day <= 45 and 14 <= cat.ramp_days <= 28
    assert 2.0 <= cat.promo_lift_per_depth <= 3.0 and cat.elasticity.low <= -2.4
    supplier = next(s for s in v.suppliers if s.name == cat.supplier)
    assert supplier.name == f"{cat.name}-import" and 10 <= supplier.lead_time_days <= 18
    festival = next(e for e in v.events if e.kind == "festival" and e.categories == [cat.name])
    assert festival.day >= cat.launch_day + cat.ramp_days and festival.multiplier >= 2.5
    assert v.order_budget_per_week is not None
    others = [c for c in v.categories if c.name != cat.name]
    base = {c.name: c for c in STEADY.categories}
    assert all(c.supplier == base[c.name].supplier and c.elasticity == base[c.name].elasticity
               for c in others)
    sim = MarketSimulator.from_scenario(v, seed=1000)
    mine = sim.catalog.category == sim.catalog.category_names.index(cat.name)
    before = sim.mean_demand(day=cat.launch_day - 1)
    after = sim.mean_demand(day=cat.launch_day + cat.ramp_days)
    assert before[mine].sum() == 0 and after[mine].min() > 0  # it goes on sale at its launch
    assert before[~mine].min() > 0  # the rest of the shop sells from day 0
    sim.step(None)  # the simulator accepts it


def test_training_shops_list_the_scenario_then_its_variants() -> None:
    shops = training_shops(STEADY, 1000, variants=2, launch_variants=1)
    assert [s.name for s in shops] == ["steady", "steady-v1", "steady-v2", "steady-l1"]
    assert shops[1] == training_variant(STEADY, 1, 1000)


def test_a_shop_with_only_perishables_has_nothing_to_launch() -> None:
    fresh = load_scenario("fresh")
    data = fresh.model_dump(mode="python")
    data["categories"] = [c for c in data["categories"] if c.get("shelf_life_days")]
    data["suppliers"] = [s for s in data["suppliers"]
                         if any(c["supplier"] == s["name"] for c in data["categories"])]
    with pytest.raises(ValueError, match="no non-perishable category"):
        launch_variant(parse_scenario(data, "<test>"), 1, 1000)
