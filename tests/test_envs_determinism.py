"""Seeding, side-by-side determinism, forks with common random numbers, pickling."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from envs import MarketSimulator, PlanArrays


def random_plan(sim: MarketSimulator, rng: np.random.Generator) -> PlanArrays:
    v = sim.view()
    plan = PlanArrays.empty(sim.n)
    cover = rng.integers(2, 15)
    plan.order_qty = np.maximum(v.sales_ema28 * (v.lead_time + cover) - v.on_hand - v.on_order, 0)
    plan.order_qty *= rng.random(sim.n) < 0.6
    plan.promo_set = rng.random(sim.n) < 0.1
    plan.discount = rng.choice([0.0, 0.1, 0.3], sim.n)
    plan.duration = rng.integers(1, 10, sim.n)
    return plan


def trajectory(sim: MarketSimulator, days: int, plan_seed: int) -> list[tuple]:
    rng = np.random.default_rng(plan_seed)
    out = []
    for _ in range(days):
        r = sim.step(random_plan(sim, rng))
        out.append((r.profit, r.demand.copy(), r.sales.copy(), r.receipts.copy(), r.expired.copy()))
    return out


def same(a: list[tuple], b: list[tuple]) -> bool:
    return all(
        x[0] == y[0] and all(np.array_equal(p, q) for p, q in zip(x[1:], y[1:], strict=True))
        for x, y in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("scenario", ["steady", "fresh", "disruption", "new_category"])
def test_identically_seeded_simulators_agree_side_by_side(scenario: str) -> None:
    a = MarketSimulator.from_scenario(scenario, seed=7)
    b = MarketSimulator.from_scenario(scenario, seed=7)
    assert same(trajectory(a, 60, plan_seed=1), trajectory(b, 60, plan_seed=1))
    c = MarketSimulator.from_scenario(scenario, seed=8)
    a.reset(7)
    assert not same(trajectory(a, 60, plan_seed=1), trajectory(c, 60, plan_seed=1))


def test_gym_envs_side_by_side() -> None:
    e1, e2 = gym.make("shopops/Marketplace-v0"), gym.make("shopops/Marketplace-v0")
    o1, _ = e1.reset(seed=42)
    o2, _ = e2.reset(seed=42)
    assert np.array_equal(o1, o2)
    e1.action_space.seed(0)
    for _ in range(100):
        a = e1.action_space.sample()
        s1, s2 = e1.step(a), e2.step(a)
        assert np.array_equal(s1[0], s2[0]) and s1[1] == s2[1] and s1[3] == s2[3]


def test_fork_shares_the_future_under_identical_plans() -> None:
    sim = MarketSimulator.from_scenario("festival", seed=3)
    trajectory(sim, 30, plan_seed=0)
    f1, f2 = sim.fork(), sim.fork()
    assert same(trajectory(f1, 40, plan_seed=5), trajectory(f2, 40, plan_seed=5))
    assert sim.day == 30  # forks never move the original


def test_fork_original_follows_the_same_future() -> None:
    sim = MarketSimulator.from_scenario("fresh", seed=3)
    trajectory(sim, 25, plan_seed=0)
    fork = sim.fork()
    assert same(trajectory(sim, 30, plan_seed=9), trajectory(fork, 30, plan_seed=9))


def test_fork_with_different_plans_differs_on_the_same_demand_shocks() -> None:
    sim = MarketSimulator.from_scenario("steady", seed=3)
    trajectory(sim, 20, plan_seed=0)
    a, b = sim.fork(), sim.fork()
    ta, tb = trajectory(a, 20, plan_seed=1), trajectory(b, 20, plan_seed=2)
    assert not same(ta, tb)
    # no promotions and plenty of stock in both: identical demand draws (common numbers)
    c, d = sim.fork(), sim.fork()
    rc, rd = (
        c.step(None),
        d.step(
            PlanArrays(
                np.full(sim.n, 50.0),
                np.zeros(sim.n, bool),
                np.zeros(sim.n),
                np.zeros(sim.n, np.int64),
            )
        ),
    )
    assert np.array_equal(rc.demand, rd.demand)


def test_fork_with_seed_draws_a_different_future() -> None:
    sim = MarketSimulator.from_scenario("steady", seed=3)
    trajectory(sim, 10, plan_seed=0)
    a, b = sim.fork(seed=100), sim.fork(seed=100)
    c = sim.fork()
    ta, tb, tc = (trajectory(x, 15, plan_seed=4) for x in (a, b, c))
    assert same(ta, tb)
    assert not same(ta, tc)


def test_fork_is_independent_of_the_original() -> None:
    sim = MarketSimulator.from_scenario("fresh", seed=1)
    trajectory(sim, 10, plan_seed=0)
    before = sim.state.m.copy(), sim.state.ages.copy(), sim.state.pipeline.copy()
    fork = sim.fork()
    trajectory(fork, 10, plan_seed=3)
    assert np.array_equal(before[0], sim.state.m)
    assert np.array_equal(before[1], sim.state.ages)
    assert np.array_equal(before[2], sim.state.pipeline)


def test_pickle_round_trip_continues_identically() -> None:
    sim = MarketSimulator.from_scenario("disruption", seed=2)
    trajectory(sim, 70, plan_seed=0)
    clone = pickle.loads(pickle.dumps(sim))
    assert same(trajectory(sim, 20, plan_seed=6), trajectory(clone, 20, plan_seed=6))


def test_a_forked_env_shares_no_buffer_or_generator():
    """Issue 18: ``fork()`` copied ``__dict__``, so a fork shared ``np_random`` and the
    observation buffer with the original."""
    import numpy as np

    from envs.marketplace import MarketplaceEnv

    env = MarketplaceEnv("steady")
    env.reset(seed=3)
    fork = env.fork()
    assert fork.np_random is not env.np_random and fork._obs is not env._obs
    a = env.action_space.sample()
    o1, *_ = fork.step(a)
    keep = o1.copy()
    env.step(a)
    assert np.array_equal(keep, o1)  # the original's step did not write into the fork's obs
