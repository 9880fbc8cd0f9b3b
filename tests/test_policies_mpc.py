"""The lookahead planner: better than the naive rule, blind to the realised future and to the
true (drifted) demand parameters, and exactly the heuristic where no candidate clearly wins."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from envs import MarketSimulator
from envs.scenario import Range, load_scenario
from policies.errors import PolicyConfigError, PolicyError
from policies.registry import make_policy
from policies.rollout import rollout

# Small settings keep each test to a few seconds.
FAST = {"horizon": 6, "samples": 3, "discounts": (0.2,), "order_factors": ()}


def _same_plan(a, b) -> None:
    np.testing.assert_array_equal(a.order_qty, b.order_qty)
    np.testing.assert_array_equal(a.promo_set, b.promo_set)
    np.testing.assert_array_equal(a.discount, b.discount)
    np.testing.assert_array_equal(a.duration, b.duration)


def test_mpc_beats_naive_reorder():
    days = 30
    mpc = rollout(make_policy("mpc", horizon=10, samples=2), "steady", 0, days=days)
    naive = rollout(make_policy("naive"), "steady", 0, days=days)
    assert mpc.profit > naive.profit + 1000, (mpc.profit, naive.profit)
    assert mpc.breakdown["lost_sales"] < naive.breakdown["lost_sales"]


def test_with_an_unreachable_bar_the_planner_is_exactly_the_heuristic():
    # Its candidates are scored but none may replace the base choice, so its orders (its own
    # copy of the heuristic's rule) and markdowns (clearance of perishables) must match.
    sim = MarketSimulator.from_scenario("fresh", seed=3)
    mpc = make_policy("mpc", **{**FAST, "min_gain": 1e12})
    heuristic = make_policy("base_stock_tuned")
    mpc.reset(sim)
    heuristic.reset(sim)
    promoted = 0
    for _ in range(25):
        view = sim.view()
        plan = mpc.act(view, sim)
        _same_plan(plan, heuristic.act(view, sim))
        promoted += int(plan.promo_set.sum())
        sim.step(plan)
    assert promoted > 0  # the markdown rule was exercised


def test_mpc_plan_does_not_depend_on_the_realised_future():
    real = MarketSimulator.from_scenario("steady", seed=0)
    other_future = real.fork(seed=12345)  # same state this morning, a different future
    a, b = make_policy("mpc", horizon=7, samples=2), make_policy("mpc", horizon=7, samples=2)
    a.reset(real)
    b.reset(other_future)
    _same_plan(a.act(real.view(), real), b.act(other_future.view(), other_future))
    # The oracle, by contrast, reads the realised future.
    oa, ob = make_policy("oracle"), make_policy("oracle")
    oa.reset(real)
    ob.reset(other_future)
    qa = oa.act(real.view(), real).order_qty
    qb = ob.act(other_future.view(), other_future).order_qty
    assert not np.array_equal(qa, qb)


@pytest.fixture(scope="module")
def after_drift():
    """The drift scenario on day 92, run by the planner: pantry base demand x1.8 (day 60),
    electronics base x0.5 and elasticity -0.8 (day 90) have happened."""
    sim = MarketSimulator.from_scenario("drift", seed=4)
    mpc = make_policy("mpc", **FAST)
    mpc.reset(sim)
    while sim.day < 92:
        sim.step(mpc.act(sim.view(), sim))
    return sim, mpc


def test_after_a_drift_the_planners_forks_hold_its_estimate_not_the_truth(after_drift):
    sim, mpc = after_drift
    c = sim.catalog
    pantry = c.category == c.category_names.index("pantry")
    electronics = c.category == c.category_names.index("electronics")
    # The truth has drifted ...
    np.testing.assert_allclose(sim.state.base[pantry], 1.8 * c.base_demand[pantry])
    assert np.all(sim.state.elasticity[electronics] < c.elasticity[electronics])
    fork = mpc.planning_fork(sim)
    # ... the planner's forks keep the catalogue's elasticity and trend, schedule no drift,
    np.testing.assert_array_equal(fork.state.elasticity, c.elasticity)
    np.testing.assert_array_equal(fork.state.trend, c.trend)
    assert fork.calendar.drifts == {}
    assert sim.calendar.drifts  # (the real calendar does)
    # ... and their base demand is the planner's estimate from sales, not the true value,
    assert not np.allclose(fork.state.base, sim.state.base)
    np.testing.assert_allclose(fork.state.base, mpc.base_estimate(sim.view()))
    # which has nevertheless followed the pantry jump (learnt from sales, not read).
    ratio = fork.state.base[pantry].sum() / c.base_demand[pantry].sum()
    assert 1.4 < ratio < 2.2, ratio
    # The fork draws a future of its own.
    assert fork.noise.seed != sim.noise.seed


def test_the_plan_ignores_the_true_hidden_parameters(after_drift):
    sim, mpc = after_drift
    real, real_mpc = sim.fork(), copy.deepcopy(mpc)  # copies: the fixture stays on day 92
    twin, twin_mpc = sim.fork(), copy.deepcopy(mpc)  # same morning, same records ...
    twin.state.base[:] = 3.0 * sim.state.base  # ... only the hidden truth differs
    twin.state.elasticity[:] = -0.3
    twin.state.trend[:] = 0.8
    assert not np.allclose(twin.mean_demand(), real.mean_demand())
    np.testing.assert_array_equal(
        twin_mpc.planning_fork(twin).state.m, real_mpc.planning_fork(real).state.m
    )
    _same_plan(real_mpc.act(real.view(), real), twin_mpc.act(twin.view(), twin))


def test_planning_fork_needs_the_planner_to_have_followed_the_shop():
    sim = MarketSimulator.from_scenario("steady", seed=0)
    mpc = make_policy("mpc", **FAST)
    mpc.reset(sim)
    sim.step(None)  # a day the planner did not see
    with pytest.raises(PolicyError, match=r"day 0 .* day 1"):
        mpc.planning_fork(sim)


def _promotion_shop():
    """Steady, with pantry made very promotable (wide margin, elastic, strong lift) and
    household unpromotable (thin margin, inelastic: any discount sells below cost)."""
    spec = load_scenario("steady")
    cats = {c.name: c for c in spec.categories}
    cats["pantry"] = cats["pantry"].model_copy(
        update={
            "margin": Range(low=0.55, high=0.6),
            "elasticity": Range(low=-3.0, high=-2.8),
            "promo_lift_per_depth": 2.5,
            "base_demand": Range(low=20, high=30),
        }
    )
    cats["household"] = cats["household"].model_copy(
        update={"margin": Range(low=0.05, high=0.08), "elasticity": Range(low=-1.1, high=-1.0)}
    )
    return spec.model_copy(update={"categories": list(cats.values())})


def test_mpc_promotes_only_where_the_lookahead_pays():
    sim = MarketSimulator.from_scenario(_promotion_shop(), seed=2)
    mpc = make_policy("mpc", horizon=10, samples=4)
    mpc.reset(sim)
    plan = mpc.act(sim.view(), sim)
    c = sim.catalog
    pantry = c.category == c.category_names.index("pantry")
    household = c.category == c.category_names.index("household")
    assert plan.promo_set[pantry].mean() >= 0.75, plan.discount[pantry]
    assert not plan.promo_set[household].any(), plan.discount[household]
    assert np.all(plan.discount <= c.max_discount)
    # The heuristic, which never promotes on day 0, does not.
    heuristic = make_policy("base_stock_tuned")
    heuristic.reset(sim)
    assert not heuristic.act(sim.view(), sim).promo_set.any()


def test_bad_options_are_typed_errors():
    with pytest.raises(PolicyConfigError, match="horizon"):
        make_policy("mpc", horizon=0)
    with pytest.raises(PolicyConfigError, match="discounts"):
        make_policy("mpc", discounts=(1.5,))
    with pytest.raises(PolicyConfigError, match="z must be >= 0; got -1"):
        make_policy("mpc", z=-1)
