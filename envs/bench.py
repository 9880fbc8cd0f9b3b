"""``shopops bench sim``: simulator throughput, fork cost and peak memory, measured.

Figures are wall-clock on one core (the day kernel is single-threaded). The 10-SKU figure
steps ``gymnasium.make("shopops/Marketplace-v0", scenario=<10-SKU steady>)`` with random
actions, wrappers included; the 10,000-SKU figure steps the ``large`` scenario's core
simulator with purchase orders every day (plans built before timing); peak memory is the
resident-set high-water mark of a fresh process simulating the full 365-day, 10,000-SKU
episode, interpreter and libraries included.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np

from envs.plan import PlanArrays
from envs.scenario import ScenarioSpec, load_scenario
from envs.simulator import MarketSimulator


def ten_sku_spec() -> ScenarioSpec:
    """The steady scenario cut down to 10 SKUs (4 + 3 + 3) over a long horizon."""
    spec = load_scenario("steady")
    sizes = (4, 3, 3)
    cats = [c.model_copy(update={"n_skus": k}) for c, k in zip(spec.categories, sizes, strict=True)]
    return spec.model_copy(update={"categories": cats, "horizon_days": 100_000})


def _orders_for(sim: MarketSimulator, day: int) -> PlanArrays:
    """A deterministic, busy plan: a seventh of the SKUs reorder two weeks of demand."""
    plan = PlanArrays.empty(sim.n)
    due = (np.arange(sim.n) % 7) == (day % 7)
    plan.order_qty = np.where(due, np.ceil(14 * sim.catalog.base_demand), 0.0)
    return plan


def bench_steps_10(steps: int) -> tuple[float, float]:
    """(env steps/s through gymnasium.make, core simulator steps/s) for 10 SKUs."""
    import gymnasium as gym

    import envs  # noqa: F401  (registers the ids)

    env = gym.make("shopops/Marketplace-v0", scenario=ten_sku_spec())
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(256)]
    for a in actions[:50]:  # warm-up: JIT caches, noise blocks
        env.step(a)
    t0 = time.perf_counter()
    for i in range(steps):
        env.step(actions[i & 255])
    env_rate = steps / (time.perf_counter() - t0)
    sim = MarketSimulator(ten_sku_spec(), seed=0)
    plans = [_orders_for(sim, d) for d in range(7)]
    t0 = time.perf_counter()
    for i in range(steps):
        sim.step(plans[i % 7], validate=False)
    return env_rate, steps / (time.perf_counter() - t0)


def bench_large(days: int, progress: bool = False) -> tuple[float, float]:
    """(SKU-days/s over ``days`` days of the 10,000-SKU scenario, median fork ms)."""
    sim = MarketSimulator.from_scenario("large", seed=0)
    plans = [_orders_for(sim, d) for d in range(7)]
    sim.step(plans[0])  # warm-up
    sim.reset(0)
    days = min(days, sim.spec.horizon_days)
    iterator = range(days)
    bar = None
    if progress:
        from rich.progress import Progress

        bar = Progress(transient=True)
        bar.start()
        task = bar.add_task("10,000 SKUs", total=days)
    elapsed = 0.0
    for d in iterator:
        t0 = time.perf_counter()
        sim.step(plans[d % 7], validate=False)
        elapsed += time.perf_counter() - t0
        if bar is not None:
            bar.advance(task)
    if bar is not None:
        bar.stop()
    sim.reset(0)
    for d in range(60):
        sim.step(plans[d % 7], validate=False)
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        sim.fork()
        times.append(time.perf_counter() - t0)
    return days * sim.n / elapsed, 1000 * float(np.median(times))


_PEAK_SCRIPT = """
import resource, numpy as np
from envs.bench import _orders_for
from envs.simulator import MarketSimulator
sim = MarketSimulator.from_scenario("large", seed=0)
plans = [_orders_for(sim, d) for d in range(7)]
while not sim.done:
    sim.step(plans[sim.day % 7], validate=False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def peak_memory_mb() -> float:
    """Peak RSS (MB) of a fresh process running the full 10,000-SKU, 365-day episode."""
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def run_sim_bench(days: int = 365, steps_10: int = 20_000, progress: bool = False) -> dict:
    """Every simulator figure as one JSON-ready dict."""
    env_rate, sim_rate = bench_steps_10(steps_10)
    sku_days, fork_ms = bench_large(days, progress=progress)
    return {
        "steps_per_s_10": round(env_rate, 1),
        "sim_steps_per_s_10": round(sim_rate, 1),
        "sku_days_per_s_10k": round(sku_days, 1),
        "fork_ms_10k": round(fork_ms, 3),
        "peak_mb_10k": round(peak_memory_mb(), 1),
        "days_10k": days,
    }


if __name__ == "__main__":
    print(json.dumps(run_sim_bench()))
