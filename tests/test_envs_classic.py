"""The classic special case matches the textbook periodic-review base-stock model.

Scenario ``classic``: Poisson demand with mean 10 a day, lead time 2, full backorders,
holding h = 1 and backorder b = 9 per unit-day, reviewed daily. Under a base-stock level S
the end-of-day net inventory is ``S - D`` with ``D ~ Poisson(30)`` (lead time + 1 days), so
the expected cost per day is ``h E[(S - D)+] + b E[(D - S)+]`` and the optimal S is the
smallest with ``P(D <= S) >= b / (b + h) = 0.9``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from envs import MarketSimulator, PlanArrays

H, B, MEAN_LT1 = 1.0, 9.0, 30.0
WARM_UP = 10


def analytic_cost(S: int) -> float:
    k = np.arange(0, 200)
    pmf = stats.poisson.pmf(k, MEAN_LT1)
    return float((H * np.maximum(S - k, 0) + B * np.maximum(k - S, 0)) @ pmf)


def optimal_base_stock() -> int:
    return int(stats.poisson.ppf(B / (B + H), MEAN_LT1))


def simulate_costs(S: int, seeds: range) -> np.ndarray:
    """Daily holding + backorder cost under base-stock S, after a warm-up, per seed."""
    out = []
    for seed in seeds:
        sim = MarketSimulator.from_scenario("classic", seed=seed)
        plan = PlanArrays.empty(1)
        daily = []
        while not sim.done:
            s = sim.state
            plan.order_qty[0] = max(S - (s.on_hand[0] + s.on_order[0] - s.backlog[0]), 0.0)
            r = sim.step(plan)
            daily.append(r.breakdown["holding"] + r.breakdown["backorder"])
        out.append(daily[WARM_UP:])
    return np.array(out)


def test_analytic_optimum_is_the_critical_fractile() -> None:
    S = optimal_base_stock()
    assert S == 37
    assert analytic_cost(S) < min(analytic_cost(S - 1), analytic_cost(S + 1))


def test_simulated_cost_at_the_optimum_matches_the_textbook_value() -> None:
    S = optimal_base_stock()
    costs = simulate_costs(S, range(6))
    # batch means over 15-day blocks absorb the 3-day autocorrelation of the cost
    usable = costs[:, : (costs.shape[1] // 15) * 15]
    batches = usable.reshape(-1, 15).mean(axis=1)
    mean, se = batches.mean(), batches.std(ddof=1) / np.sqrt(batches.size)
    expected = analytic_cost(S)
    assert abs(mean - expected) < 4 * se, (mean, expected, se)
    assert se < 0.05 * expected  # the check is sharp enough to mean something


@pytest.mark.parametrize("offset", [-4, 4])
def test_the_optimum_beats_its_neighbours_on_common_random_numbers(offset: int) -> None:
    S = optimal_base_stock()
    best = simulate_costs(S, range(3)).mean()
    other = simulate_costs(S + offset, range(3)).mean()
    assert best < other
    assert other - best == pytest.approx(analytic_cost(S + offset) - analytic_cost(S), rel=0.35)
