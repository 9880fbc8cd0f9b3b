"""The policy registry and the simple rules (do nothing, naive reorder) on the real simulator."""

from __future__ import annotations

import numpy as np
import pytest

from envs import MarketSimulator
from policies.base import Policy
from policies.errors import PolicyConfigError, UnknownPolicyError
from policies.registry import POLICY_INFO, POLICY_NAMES, make_policy


def run_episode(policy, scenario: str, seed: int, days: int | None = None) -> float:
    sim = MarketSimulator.from_scenario(scenario, seed=seed)
    policy.reset(sim)
    total = 0.0
    while not sim.done and (days is None or sim.day < days):
        total += sim.step(policy.act(sim.view(), sim)).profit
    return total


def test_names_are_the_documented_set():
    assert set(POLICY_NAMES) == {
        "do_nothing",
        "naive",
        "base_stock",
        "base_stock_tuned",
        "mpc",
        "oracle",
        "ppo",
        "lm",
    }
    assert set(POLICY_INFO) == set(POLICY_NAMES)


def test_unknown_name_lists_valid_names():
    with pytest.raises(UnknownPolicyError) as info:
        make_policy("base-stock")
    msg = str(info.value)
    assert "'base-stock'" in msg
    for name in POLICY_NAMES:
        assert name in msg


def test_bad_option_is_a_typed_error():
    with pytest.raises(PolicyConfigError, match="order_dow"):
        make_policy("naive", order_dow=9)
    with pytest.raises(PolicyConfigError, match="takes no options"):
        make_policy("do_nothing", horizon=3)


def test_simple_policies_follow_the_protocol():
    for name in ("do_nothing", "naive"):
        assert isinstance(make_policy(name), Policy)


def test_naive_orders_last_weeks_sales_on_mondays_only():
    sim = MarketSimulator.from_scenario("steady", seed=3)
    policy = make_policy("naive")
    policy.reset(sim)
    sold = np.zeros(sim.n)
    ordered_days = []
    for _ in range(21):
        view = sim.view()
        if view.day > 0:
            sold += view.last_sales
        plan = policy.act(view, sim)
        if plan.order_qty.any():
            ordered_days.append(view.dow)
            assert view.dow == 0
            np.testing.assert_array_equal(plan.order_qty, sold)
            sold[:] = 0
        assert not plan.promo_set.any()
        sim.step(plan)
    assert len(ordered_days) >= 2


def test_naive_beats_doing_nothing():
    assert (
        run_episode(make_policy("naive"), "steady", 1)
        > run_episode(make_policy("do_nothing"), "steady", 1) + 10_000
    )
