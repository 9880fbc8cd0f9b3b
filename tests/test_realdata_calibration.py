"""Calibration on a history drawn from the real simulator with known parameters: the fit
recovers them, handles stock-out censoring, writes a scenario that loads and runs, and the
twin validation reports sane WAPE and coverage. Real data runs are in the report commands."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from envs import MarketSimulator, PlanArrays, load_scenario, parse_scenario
from envs.calibration.config import CalibrationConfig
from envs.calibration.errors import CalibrationError
from envs.calibration.fit import fit_weekly
from envs.calibration.panel import split_holdout, validate_panel
from envs.calibration.report import write_report
from envs.calibration.scenario_out import build_scenario, write_scenario
from envs.calibration.twin import validate_twin

TRUE_E, TRUE_BASE, N, WEEKS = -2.0, 5.0, 12, 110


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    skus = [{"id": f"s{i}", "price": 10.0, "unit_cost": 6.0, "base_demand": TRUE_BASE,
             "elasticity": TRUE_E, "dispersion": 5.0, "promo_lift_per_depth": 0.0}
            for i in range(N)]
    spec = parse_scenario({
        "name": "truth", "horizon_days": 7 * WEEKS, "start_date": "2022-01-03",
        "categories": [{"name": "c", "supplier": "s", "skus": skus, "post_promo_dip": 0.0,
                        "cannibalisation": 0.0, "halo": 0.0, "fatigue_days": 1e5}],
        "suppliers": [{"name": "s"}],
    })
    sim = MarketSimulator(spec, seed=3)
    rng = np.random.default_rng(0)
    rows = []
    for w in range(WEEKS):
        d = rng.choice([0.0, 0.0, 0.1, 0.2, 0.3], size=N)
        units = np.zeros(N)
        for k in range(7):
            arr = PlanArrays(np.zeros(N), np.ones(N, bool), d, np.full(N, 7)) if k == 0 \
                else PlanArrays.empty(N)
            units += sim.step(arr, validate=False).demand
        period = pd.Timestamp("2022-01-03") + pd.Timedelta(weeks=w)
        for i in range(N):
            rows.append({"series": f"s{i}", "category": "c", "period": period,
                         "units": units[i], "price": 10.0 * (1 - d[i]), "list_price": 10.0})
    return validate_panel(pd.DataFrame(rows))


def test_fit_recovers_elasticity_and_level(history):
    cfg = CalibrationConfig(holdout_weeks=0, fit_trend="no", bootstrap=200)
    train, _, t0 = split_holdout(history, 0)
    fit = fit_weekly(train, t0, cfg)
    h = fit.headline
    assert h["median_elasticity"] == pytest.approx(TRUE_E, abs=0.3)
    lo, hi = h["median_elasticity_ci95"]
    assert lo < h["median_elasticity"] < hi
    assert np.median(fit.series["base_daily"]) == pytest.approx(TRUE_BASE, rel=0.12)
    # Weekly NB shape of 7 daily draws with k=5 is 35; moments are noisy but not wild.
    assert 8 < np.median(fit.series["dispersion_week"]) < 150


def test_censored_weeks_do_not_pull_demand_down(history):
    cut = history.copy()
    rng = np.random.default_rng(1)
    out = rng.random(len(cut)) < 0.3
    cut.loc[out, "units"] = np.floor(cut.loc[out, "units"] * 0.3)  # sold out early
    cfg = CalibrationConfig(holdout_weeks=0, fit_trend="no", bootstrap=100)
    naive = fit_weekly(*_train(cut), cfg)
    cut["censored"] = out
    aware = fit_weekly(*_train(cut), cfg)
    b_naive = np.median(naive.series["base_daily"])
    b_aware = np.median(aware.series["base_daily"])
    assert b_naive < 0.85 * TRUE_BASE
    assert b_aware == pytest.approx(TRUE_BASE, rel=0.12)


def _train(panel):
    train, _, t0 = split_holdout(panel, 0)
    return train, t0


def test_scenario_loads_runs_and_twin_validates(history, tmp_path):
    cfg = CalibrationConfig(holdout_weeks=16, fit_trend="no", seeds=30, bootstrap=100)
    train, hold, t0 = split_holdout(history, 16)
    fit = fit_weekly(train, t0, cfg)
    spec = build_scenario(fit, "synthetic-twin")
    path = write_scenario(spec, tmp_path / "twin.yaml", fit)
    loaded = load_scenario(path)
    assert loaded.n_skus == N and str(loaded.start_date) == str(t0)
    sim = MarketSimulator(loaded, seed=0)
    for _ in range(14):
        sim.step(None)
    assert sim.day == 14
    twin = validate_twin(fit, train, hold)
    s = twin.summary
    assert s["sku_weeks"] == N * 16
    assert 0.65 <= s["coverage"] <= 0.97
    assert s["wape"] < 0.35
    assert abs(s["bias"]) < 0.15
    # Without promotion flags the scenario carries the assumed lift per depth; the model's
    # replay divides it out of the discounted weeks (truth: no lift), the plain one cannot.
    assert s["wape"] < s["discount_only"]["wape"]
    summary = write_report(fit, tmp_path / "report", twin, source="synthetic")
    for f in ("fit_report.md", "fit_report.json", "elasticity.png", "twin_skus.png"):
        assert (tmp_path / "report" / f).stat().st_size > 0
    assert summary["twin"]["coverage"] == pytest.approx(s["coverage"])


def test_bad_inputs_are_named():
    with pytest.raises(CalibrationError, match="lacks column"):
        validate_panel(pd.DataFrame({"series": ["a"], "period": ["2024-01-01"]}))
    with pytest.raises(CalibrationError, match=r"row 1: column units"):
        validate_panel(pd.DataFrame({"series": ["a", "a"], "category": "c",
                                     "period": ["2024-01-01", "2024-01-08"],
                                     "units": [1.0, -2.0]}))
    with pytest.raises(ValueError, match="elasticity_limits"):
        CalibrationConfig(elasticity_limits=(-2.0, 0.5))
