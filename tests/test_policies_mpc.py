"""The lookahead planner: better than the naive rule, and blind to the realised future."""

from __future__ import annotations

import numpy as np
import pytest

from envs import MarketSimulator
from policies.errors import PolicyConfigError
from policies.registry import make_policy
from policies.rollout import rollout


def test_mpc_beats_naive_reorder():
    days = 30
    for seed in (0,):
        mpc = rollout(make_policy("mpc", horizon=10, samples=1), "steady", seed, days=days)
        naive = rollout(make_policy("naive"), "steady", seed, days=days)
        assert mpc.profit > naive.profit + 1000, (seed, mpc.profit, naive.profit)
        assert mpc.breakdown["lost_sales"] < naive.breakdown["lost_sales"]


def test_mpc_plan_does_not_depend_on_the_realised_future():
    real = MarketSimulator.from_scenario("steady", seed=0)
    other_future = real.fork(seed=12345)  # same state this morning, a different future
    a, b = make_policy("mpc", horizon=7, samples=2), make_policy("mpc", horizon=7, samples=2)
    a.reset(real)
    b.reset(other_future)
    pa, pb = a.act(real.view(), real), b.act(other_future.view(), other_future)
    np.testing.assert_array_equal(pa.order_qty, pb.order_qty)
    np.testing.assert_array_equal(pa.discount, pb.discount)
    # The oracle, by contrast, reads the realised future.
    oa, ob = make_policy("oracle"), make_policy("oracle")
    oa.reset(real)
    ob.reset(other_future)
    qa = oa.act(real.view(), real).order_qty
    qb = ob.act(other_future.view(), other_future).order_qty
    assert not np.array_equal(qa, qb)


def test_mpc_promotes_only_where_the_lookahead_pays():
    sim = MarketSimulator.from_scenario("steady", seed=2)
    mpc = make_policy("mpc", horizon=10, samples=2)
    mpc.reset(sim)
    plan = mpc.act(sim.view(), sim)
    assert plan.discount.max() <= sim.catalog.max_discount.max()
    assert not plan.promo_set.all()  # per-SKU choices, not one blanket candidate


def test_bad_options_are_typed_errors():
    with pytest.raises(PolicyConfigError, match="horizon"):
        make_policy("mpc", horizon=0)
    with pytest.raises(PolicyConfigError, match="discounts"):
        make_policy("mpc", discounts=(1.5,))
