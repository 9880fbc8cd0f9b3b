"""Category-pooled drift detection: shared changes of slow sellers, siblings left alone.

The scenario tests run the real simulator and hub (the drift scenario changes electronics,
eight slow sellers, to half their demand with a steeper elasticity on day 90).
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from envs import MarketSimulator
from online.drift import DriftConfig, DriftMonitor
from online.evaluation import _policy_plan
from online.hub import HubConfig, SignalHub
from online.sim_source import events_from_day, festivals_from_sim, register_from_sim

CHANGE_DAY = 90
MAX_DELAY = 21


def _batches(scenario: str, days: int, seed: int = 1):
    """The simulator run under the evaluation policy, as one event batch per day."""
    sim = MarketSimulator.from_scenario(scenario, seed=seed)
    rng = np.random.default_rng(seed + 10_000)
    out, prev = [], None
    for _ in range(days):
        r = sim.step(_policy_plan(sim, sim.view(), rng))
        out.append(events_from_day(r, sim, prev_discount=prev))
        prev = r.discount
    return sim, out


def _hub(sim, drift: DriftConfig | None = None) -> SignalHub:
    cfg = HubConfig(festivals=festivals_from_sim(sim), drift=drift or DriftConfig())
    hub = SignalHub(cfg)
    register_from_sim(hub, sim)
    return hub


def _feed(hub: SignalHub, batches, start: int = 0) -> None:
    for t, b in enumerate(batches, start=start):
        hub.update(b, close_through=t)


@pytest.fixture(scope="module")
def drift_run():
    return _batches("drift", CHANGE_DAY + MAX_DELAY + 1)


def test_category_detector_catches_the_electronics_drop(drift_run):
    sim, batches = drift_run
    hub = _hub(sim)
    _feed(hub, batches)
    electronics = {s for s, c in zip(sim.sku_ids, sim.catalog.category, strict=True) if c == 2}
    assert sim.catalog.category_names[2] == "electronics" and len(electronics) == 8
    pooled = [a for a in hub.alerts(since_day=CHANGE_DAY) if a.detector == "category"]
    caught = {a.sku for a in pooled if a.sku in electronics}
    # most of the category, within the bounded delay, all saying "down" with their own size
    assert len(caught) >= 6, pooled
    assert all(CHANGE_DAY <= a.day <= CHANGE_DAY + MAX_DELAY for a in pooled)
    assert all(a.category == "electronics" and a.direction == "down" for a in pooled)
    assert len({a.size for a in pooled}) == len(pooled)  # estimated per SKU
    # the pooling is what sees it: per-SKU detectors alone miss (nearly) all of them
    alone = _hub(sim, DriftConfig(category=False))
    _feed(alone, batches)
    per_sku = {a.sku for a in alone.alerts(since_day=CHANGE_DAY) if a.sku in electronics}
    assert len(per_sku) <= 2


def test_category_detector_stays_quiet_on_steady():
    sim, batches = _batches("steady", 150)
    hub = _hub(sim)
    _feed(hub, batches)
    assert [a for a in hub.alerts() if a.detector == "category"] == []


def test_checkpoint_mid_change_restores_identical_alerts(drift_run):
    sim, batches = drift_run
    hub = _hub(sim)
    _feed(hub, batches[: CHANGE_DAY + 3])
    restored = SignalHub.from_bytes(hub.to_bytes())
    _feed(hub, batches[CHANGE_DAY + 3 :], start=CHANGE_DAY + 3)
    _feed(restored, batches[CHANGE_DAY + 3 :], start=CHANGE_DAY + 3)
    assert any(a.detector == "category" for a in hub.alerts())
    assert restored.alerts() == hub.alerts()
    a, b = hub.forecast_all(7), restored.forecast_all(7)
    np.testing.assert_array_equal(a["mean"], b["mean"])


def _run_monitor(
    shift: np.ndarray, seed: int, config: DriftConfig | None = None, days: int = 140
) -> list[tuple[int, int, str]]:
    """Drive a monitor like the hub does: per-SKU alerts first, then the category's.

    ``shift[i]`` is added to SKU ``i``'s unit-variance residuals from day 60 on, until an
    alert on or after day 60 adapts the SKU (its reference moves to the new level, as the
    forecaster's does). Returns ``(day, sku, detector)`` for every alert.
    """
    m = DriftMonitor(config or DriftConfig())
    n = shift.size
    m.resize(n, np.zeros(n, dtype=np.int64))
    idx = np.arange(n)
    rng = np.random.default_rng(seed)
    live = np.ones(n, dtype=bool)
    alerts = []

    def alert(hit: np.ndarray, day: int, detector: str) -> None:
        m.mark(hit, day)
        if day >= 60:
            live[hit] = False
        alerts.extend((day, int(i), detector) for i in hit)

    for day in range(days):
        r = rng.normal(size=n) + np.where((day >= 60) & live, shift, 0.0)
        alert(idx[m.update_many(idx, r, day)], day, "sku")
        for found in m.update_categories(idx, r, day):
            alert(found.skus, day, "category")
    return alerts


SEEDS = range(30)


def test_a_change_in_one_sku_does_not_flag_its_siblings():
    # unit-variance noise: a category alarm by chance hits ~10% of 140-day runs anyway
    runs = [_run_monitor(np.r_[1.5, np.zeros(7)], seed) for seed in SEEDS]
    own = [any(i == 0 and d >= 60 and det == "sku" for d, i, det in a) for a in runs]
    siblings = [any(i > 0 and d >= 60 and det == "category" for d, i, det in a) for a in runs]
    assert np.mean(own) >= 0.9
    assert np.mean(siblings) <= 0.15


def _share_caught(runs: list, n: int) -> float:
    return float(
        np.mean([len({i for d, i, _ in a if 60 <= d <= 60 + MAX_DELAY}) / n for a in runs])
    )


def test_a_shared_small_change_is_pooled_and_a_quiet_category_is_not():
    quiet = [_run_monitor(np.zeros(8), seed) for seed in SEEDS]
    assert np.mean([any(det == "category" for *_, det in a) for a in quiet]) <= 0.2
    # eight SKUs all down 0.4 sd: hard for each alone, plain for the category
    shared = [_run_monitor(np.full(8, -0.4), seed) for seed in SEEDS]
    alone = [_run_monitor(np.full(8, -0.4), seed, DriftConfig(category=False)) for seed in SEEDS]
    assert _share_caught(shared, 8) >= 0.6
    assert _share_caught(alone, 8) <= 0.3


def test_monitor_pickles_with_its_category_detectors():
    m = DriftMonitor(DriftConfig(grace_periods=0))
    m.resize(4, np.array([0, 0, 1, 1]))
    rng = np.random.default_rng(1)
    idx = np.arange(4)
    for day in range(40):
        r = rng.normal(size=4) - 0.8 * (day >= 20)
        m.update_many(idx, r, day)
        m.update_categories(idx, r, day)
    twin = pickle.loads(pickle.dumps(m))
    for day in range(40, 70):
        r = rng.normal(size=4) - 0.8
        a = (m.update_many(idx, r, day).tolist(), m.update_categories(idx, r, day))
        b = (twin.update_many(idx, r, day).tolist(), twin.update_categories(idx, r, day))
        assert a[0] == b[0]
        assert [(f.category, f.direction, f.skus.tolist()) for f in a[1]] == [
            (f.category, f.direction, f.skus.tolist()) for f in b[1]
        ]
    np.testing.assert_array_equal(m.recent, twin.recent)
