"""Accuracy of the signal hub on simulated shops, where the truth is known.

:func:`evaluate_scenario` runs a scenario with a plain operating policy (order up to a few
weeks of recent demand daily, random 20%-off promotions on ~3% of SKUs), feeds each day's
events to a :class:`~online.hub.SignalHub` and, each morning *before* the day happens,
records its forecasts. It then scores, on every SKU-day after a warm-up:

* WAPE (sum of absolute errors over sum of demand) and MASE (per SKU, mean absolute error
  over the in-sample mean absolute error of the seasonal-naive forecast ``y[t-7]``,
  averaged over SKUs with a non-zero scale) against realised demand, for the hub, the
  seasonal-naive forecast and the true noise-free mean (the best any forecaster can do);
* coverage of the hub's 10%-90% band (target 80%);
* drift detection against the scenario's scheduled drift events: for every SKU whose true
  mean demand changed by at least ``min_change`` at an event, the delay to its first alert
  within ``max_delay`` days; every other alert is a false alarm (reported per 1,000
  SKU-days).

The policy reads only the shop's view (no peeking), so what the hub sees is what a shop
would see: sales (censored by stock-outs), not demand.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

import numpy as np

from online.hub import HubConfig, SignalHub
from online.sim_source import events_from_day, festivals_from_sim, register_from_sim

__all__ = ["DriftScore", "ScenarioScore", "evaluate_scenario"]


@dataclasses.dataclass
class DriftScore:
    """Drift detection against the scheduled changes of one scenario."""

    changes: int  # SKU-level true changes of at least min_change
    detected: int
    delays: list[int]
    false_alarms: int
    lifecycle_alerts: int
    sku_days: int
    per_event: list[dict]

    @property
    def detection_rate(self) -> float:
        """Share of true changes detected within the allowed delay."""
        return self.detected / self.changes if self.changes else float("nan")

    @property
    def median_delay(self) -> float:
        """Median detection delay in days (NaN when nothing was detected)."""
        return float(np.median(self.delays)) if self.delays else float("nan")

    @property
    def false_alarms_per_1000(self) -> float:
        """False alarms per 1,000 SKU-days."""
        return 1000.0 * self.false_alarms / max(self.sku_days, 1)


@dataclasses.dataclass
class ScenarioScore:
    """Accuracy figures of one scenario run (see the module docstring)."""

    scenario: str
    seed: int
    horizon: int
    n_skus: int
    days: int
    wape: dict[str, float]
    mase: dict[str, float]
    coverage: float
    drift: DriftScore
    events: int
    hub_seconds: float

    @property
    def beats_naive(self) -> bool:
        """Lower WAPE and MASE than seasonal-naive."""
        return (
            self.wape["hub"] < self.wape["seasonal_naive"]
            and self.mase["hub"] < self.mase["seasonal_naive"]
        )

    def to_dict(self) -> dict:
        """Plain-JSON form."""
        d = dataclasses.asdict(self)
        d["drift"] = {
            **{k: v for k, v in d["drift"].items() if k != "delays"},
            "detection_rate": self.drift.detection_rate,
            "median_delay": self.drift.median_delay,
            "false_alarms_per_1000": self.drift.false_alarms_per_1000,
        }
        d["beats_naive"] = self.beats_naive
        return d


def _policy_plan(sim, view, rng: np.random.Generator):
    from envs import PlanArrays

    n = sim.n
    plan = PlanArrays.empty(n)
    cover = view.lead_time + 10.0
    per = view.shelf_life > 0
    cover = np.where(per, np.minimum(cover, np.maximum(view.shelf_life - 1, 1)), cover)
    target = np.maximum(view.sales_ema28, view.sales_ema7) * 1.3 * cover
    plan.order_qty[:] = np.maximum(target - view.on_hand - view.on_order, 0.0)
    start = (rng.random(n) < 0.006) & (view.promo_left == 0) & (view.max_discount >= 0.2)
    plan.promo_set[:] = start
    plan.discount[:] = np.where(start, 0.2, 0.0)
    plan.duration[:] = 5
    return plan


def evaluate_scenario(
    scenario: str,
    seed: int = 1,
    horizon: int = 1,
    config: HubConfig | None = None,
    warmup: int = 28,
    min_change: float = 0.25,
    max_delay: int = 30,
    days: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ScenarioScore:
    """Run ``scenario`` and score the hub's ``horizon``-day-ahead forecasts.

    Args:
        scenario: a scenario name or path.
        seed: episode seed.
        horizon: forecasts are scored ``horizon`` days ahead (1: tomorrow).
        config: hub settings (the scenario's festivals are added).
        warmup: days not scored at the start.
        min_change: smallest relative change of true mean demand that counts as a drift.
        max_delay: alerts later than this after a change do not count as detecting it.
        days: simulate only this many days (default: the scenario's horizon).
        progress: called with (day, days) after each day.
    """
    from envs import MarketSimulator

    sim = MarketSimulator.from_scenario(scenario, seed=seed)
    cfg = config or HubConfig()
    hub = SignalHub(cfg.model_copy(update={"festivals": festivals_from_sim(sim)}))
    register_from_sim(hub, sim)
    rng = np.random.default_rng(seed + 10_000)
    T = sim.spec.horizon_days if days is None else min(days, sim.spec.horizon_days)
    n = sim.n
    pred = np.full((T, n), np.nan)
    lo = np.full((T, n), np.nan)
    hi = np.full((T, n), np.nan)
    demand = np.zeros((T, n))
    truth = np.zeros((T, n))
    prev = None
    n_events = 0
    hub_s = 0.0
    for t in range(T):
        t0 = time.perf_counter()
        fa = hub.forecast_all(horizon)
        hub_s += time.perf_counter() - t0
        if t + horizon - 1 < T:
            # SKUs the hub has not seen yet (not launched) are forecast 0
            cols = np.array([sim.sku_index[s] for s in fa["sku_ids"]], dtype=np.int64)
            for arr, key in ((pred, "mean"), (lo, "lower"), (hi, "upper")):
                arr[t + horizon - 1] = 0.0
                arr[t + horizon - 1, cols] = fa[key][:, horizon - 1]
        r = sim.step(_policy_plan(sim, sim.view(), rng))
        demand[t], truth[t] = r.demand, r.mean_demand
        evs = events_from_day(r, sim, prev_discount=prev)
        prev = r.discount
        n_events += len(evs)
        t0 = time.perf_counter()
        hub.update(evs, close_through=t)
        hub_s += time.perf_counter() - t0
        if progress is not None:
            progress(t + 1, T)

    s = max(warmup, 7, horizon - 1)
    y, yh, mu = demand[s:], pred[s:], truth[s:]
    naive_all = np.full_like(demand, np.nan)
    lag = 7 * int(np.ceil(horizon / 7))
    naive_all[lag:] = demand[:-lag]
    naive = naive_all[s:]
    denom = max(float(y.sum()), 1e-9)
    wape = {
        "hub": float(np.abs(y - yh).sum() / denom),
        "seasonal_naive": float(np.abs(y - naive).sum() / denom),
        "true_mean": float(np.abs(y - mu).sum() / denom),
    }
    scale = np.mean(np.abs(demand[7:] - demand[:-7]), axis=0)
    ok = scale > 0
    mase = {
        k: float(np.mean(np.mean(np.abs(y - f), axis=0)[ok] / scale[ok]))
        for k, f in (("hub", yh), ("seasonal_naive", naive), ("true_mean", mu))
    }
    coverage = float(np.mean((y >= lo[s:]) & (y <= hi[s:])))
    drift = _drift_score(sim, hub, truth, T, min_change, max_delay, s)
    return ScenarioScore(
        scenario=sim.spec.name,
        seed=seed,
        horizon=horizon,
        n_skus=n,
        days=T,
        wape=wape,
        mase=mase,
        coverage=coverage,
        drift=drift,
        events=n_events,
        hub_seconds=hub_s,
    )


def _drift_score(sim, hub: SignalHub, truth, T, min_change, max_delay, start) -> DriftScore:
    from envs.scenario import DriftEvent

    c = sim.catalog
    index = sim.sku_index
    alerts = [a for a in hub.alerts() if a.day >= start]
    events = [e for e in sim.spec.events if isinstance(e, DriftEvent) and e.day < T]
    # a SKU's true change at an event: mean demand over the week after vs the week before
    # on the same weekdays (noise-free, so festivals and promotions aside this is the drift)
    changes: list[tuple[int, int, int]] = []  # (event k, sku, day)
    per_event = []
    for k, ev in enumerate(events):
        cats = (
            [c.category_names.index(x) for x in ev.categories]
            if ev.categories
            else list(range(len(c.category_names)))
        )
        skus = np.flatnonzero(np.isin(c.category, cats))
        a, b = max(ev.day - 7, 0), min(ev.day + 7, T)
        before = truth[a : ev.day, skus].mean(axis=0)
        after = truth[ev.day : b, skus].mean(axis=0)
        rel = np.abs(after / np.maximum(before, 1e-9) - 1.0)
        big = skus[rel >= min_change]
        changes.extend((k, int(i), ev.day) for i in big)
        per_event.append(
            {
                "day": ev.day,
                "categories": list(ev.categories or []),
                "skus_changed": int(big.size),
                "detected": 0,
                "delays": [],
            }
        )
    matched: set[int] = set()
    delays = []
    for k, i, day in changes:
        sku = sim.sku_ids[i]
        for j, al in enumerate(alerts):
            if j in matched or al.sku != sku:
                continue
            if day <= al.day <= day + max_delay:
                matched.add(j)
                delays.append(al.day - day)
                per_event[k]["detected"] += 1
                per_event[k]["delays"].append(al.day - day)
                break
    # alerts right after a change of any size on the SKU are not false alarms either
    near_change = set()
    for ev in events:
        cats = set(ev.categories or c.category_names)
        for j, al in enumerate(alerts):
            if (
                al.category in cats
                and ev.day <= al.day <= ev.day + max_delay
                and index.get(al.sku) is not None
            ):
                near_change.add(j)
    # a product launch ramping up is a known change of its own (lifecycle), not drift
    launch = {
        j
        for j, al in enumerate(alerts)
        if c.launch_day[index[al.sku]] > 0
        and al.day <= c.launch_day[index[al.sku]] + c.ramp_days[index[al.sku]] + max_delay
    }
    false = [
        j
        for j in range(len(alerts))
        if j not in matched and j not in near_change and j not in launch
    ]
    for pe in per_event:
        pe["median_delay"] = float(np.median(pe["delays"])) if pe["delays"] else None
    return DriftScore(
        changes=len(changes),
        detected=len(delays),
        delays=delays,
        false_alarms=len(false),
        lifecycle_alerts=len(launch - matched - near_change),
        sku_days=(T - start) * sim.n,
        per_event=per_event,
    )


def evaluate_scenarios(
    names: Sequence[str], seed: int = 1, horizon: int = 1, **kwargs
) -> list[ScenarioScore]:
    """:func:`evaluate_scenario` for each name."""
    return [evaluate_scenario(n, seed=seed, horizon=horizon, **kwargs) for n in names]
