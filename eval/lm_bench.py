"""Benchmarks of the LM policy: speed, an emptied shop, and what the grammar costs.

:func:`bench_lm_policy` times a whole shop-day. The shop is the ``large`` scenario scaled
to ``skus`` SKUs (same categories, suppliers and calendar, ``n_skus`` scaled
proportionally). The first day is a warm-up (model load, grammar tree); then ``days``
shop-days are timed: prompts, batched generation, parsing, decoding.
:func:`emptied_shop_check` asks whether a checkpoint restocks a shop nobody ordered for;
:func:`grammar_ceiling` runs the expert with every plan rounded through the completion
grammar (:class:`GrammarRoundTrip`), the best any student of that expert can do.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

__all__ = [
    "GrammarRoundTrip", "bench_lm_policy", "emptied_shop_check", "grammar_ceiling",
    "scaled_large_shop",
]


def scaled_large_shop(skus: int, seed: int = 1000) -> Any:
    """A simulator of the ``large`` scenario scaled to about ``skus`` SKUs."""
    from envs import load_scenario
    from envs.simulator import MarketSimulator
    from policies.lm.errors import LMConfigError

    if skus < 1:
        raise LMConfigError(f"skus must be >= 1; got {skus}")
    spec = load_scenario("large")
    total = sum(c.n_skus for c in spec.categories)
    cats = []
    left = skus
    for k, c in enumerate(spec.categories):
        n = left if k == len(spec.categories) - 1 else max(1, round(c.n_skus * skus / total))
        n = max(1, min(n, left - (len(spec.categories) - 1 - k)))
        left -= n
        cats.append(c.model_copy(update={"n_skus": n}))
    return MarketSimulator(spec.model_copy(update={"categories": cats}), seed=seed)


def bench_lm_policy(
    skus: int = 1000, days: int = 3, path: str | Path | None = None, threads: int = 2,
    batch_size: int = 1024,
) -> dict[str, Any]:
    """Seconds per shop-day and decisions per second; key ``shop_day_s_1000`` for 1,000 SKUs.

    Returns:
        ``skus``, ``days``, ``shop_day_s`` (mean over timed days), ``shop_day_s_<skus>``,
        ``decisions_per_s``, ``load_s`` (first day including model load), ``invalid_rate``
        and ``invalid_unmasked_rate``, ``parameters``, ``threads``.
    """
    import torch

    from policies.lm.model import count_parameters
    from policies.lm.policy import LMPolicy

    torch.set_num_threads(max(1, threads))
    sim = scaled_large_shop(skus)
    policy = LMPolicy(path=path, batch_size=batch_size)
    t0 = time.perf_counter()
    policy.reset(sim)
    sim.step(policy.act(sim.view(), sim))
    load_s = time.perf_counter() - t0
    times = []
    for _ in range(max(1, days)):
        view = sim.view()
        t = time.perf_counter()
        plan = policy.act(view, sim)
        times.append(time.perf_counter() - t)
        sim.step(plan)
    mean = sum(times) / len(times)
    return {
        "skus": sim.n,
        "days": len(times),
        "shop_day_s": mean,
        f"shop_day_s_{skus}": mean,
        "decisions_per_s": sim.n / mean,
        "load_s": load_s,
        "invalid_rate": policy.stats.invalid_rate,
        "invalid_unmasked_rate": policy.stats.invalid_unmasked_rate,
        "parameters": count_parameters(policy.model),
        "threads": torch.get_num_threads(),
    }


def emptied_shop_check(
    path: str | Path | None = None, scenario: str = "steady", seed: int = 7,
    idle_days: int = 25,
) -> dict[str, Any]:
    """Does the policy restock a shop nobody ordered for in ``idle_days`` days?

    A state a policy's own rollouts never reach (so the benchmark never shows it) but a real
    shop can be in: most shelves empty, nothing on order. Returns how many SKUs are empty
    with nothing on order and the share of them the policy orders for (the shipped
    checkpoint must order for at least 75 %, see ``tests/test_lm_model.py``).
    """
    from envs.simulator import MarketSimulator
    from policies.lm.policy import LMPolicy

    sim = MarketSimulator.from_scenario(scenario, seed=seed)
    for _ in range(idle_days):
        sim.step(None)
    view = sim.view()
    empty = (view.on_hand <= 0) & (view.on_order <= 0)
    policy = LMPolicy(path=path, threads=1)
    plan = policy.act(view, sim)
    ordered = int((plan.order_qty[empty] > 0).sum())
    return {
        "scenario": scenario, "seed": seed, "idle_days": idle_days, "skus": sim.n,
        "empty_skus": int(empty.sum()), "ordered_for": ordered,
        "ordered_share": ordered / max(int(empty.sum()), 1),
    }


class GrammarRoundTrip:
    """A policy whose every plan goes through the completion grammar before it is executed.

    ``act`` returns ``codec.decode(codec.encode(inner plan))``: what a student that imitated
    ``inner`` perfectly would do. Its score against ``inner``'s is what the grammar's
    resolution costs (the ceiling of imitation), independent of any model.

    Args:
        inner: a registered policy name (the expert).
    """

    def __init__(self, inner: str = "mpc") -> None:
        from policies.registry import make_policy

        self.inner = make_policy(inner)
        self.name = f"{inner}_via_grammar"
        self._codec: Any = None

    def reset(self, sim: Any) -> None:
        from policies.lm.codec import LMCodec

        self.inner.reset(sim)
        self._codec = LMCodec(sim)

    def act(self, view: Any, sim: Any) -> Any:
        plan = self.inner.act(view, sim)
        return self._codec.decode(self._codec.encode(plan, view), view)


def _ceiling_task(task: tuple[str, str, int]) -> tuple[str, str, int, float, float]:
    from envs.simulator import MarketSimulator
    from eval.episode import run_episode
    from policies.oracle import profit_bound

    expert, scenario, seed = task
    direct = run_episode(expert, scenario, seed).kpis.profit
    through = run_episode(GrammarRoundTrip(expert), scenario, seed).kpis.profit
    bound = float(profit_bound(MarketSimulator.from_scenario(scenario, seed=seed)))
    return scenario, expert, seed, 100.0 * direct / bound, 100.0 * through / bound


def grammar_ceiling(
    expert: str = "mpc", scenarios: tuple[str, ...] = (), seeds: tuple[int, ...] = (0, 1, 2),
    jobs: int = 2, progress: Any = None,
) -> list[dict[str, Any]]:
    """The expert's % of the oracle bound, directly and through the grammar, per scenario-seed.

    Args:
        expert: a registered policy name.
        scenarios: shipped scenario names (default: every one but ``large``).
        seeds: report seeds.
        jobs: worker processes.
        progress: called with a short line after each scenario-seed.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from scenarios import scenario_names

    names = scenarios or tuple(s for s in scenario_names() if s != "large")
    tasks = [(expert, sc, int(sd)) for sc in names for sd in seeds]
    rows = []
    with ProcessPoolExecutor(max(1, jobs), mp_context=mp.get_context("spawn")) as pool:
        for scenario, name, seed, direct, through in pool.map(_ceiling_task, tasks):
            rows.append({"scenario": scenario, "expert": name, "seed": seed,
                         "pct_bound": direct, "pct_bound_via_grammar": through})
            if progress is not None:
                progress(f"{scenario} seed {seed}: {direct:.1f} -> {through:.1f}")
    return rows
