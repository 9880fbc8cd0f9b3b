"""Speed and memory of the signal hub (``shopops bench online``).

* **events/s**: a 1,000-SKU shop (the steady scenario's three categories scaled up) is
  simulated for ``days`` days under the evaluation policy (random promotions, daily
  restocking); each day becomes an event batch of order lines (1-3 units each), promotion
  changes, stock-outs and receipts, built *before* timing. The timed part is
  ``hub.update(batch, close_through=day)`` for every day after a one-week warm-up: it
  validates ids, scores every order line for anomalies, accumulates demand, and closes the
  day (forecaster learning, River drift detectors on every SKU, line-size statistics).
  Reported twice: from typed events, and from plain dicts (pydantic validation included).
* **memory, 10,000 SKUs**: in a fresh subprocess, the large scenario's 10,000 SKUs are fed
  ``mem_days`` days of events; reported are the hub's checkpoint size and the process's
  peak resident set (simulator, event batches and hub together, an upper bound).

Everything runs in one process on one core (the hub is single-threaded numpy + River).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

__all__ = ["run_online_bench"]


def _scaled_spec(n_skus: int):
    from envs.scenario import load_scenario, parse_scenario

    base = load_scenario("steady").model_dump(mode="json")
    total = sum(c["n_skus"] for c in base["categories"])
    left = n_skus
    for k, c in enumerate(base["categories"]):
        share = left if k == len(base["categories"]) - 1 else round(c["n_skus"] * n_skus / total)
        c["n_skus"] = share
        left -= share
    base["name"] = f"steady-{n_skus}"
    return parse_scenario(base, f"steady scaled to {n_skus} SKUs")


def build_stream(n_skus: int, days: int, seed: int = 1, lines: int | None = 3):
    """(simulator spec name, list of per-day event batches) for a scaled steady shop."""
    from envs import MarketSimulator
    from online.evaluation import _policy_plan
    from online.sim_source import events_from_day

    sim = MarketSimulator(_scaled_spec(n_skus), seed=seed)
    rng = np.random.default_rng(seed)
    batches, prev = [], None
    for _ in range(days):
        r = sim.step(_policy_plan(sim, sim.view(), rng))
        batches.append(events_from_day(r, sim, max_line_units=lines, prev_discount=prev))
        prev = r.discount
    return sim, batches


def _time_hub(sim, batches, warm: int, as_dicts: bool) -> tuple[float, int, float]:
    from online.hub import SignalHub
    from online.sim_source import register_from_sim

    hub = SignalHub()
    register_from_sim(hub, sim)
    feed = [[e.model_dump() for e in b] for b in batches] if as_dicts else batches
    n_events = 0
    elapsed = 0.0
    close = 0.0
    for d, batch in enumerate(feed):
        t0 = time.perf_counter()
        hub.update(batch, close_through=d)
        dt = time.perf_counter() - t0
        if d >= warm:
            elapsed += dt
            n_events += len(batch)
    # cost of one forecast query (the agent's hot read)
    sku = hub.sku_ids[0]
    t0 = time.perf_counter()
    for _ in range(200):
        hub.forecast(sku, 7)
    close = (time.perf_counter() - t0) / 200
    return elapsed, n_events, close


def _memory_child(days: int) -> dict:
    import resource

    from envs import MarketSimulator
    from online.evaluation import _policy_plan
    from online.hub import SignalHub
    from online.sim_source import events_from_day, register_from_sim

    sim = MarketSimulator.from_scenario("large", seed=1)
    hub = SignalHub()
    register_from_sim(hub, sim)
    rng = np.random.default_rng(1)
    prev = None
    n_events = 0
    for d in range(days):
        r = sim.step(_policy_plan(sim, sim.view(), rng))
        batch = events_from_day(r, sim, prev_discount=prev)
        prev = r.discount
        n_events += len(batch)
        hub.update(batch, close_through=d)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "n_skus": hub.n_skus,
        "days": days,
        "events": n_events,
        "checkpoint_mb": len(hub.to_bytes()) / 2**20,
        "peak_rss_mb": peak_kb / 1024,
    }


def run_online_bench(
    n_skus: int = 1000,
    days: int = 35,
    mem_days: int = 30,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Measure and return the figures (see the module docstring)."""
    say = progress or (lambda _msg: None)
    say(f"simulating {days} days of a {n_skus}-SKU shop into event batches")
    sim, batches = build_stream(n_skus, days)
    warm = min(7, days - 1)
    say("timing hub.update on typed events")
    el, n_ev, fq = _time_hub(sim, batches, warm, as_dicts=False)
    say("timing hub.update on plain dicts (validation included)")
    el_d, n_ev_d, _ = _time_hub(sim, batches, warm, as_dicts=True)
    timed_days = days - warm
    out = {
        "n_skus": n_skus,
        "days_timed": timed_days,
        "events": n_ev,
        "events_per_sku_day": n_ev / max(timed_days * n_skus, 1),
        "events_per_s": n_ev / el,
        "events_per_s_from_dicts": n_ev_d / el_d,
        "sku_days_per_s": timed_days * n_skus / el,
        "forecast_ms": fq * 1000,
    }
    if mem_days > 0:
        say(f"measuring memory: 10,000 SKUs, {mem_days} days, fresh process")
        code = (
            "import json, sys; from online.bench import _memory_child; "
            f"print(json.dumps(_memory_child({int(mem_days)})))"
        )
        res = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=False
        )
        if res.returncode != 0:
            raise RuntimeError(f"memory benchmark failed: {res.stderr.strip()[-2000:]}")
        mem = json.loads(res.stdout.strip().splitlines()[-1])
        out["memory_10k"] = mem
    return out
