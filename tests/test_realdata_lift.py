"""Promotion lifts on a panel with known truth, shaped like dunnhumby's: elasticities differ
between series, features and displays come with price cuts (deeper on the more elastic
series), weekly counts are small negative-binomial draws and weeks without sales have no
row. The model (Poisson, series slopes) recovers the lifts and the median elasticity. On
dunnhumby's own prices and flags (skipped without ``../shared/data``), the pooled log-log
reference, with one elasticity for all, credits the extra response of the more elastic
series to the promotion flags and lands high, as it does on the real sales."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from envs.calibration.config import CalibrationConfig
from envs.calibration.fit import fit_weekly
from envs.calibration.panel import split_holdout, validate_panel

TRUE_F, TRUE_D, N, WEEKS = 0.45, 0.40, 240, 104


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = []
    start = pd.Timestamp("2021-01-04")
    for i in range(N):
        e = float(np.clip(rng.normal(-1.9, 0.9), -4.5, -0.2))
        level = float(np.exp(rng.normal(2.0, 0.6)))
        feat = rng.random(WEEKS) < 0.09
        disp = rng.random(WEEKS) < 0.10
        tpr = ~feat & ~disp & (rng.random(WEEKS) < 0.12)
        # Promotional cuts are deeper where demand responds more (as retailers choose).
        depth = np.where(feat | disp, np.clip(0.12 - 0.06 * e + rng.normal(0, 0.03, WEEKS),
                                              0.05, 0.5), 0.0)
        depth = np.where(tpr, rng.uniform(0.05, 0.2, WEEKS), depth)
        # Shelf prices also move outside promotions (regular price changes, rounding).
        rel = (1 - depth) * np.exp(rng.normal(0.0, 0.06, WEEKS))
        mu = level * rel**e * np.exp(TRUE_F * feat + TRUE_D * disp)
        units = rng.negative_binomial(3.0, 3.0 / (3.0 + mu))
        for w in np.flatnonzero(units > 0):
            rows.append({
                "series": f"s{i}", "category": "c" if i % 2 else "d",
                "period": start + pd.Timedelta(weeks=int(w)), "units": float(units[w]),
                "price": 4.0 * rel[w], "list_price": 4.0,
                "feature": float(feat[w]), "display": float(disp[w]), "tpr": float(tpr[w]),
                "true_e": e,
            })
    df = pd.DataFrame(rows).sort_values(["series", "period"], ignore_index=True)
    return validate_panel(df).assign(true_e=df["true_e"].to_numpy())


def test_model_recovers_lifts_and_elasticities(panel: pd.DataFrame) -> None:
    train, _, t0 = split_holdout(panel.drop(columns="true_e"), 0)
    fit = fit_weekly(train, t0, CalibrationConfig(min_weeks=20, fit_trend="no"))
    h = fit.headline
    for k, truth in (("feature", TRUE_F), ("display", TRUE_D), ("tpr", 0.0)):
        assert abs(h[f"{k}_log_lift"] - truth) < 0.06, (k, h[f"{k}_log_lift"])
    true_median = float(panel.groupby("series")["true_e"].first().median())
    assert abs(h["median_elasticity"] - true_median) < 0.25, (h["median_elasticity"], true_median)


DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.skipif(not (DATA / "batf" / "transactions.parquet").exists(),
                    reason=f"dunnhumby data not found under {DATA}")
def test_on_the_dunnhumby_design_the_shared_elasticity_reference_runs_high() -> None:
    """Real prices and flags of 400 dunnhumby series, demand drawn with each series' own
    fitted elasticity and known lifts: the model gets the lifts back, the shared-elasticity
    reference overstates them as it does on the real sales."""
    from online.ingest_real.mapping import load_mapping
    from online.ingest_real.panel import build_panel
    from online.ingest_real.pipeline import import_files

    m = load_mapping("dunnhumby-batf")
    imp = import_files(m, DATA)
    t = imp.tables
    weekly, _ = build_panel(m, t["sales"], t.get("prices"), t.get("promotions"),
                            products=t.get("products"))
    rng = np.random.default_rng(0)
    keep = rng.choice(np.sort(weekly["series"].unique()), 400, replace=False)
    train, _, t0 = split_holdout(weekly[weekly["series"].isin(keep)], 0)
    cfg = CalibrationConfig(fit_trend="no")
    first = fit_weekly(train, t0, cfg).series.set_index("series")
    own = first[first["own_slope"]]
    real = train[train["series"].isin(own.index) & (train["price"] > 0)].copy()
    e = real["series"].map(own["elasticity_raw"].clip(-6.0, 0.0)).to_numpy()
    lst = real["series"].map(own["list_price"]).to_numpy()
    level = real["series"].map(own["base_daily"] * 7).to_numpy()
    mu = level * (real["price"].to_numpy() / lst) ** e * np.exp(
        TRUE_F * real["feature"].to_numpy() + TRUE_D * real["display"].to_numpy())
    real["units"] = rng.negative_binomial(3.0, 3.0 / (3.0 + mu)).astype(float)
    h = fit_weekly(real[real["units"] > 0], t0, cfg).headline
    for k, truth in (("feature", TRUE_F), ("display", TRUE_D)):
        assert abs(h[f"{k}_log_lift"] - truth) < 0.05, (k, h[f"{k}_log_lift"])
    assert h["reference"]["feature_log_lift"] > TRUE_F + 0.05, h["reference"]
