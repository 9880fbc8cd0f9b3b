"""Run a policy through an episode of the simulator (for tuning, tests and quick checks).

The evaluation harness (``eval/``) has the full-featured runner; this one is the small
loop the policies layer needs itself, with no dependencies above ``envs``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from envs.scenario import ScenarioSpec
from envs.simulator import COST_TERMS, MarketSimulator

__all__ = ["EpisodeTotals", "rollout"]


@dataclasses.dataclass
class EpisodeTotals:
    """Totals of one episode: profit, revenue and each cost term, and days simulated."""

    profit: float
    breakdown: dict[str, float]
    days: int
    daily_profit: np.ndarray


def rollout(
    policy,
    scenario: str | ScenarioSpec | MarketSimulator,
    seed: int,
    days: int | None = None,
) -> EpisodeTotals:
    """Reset a simulator of ``scenario`` at ``seed`` and run ``policy`` to the horizon.

    Args:
        policy: anything with ``reset(sim)`` and ``act(view, sim)``.
        scenario: a scenario name or spec, or a simulator (it is reset to ``seed``).
        seed: the episode seed.
        days: stop after this many days (default: the horizon).
    """
    if isinstance(scenario, MarketSimulator):
        sim = scenario
        sim.reset(seed)
    else:
        sim = MarketSimulator.from_scenario(scenario, seed=seed)
    policy.reset(sim)
    totals = dict.fromkeys(("revenue", *COST_TERMS), 0.0)
    daily = []
    while not sim.done and (days is None or sim.day < days):
        result = sim.step(policy.act(sim.view(), sim))
        daily.append(result.profit)
        for k, v in result.breakdown.items():
            totals[k] += v
    return EpisodeTotals(
        profit=float(np.sum(daily)),
        breakdown=totals,
        days=len(daily),
        daily_profit=np.asarray(daily),
    )
