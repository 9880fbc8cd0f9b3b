"""Estimating the twin's parameters from a weekly sales panel.

The model, per series ``i`` and week ``w`` (every uncensored week of the series' span; a
week without a row has 0 units, at the list price, without promotion)::

    E[units_iw] = exp( a_i + e_i log(price_iw / list_i) + g_i t_w                (own part)
                     + bF feature_iw + bD display_iw + bT tpr_iw                 (category)
                     + c cos(2 pi doy_w / 365) + s sin(2 pi doy_w / 365) )       (category)

Own-price elasticity ``e_i``, level ``a_i`` and log-trend ``g_i`` are per series; promotion
log-lifts by type and yearly seasonality are pooled per category, where a series' few
promotion weeks would give noisy answers. A promotion's lift is measured on top of its
price cut: the price term uses the shelf price paid, so ``bF`` is what a feature adds to a
discount of the same depth.

The fit is Poisson pseudo-maximum likelihood (the mean above, any noise distribution), by
iteratively reweighted least squares with series-specific columns projected out of the
pooled ones in every step (an exact joint fit; standard errors of pooled coefficients are
sandwiches clustered by series). Why not least squares on log units: the simulator
multiplies *mean* demand, and on small weekly counts a log regression measures shifts of
mean log units instead (attenuated; it also has to drop zero-sales weeks). Why per-series
elasticities: with one shared elasticity, series more elastic than the average have their
deeper promotional price cuts' extra response credited to the feature and display flags
(measured on dunnhumby and in ``tests/test_realdata_lift.py``). The headline keeps both
comparisons: ``log_ols`` (this model by least squares on log units) and ``reference`` (one
pooled log-log regression with a shared elasticity).

Series with fewer than ``min_weeks`` weeks with sales, or without price variation, take
their category's values (*pooled where data is thin*), and per-series elasticities and
trends are shrunk towards their category median by empirical Bayes (weights from their
standard errors and the between-series spread).

From the regression to the simulator's demand model (``envs/simulator.py``):

* ``elasticity = e_i`` (the simulator applies ``(price / list)^e``);
* ``trend = exp(g_i) - 1`` per year, 0 when the history is too short (``fit_trend``);
* ``yearly_amplitude = tanh(hypot(c, s))`` and ``yearly_peak_day = atan2(s, c) / (2 pi) *
  365``: ``1 + A cos`` has the same peak-to-trough ratio as ``exp(R cos)``;
* ``promo_lift_per_depth``: the simulator has discounts only, so the non-price lift
  ``exp(bF F + bD D + bT T)`` of a series' discounted weeks is expressed per unit of
  discount depth, ``lift = sum d (m - 1) / sum d^2`` (least squares over those weeks). An
  approximation: a feature or display without a price cut gets no lift in the simulator;
* ``base_demand``: the ratio estimator ``sum units / sum M`` over every week of the series'
  span, zero-sales weeks included (``M`` is the fitted model's multiplier for that week at
  level 1: price relative to list, above list too, promotion types, season, trend), divided
  by 7, at the scenario's start ``t0``;
* ``dispersion``: the weekly negative-binomial shape by moments ``K = sum mu^2 / sum((u -
  mu)^2 - mu)``, shrunk towards the category's, divided by 7: the sum of seven independent
  daily draws of shape ``K / 7`` has the weekly variance ``mu + mu^2 / K``.

Censoring: periods flagged ``censored`` (a known stock-out) are left out of every estimate,
so a sold-out week does not pull demand down (a simple, unbiased-if-random treatment).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd

from envs.calibration.config import CalibrationConfig
from envs.calibration.errors import CalibrationError

__all__ = ["PROMO_COLUMNS", "FitResult", "fit_weekly", "sim_multiplier"]

PROMO_COLUMNS = ("feature", "display", "tpr")
_SEASON = ("cos", "sin")
_W = 2.0 * math.pi / 365.0
ALL = "__all__"


@dataclasses.dataclass
class FitResult:
    """Everything a calibration estimated.

    Attributes:
        series: one row per fitted series (see :func:`fit_weekly` for the columns).
        categories: one row per category (pooled estimates with standard errors).
        headline: the shop-wide figures with intervals (median elasticity, promotion
            log-lifts), as plain JSON types.
        excluded: series left out, with the reason.
        t0: the first day after the training data, the day the scenario starts.
        weekly_weights: day-of-week weights per category (None: flat, weekly history).
        config: the settings used.
    """

    series: pd.DataFrame
    categories: pd.DataFrame
    headline: dict[str, Any]
    excluded: pd.DataFrame
    t0: dt.date
    weekly_weights: dict[str, list[float]] | None
    config: CalibrationConfig


def sim_multiplier(
    price: np.ndarray, list_price: np.ndarray, elasticity: np.ndarray, lift: np.ndarray,
    amplitude: np.ndarray, peak: np.ndarray, trend: np.ndarray, doy: np.ndarray, t: np.ndarray,
) -> np.ndarray:
    """The simulator's demand multiplier of a period at level 1 (price, promotion depth,
    yearly season, trend); ``price`` NaN means the list price."""
    p = np.where(np.isfinite(price) & (price > 0), price, list_price)
    rel = p / list_price
    d = np.clip(1.0 - rel, 0.0, 0.9)
    return (
        rel**elasticity
        * (1.0 + lift * d)
        * (1.0 + amplitude * np.cos(_W * (doy - peak)))
        * (1.0 + trend) ** t
    )


def _prepare(train: pd.DataFrame, t0: dt.date, cfg: CalibrationConfig) -> pd.DataFrame:
    df = train.copy()
    mid = df["period"] + pd.Timedelta(days=3)
    df["doy"] = (mid.dt.dayofyear - 1).astype(float)
    df["t"] = (mid - pd.Timestamp(t0)).dt.days / 365.25
    df["cos"] = np.cos(_W * df["doy"])
    df["sin"] = np.sin(_W * df["doy"])
    last = df["period"].max()
    recent = df[df["period"] > last - pd.Timedelta(weeks=cfg.list_window_weeks)]
    lp = recent.groupby("series")["list_price"].median()
    pp = recent.groupby("series")["price"].median()
    lp_all = df.groupby("series")["list_price"].median()
    pp_all = df.groupby("series")["price"].median()
    lst = lp.reindex(lp_all.index).fillna(pp.reindex(lp_all.index)).fillna(lp_all).fillna(pp_all)
    df["list"] = df["series"].map(lst)
    return df


def _cluster_ols(blocks: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """OLS of stacked ``(X_i, y_i)`` with a covariance clustered by block."""
    X = np.vstack([b[0] for b in blocks])
    y = np.concatenate([b[1] for b in blocks])
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    bread = np.linalg.pinv(X.T @ X)
    meat = np.zeros((X.shape[1], X.shape[1]))
    for Xi, yi in blocks:
        s = Xi.T @ (yi - Xi @ beta)
        meat += np.outer(s, s)
    g = len(blocks)
    cov = bread @ meat @ bread * (g / max(g - 1, 1))
    return beta, cov


def _log_fit(
    df: pd.DataFrame, cfg: CalibrationConfig, fit_trend: bool
) -> tuple[dict[str, float], dict[str, float], dict[str, dict[str, float]]]:
    """The same model fitted by least squares on log units (positive weeks only): pooled
    coefficients (with SEs) and per-series own fits for one group of series. Reported next
    to the Poisson fit; it estimates shifts of mean log units, not of mean units."""
    rows = df[df["_reg"]]
    xcols = [c for c in PROMO_COLUMNS if rows[c].sum() >= 5 and (1 - rows[c]).sum() >= 5]
    span_weeks = (rows["period"].max() - rows["period"].min()).days / 7 if len(rows) else 0
    if span_weeks >= 52:
        xcols += list(_SEASON)
    own: dict[str, dict[str, float]] = {}
    blocks = []
    cache = []
    for sid, g in rows.groupby("series", sort=False):
        if len(g) < cfg.min_weeks:
            continue
        lpv = np.log(g["price"].to_numpy() / g["list"].to_numpy())
        zcols = [np.ones(len(g))]
        has_slope = bool(np.std(lpv) > 0.01)
        if has_slope:
            zcols.append(lpv)
        if fit_trend:
            zcols.append(g["t"].to_numpy())
        Z = np.column_stack(zcols)
        y = np.log(g["units"].to_numpy())
        X = g[xcols].to_numpy(dtype=float) if xcols else np.zeros((len(g), 0))
        Q, _ = np.linalg.qr(Z)
        yt = y - Q @ (Q.T @ y)
        Xt = X - Q @ (Q.T @ X)
        blocks.append((Xt, yt))
        cache.append((sid, Z, y, X, has_slope))
    beta = np.zeros(len(xcols))
    cov = np.zeros((len(xcols), len(xcols)))
    if xcols and blocks:
        beta, cov = _cluster_ols(blocks)
    coef = dict(zip(xcols, beta.tolist(), strict=True))
    se = dict(zip(xcols, np.sqrt(np.maximum(np.diag(cov), 0)).tolist(), strict=True))
    for sid, Z, y, X, has_slope in cache:
        r = y - X @ beta
        gam, *_ = np.linalg.lstsq(Z, r, rcond=None)
        e = r - Z @ gam
        dof = max(len(y) - Z.shape[1] - len(xcols), 1)
        s2 = float(e @ e) / dof
        zcov = s2 * np.linalg.pinv(Z.T @ Z)
        sst = float(((y - y.mean()) ** 2).sum())
        fit: dict[str, float] = {
            "r2": 1.0 - float(e @ e) / sst if sst > 0 else float("nan"),
            "resid_sd": math.sqrt(s2),
        }
        k = 1
        if has_slope:
            fit["e_raw"], fit["e_se"] = float(gam[k]), math.sqrt(zcov[k, k])
            k += 1
        if fit_trend:
            fit["g_raw"], fit["g_se"] = float(gam[k]), math.sqrt(zcov[k, k])
        own[sid] = fit
    return coef, se, own


def _zero_filled(df: pd.DataFrame) -> pd.DataFrame:
    """The rows the model's regression uses: every uncensored week of each series' span
    (first to last recorded week), weeks without a row added with 0 units at the list price
    and no promotion (the convention of sales extracts: no row, no sale)."""
    parts = []
    for sid, g in df.groupby("series", sort=False):
        grid = pd.date_range(g["period"].min(), g["period"].max(), freq="7D")
        if len(grid) == len(g):
            parts.append(g)
            continue
        h = g.set_index("period").reindex(grid)
        miss = h["series"].isna().to_numpy()
        h["series"] = sid
        h["category"] = g["category"].iloc[0]
        h["list"] = g["list"].iloc[0]
        h["units"] = h["units"].fillna(0.0)
        for c in PROMO_COLUMNS:
            h[c] = h[c].fillna(0.0)
        h["censored"] = h["censored"].astype("boolean").fillna(False).astype(bool)
        h = h.rename_axis("period").reset_index()
        if miss.any():
            mid = h.loc[miss, "period"] + pd.Timedelta(days=3)
            h.loc[miss, "doy"] = (mid.dt.dayofyear - 1).astype(float).to_numpy()
            h.loc[miss, "t"] = g["t"].iloc[0] + (
                (h.loc[miss, "period"] - g["period"].iloc[0]).dt.days / 365.25
            ).to_numpy()
        h["cos"] = np.cos(_W * h["doy"])
        h["sin"] = np.sin(_W * h["doy"])
        parts.append(h)
    out = pd.concat(parts, ignore_index=True)
    priced = np.isfinite(out["price"]) & (out["price"] > 0)
    out["_use"] = ~out["censored"].to_numpy(bool) & (priced | (out["units"] == 0))
    out["_lp"] = np.where(priced, np.log(out["price"].where(priced, 1.0) / out["list"]), 0.0)
    return out[out["_use"]].reset_index(drop=True)


def _pooled_fit(
    df: pd.DataFrame, cfg: CalibrationConfig, fit_trend: bool
) -> tuple[dict[str, float], dict[str, float], dict[str, dict[str, float]]]:
    """Poisson pseudo-maximum-likelihood joint fit for one group of series (a category or
    all): per-series level, elasticity and trend, pooled promotion log-lifts and season.

    ``df`` is the zero-filled frame of :func:`_zero_filled`. The mean ``exp(Z_i g_i + X b)``
    is fitted by iteratively reweighted least squares; in each step the series' own columns
    are projected out of the pooled ones (weighted Frisch-Waugh), so the step is the exact
    joint Newton step. Pooled standard errors are the sandwich clustered by series (valid
    whatever the noise distribution); a series' own standard errors are quasi-Poisson.
    """
    pos = df["units"] > 0
    xcols = [c for c in PROMO_COLUMNS
             if df.loc[pos, c].sum() >= 5 and (1 - df.loc[pos, c]).sum() >= 5]
    span_weeks = (df["period"].max() - df["period"].min()).days / 7 if len(df) else 0
    if span_weeks >= 52:
        xcols += list(_SEASON)
    groups = []
    for sid, g in df.groupby("series", sort=False):
        gpos = g["units"].to_numpy() > 0
        if gpos.sum() < cfg.min_weeks:
            continue
        lpv = g["_lp"].to_numpy()
        has_slope = bool(np.std(lpv[gpos]) > 0.01)
        zcols = [np.ones(len(g))]
        if has_slope:
            zcols.append(lpv)
        if fit_trend:
            zcols.append(g["t"].to_numpy())
        Z = np.column_stack(zcols)
        X = g[xcols].to_numpy(dtype=float) if xcols else np.zeros((len(g), 0))
        y = g["units"].to_numpy(dtype=float)
        gam = np.zeros(Z.shape[1])
        gam[0] = math.log(y.mean())
        groups.append([sid, Z, X, y, has_slope, gam])
    k = len(xcols)
    beta = np.zeros(k)
    info = np.eye(k)
    for _ in range(100):
        info = np.zeros((k, k))
        rhs = np.zeros(k)
        steps = []
        for _sid, Z, X, y, _hs, gam in groups:
            eta = np.clip(Z @ gam + X @ beta, -30.0, 30.0)
            mu = np.exp(eta)
            sw = np.sqrt(mu)
            zw = (eta + (y - mu) / mu) * sw
            Zw, Xw = Z * sw[:, None], X * sw[:, None]
            Q, _ = np.linalg.qr(Zw)
            Xt = Xw - Q @ (Q.T @ Xw)
            info += Xt.T @ Xt
            rhs += Xt.T @ (zw - Q @ (Q.T @ zw))
            steps.append((Zw, Xw, zw))
        new = np.linalg.solve(info, rhs) if k else beta
        moved = float(np.max(np.abs(new - beta))) if k else 0.0
        beta = new
        for grp, (Zw, Xw, zw) in zip(groups, steps, strict=True):
            g_new, *_ = np.linalg.lstsq(Zw, zw - Xw @ beta, rcond=None)
            moved = max(moved, float(np.max(np.abs(g_new - grp[5]))))
            grp[5] = g_new
        if moved < 1e-7:
            break
    own: dict[str, dict[str, float]] = {}
    meat = np.zeros((k, k))
    for sid, Z, X, y, has_slope, gam in groups:
        mu = np.exp(np.clip(Z @ gam + X @ beta, -30.0, 30.0))
        sw = np.sqrt(mu)
        Zw = Z * sw[:, None]
        if k:
            Q, _ = np.linalg.qr(Zw)
            Xw = X * sw[:, None]
            s = (Xw - Q @ (Q.T @ Xw)).T @ ((y - mu) / sw)
            meat += np.outer(s, s)
        dof = max(len(y) - Z.shape[1] - k, 1)
        phi = max(float(((y - mu) ** 2 / mu).sum()) / dof, 1e-9)
        zcov = phi * np.linalg.pinv(Zw.T @ Zw)
        p = y > 0
        ly, lm = np.log(y[p]), np.log(mu[p])
        sst = float(((ly - ly.mean()) ** 2).sum())
        sse = float(((ly - lm) ** 2).sum())
        fit: dict[str, float] = {
            "r2": 1.0 - sse / sst if sst > 0 else float("nan"),
            "resid_sd": math.sqrt(sse / max(int(p.sum()) - 1, 1)),
        }
        j = 1
        if has_slope:
            fit["e_raw"], fit["e_se"] = float(gam[j]), math.sqrt(zcov[j, j])
            j += 1
        if fit_trend:
            fit["g_raw"], fit["g_se"] = float(gam[j]), math.sqrt(zcov[j, j])
        own[sid] = fit
    cov = np.zeros((k, k))
    if k and groups:
        bread = np.linalg.pinv(info)
        n_g = len(groups)
        cov = bread @ meat @ bread * (n_g / max(n_g - 1, 1))
    coef = dict(zip(xcols, beta.tolist(), strict=True))
    se = dict(zip(xcols, np.sqrt(np.maximum(np.diag(cov), 0)).tolist(), strict=True))
    return coef, se, own


def _shrink(raw: np.ndarray, se: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Empirical-Bayes shrinkage towards the median; returns (shrunk, centre, tau)."""
    ok = np.isfinite(raw) & np.isfinite(se) & (se > 0)
    if ok.sum() == 0:
        return raw, float("nan"), float("nan")
    mu = float(np.median(raw[ok]))
    mad = 1.4826 * float(np.median(np.abs(raw[ok] - mu)))
    tau2 = max(mad**2 - float(np.median(se[ok] ** 2)), 1e-4)
    w = tau2 / (tau2 + se**2)
    out = np.where(ok, w * raw + (1 - w) * mu, mu)
    return out, mu, math.sqrt(tau2)


def _median_ci(x: np.ndarray, cfg: CalibrationConfig) -> list[float]:
    x = x[np.isfinite(x)]
    if x.size < 2:
        return [float("nan"), float("nan")]
    rng = np.random.default_rng(cfg.seed)
    meds = np.median(rng.choice(x, size=(cfg.bootstrap, x.size), replace=True), axis=1)
    return [float(np.quantile(meds, 0.025)), float(np.quantile(meds, 0.975))]


def fit_weekly(
    train: pd.DataFrame,
    t0: dt.date,
    config: CalibrationConfig | None = None,
    weekly_weights: dict[str, list[float]] | None = None,
) -> FitResult:
    """Fit the twin's parameters on a validated weekly panel (see the module docstring).

    ``FitResult.series`` columns: ``series, category, n_weeks`` (span, zero weeks included),
    ``n_reg`` (weeks in the regression), ``own_slope`` (True when the elasticity is the
    series' own), ``list_price, elasticity_raw, elasticity_se, elasticity, trend, lift,
    amplitude, peak, base_daily, dispersion_week, dispersion, r2, wape_in``.

    Raises:
        CalibrationError: no series has a usable price, or none has enough weeks.
    """
    cfg = config or CalibrationConfig()
    df = _prepare(train, t0, cfg)
    no_price = df.groupby("series")["list"].first()
    no_price = no_price[~np.isfinite(no_price) | (no_price <= 0)]
    excluded = [
        {"series": s, "reason": "no price in the history (needed for elasticity and cost)"}
        for s in no_price.index
    ]
    df = df[~df["series"].isin(no_price.index)].reset_index(drop=True)
    if df.empty:
        raise CalibrationError(
            "no series has a usable price; map a price column (price or list_price)"
        )
    df["_reg"] = (
        (df["units"] > 0) & np.isfinite(df["price"]) & (df["price"] > 0) & ~df["censored"]
    )
    span_weeks = (df["period"].max() - df["period"].min()).days / 7
    fit_trend = cfg.fit_trend == "yes" or (cfg.fit_trend == "auto" and span_weeks >= 78)

    filled = _zero_filled(df)
    cat_rows = []
    own_all: dict[str, dict[str, float]] = {}
    coefs: dict[str, dict[str, float]] = {}
    for cat, g in [*filled.groupby("category"), (ALL, filled)]:
        coef, se, own = _pooled_fit(g, cfg, fit_trend)
        coefs[str(cat)] = coef
        row: dict[str, Any] = {"category": cat, "n_series": g["series"].nunique(),
                               "n_own": len(own)}
        for k in (*PROMO_COLUMNS, *_SEASON):
            row[f"b_{k}"] = coef.get(k, float("nan"))
            row[f"se_{k}"] = se.get(k, float("nan"))
        cat_rows.append(row)
        if cat != ALL:
            own_all.update(own)
    if not own_all:
        raise CalibrationError(
            f"no series has {cfg.min_weeks} weeks with positive sales and a price; lower "
            "min_weeks or give a longer history"
        )
    cats = pd.DataFrame(cat_rows).set_index("category")

    # Per series: own estimates, shrinkage, fallbacks to the category.
    info = df.groupby("series").agg(category=("category", "first"), list_price=("list", "first"))
    info["n_reg"] = filled.groupby("series").size().reindex(info.index).fillna(0).astype(int)
    own_df = pd.DataFrame.from_dict(own_all, orient="index")
    for col in ("e_raw", "e_se", "g_raw", "g_se", "r2", "resid_sd"):
        if col not in own_df.columns:
            own_df[col] = np.nan
    ser = info.join(own_df, how="left")
    lo_e, hi_e = cfg.elasticity_limits
    ser["elasticity"] = np.nan
    ser["trend"] = 0.0
    cats["median_elasticity"] = np.nan
    cats["tau_elasticity"] = np.nan
    all_e = ser["e_raw"].to_numpy()
    global_e = float(np.nanmedian(all_e)) if np.isfinite(all_e).any() else -1.5
    for cat, idx in ser.groupby("category").groups.items():
        sub = ser.loc[idx]
        shr, mu, tau = _shrink(sub["e_raw"].to_numpy(), sub["e_se"].to_numpy())
        if not math.isfinite(mu):
            shr, mu = np.full(len(sub), global_e), global_e
        ser.loc[idx, "elasticity"] = np.clip(shr, lo_e, hi_e)
        cats.loc[cat, "median_elasticity"] = mu
        cats.loc[cat, "tau_elasticity"] = tau
        if fit_trend:
            gs, gmu, _ = _shrink(sub["g_raw"].to_numpy(), sub["g_se"].to_numpy())
            gs = np.where(np.isfinite(gs), gs, 0.0 if not math.isfinite(gmu) else gmu)
            ser.loc[idx, "trend"] = np.clip(np.expm1(gs), *cfg.trend_limits)
    ser["own_slope"] = np.isfinite(ser["e_raw"])
    ser = ser.rename(columns={"e_raw": "elasticity_raw", "e_se": "elasticity_se"})

    # Season per category (log-scale cos/sin to the simulator's 1 + A cos form).
    amp, peak = {}, {}
    for cat in cats.index:
        c, s = cats.loc[cat, "b_cos"], cats.loc[cat, "b_sin"]
        if math.isfinite(c) and math.isfinite(s):
            amp[cat] = min(math.tanh(math.hypot(c, s)), 0.95)
            peak[cat] = round((math.atan2(s, c) / _W) % 365) % 366
        else:
            amp[cat], peak[cat] = 0.0, 0
    cats["amplitude"] = pd.Series(amp)
    cats["peak_day"] = pd.Series(peak)
    ser["amplitude"] = ser["category"].map(amp)
    ser["peak"] = ser["category"].map(peak)

    _fit_lift(df, ser, cats, coefs, cfg)
    _fit_level_dispersion(df, ser, cfg, t0, coefs)
    ser = ser.reset_index(names="series")
    headline = _headline(ser, cats, cfg)
    headline["log_ols"] = _log_ols_headline(df, cfg, fit_trend)
    headline["reference"] = _reference_fit(df)
    headline["per_series"] = _per_series_fit(df, cfg)
    return FitResult(
        series=ser,
        categories=cats.reset_index(),
        headline=headline,
        excluded=pd.DataFrame(excluded, columns=["series", "reason"]),
        t0=t0,
        weekly_weights=weekly_weights,
        config=cfg,
    )


def _fit_lift(df, ser, cats, coefs, cfg) -> None:
    """promo_lift_per_depth per series (category value when a series has < 3 promo weeks)."""
    d = np.clip(1.0 - df["price"].to_numpy() / df["list"].to_numpy(), 0.0, 0.9)
    d = np.where(np.isfinite(d), d, 0.0)
    logm = np.zeros(len(df))
    cat_arr = df["category"].to_numpy()
    has_flags = np.zeros(len(df), dtype=bool)
    for cat, coef in coefs.items():
        if cat == ALL:
            continue
        sel = cat_arr == cat
        for k in PROMO_COLUMNS:
            if k in coef:
                logm[sel] += coef[k] * df.loc[sel, k].to_numpy()
                has_flags[sel] = True
    w = pd.DataFrame({
        "series": df["series"], "category": df["category"],
        "num": np.where(d > 0.02, d * np.expm1(logm), 0.0),
        "den": np.where(d > 0.02, d * d, 0.0), "n": (d > 0.02).astype(int),
        "flags": has_flags,
    })
    w = w[~df["censored"].to_numpy()]
    by_s = w.groupby("series")[["num", "den", "n"]].sum()
    by_c = w.groupby("category")[["num", "den"]].sum()
    flags_c = w.groupby("category")["flags"].any()
    cat_lift = {}
    for cat in cats.index:
        if cat == ALL:
            continue
        if not bool(flags_c.get(cat, False)):
            cat_lift[cat] = cfg.unknown_promo_lift
        else:
            den = by_c.loc[cat, "den"] if cat in by_c.index else 0.0
            cat_lift[cat] = max(by_c.loc[cat, "num"] / den, 0.0) if den > 0 else 0.0
    cats["lift_per_depth"] = pd.Series(cat_lift)
    own = by_s.reindex(ser.index)
    own_lift = np.where(
        (own["n"] >= 3) & (own["den"] > 0), own["num"] / own["den"].where(own["den"] > 0, 1), np.nan
    )
    fallback = ser["category"].map(cat_lift).to_numpy()
    no_flags = ~ser["category"].map(flags_c).fillna(False).to_numpy(dtype=bool)
    lift = np.where(np.isfinite(own_lift) & ~no_flags, own_lift, fallback)
    ser["lift"] = np.clip(lift, 0.0, 20.0)


def _fit_level_dispersion(df, ser, cfg, t0: dt.date, coefs) -> None:
    """Base demand (ratio estimator over each series' zero-filled span) and dispersion, with
    each week's multiplier from the fitted model (its real price, above list included, and
    its promotion types), so the level is the series' demand at list price without
    promotion."""
    obs = df.set_index(["series", "period"])
    base, kw, wape, nweeks = {}, {}, {}, {}
    lo_k, hi_k = cfg.dispersion_limits
    for sid, g in df.groupby("series", sort=False):
        p = ser.loc[sid]
        grid = pd.date_range(g["period"].min(), df["period"].max(), freq="7D")
        sub = obs.loc[sid].reindex(grid)
        units = sub["units"].fillna(0.0).to_numpy()
        keep = ~sub["censored"].eq(True).to_numpy()
        mid = grid + pd.Timedelta(days=3)
        t = (mid - pd.Timestamp(t0)).days.to_numpy() / 365.25
        coef = coefs.get(str(p["category"]), {})
        logm = sum(coef[k] * sub[k].fillna(0.0).to_numpy(dtype=float)
                   for k in PROMO_COLUMNS if k in coef)
        M = sim_multiplier(
            sub["price"].to_numpy(dtype=float), np.full(len(grid), p["list_price"]),
            p["elasticity"], 0.0, p["amplitude"], p["peak"], p["trend"],
            (mid.dayofyear.to_numpy() - 1).astype(float), t,
        ) * np.exp(logm)
        u, m = units[keep], M[keep]
        level = float(u.sum() / m.sum()) if m.sum() > 0 else 0.0
        mu = level * m
        den = float(((u - mu) ** 2 - mu).sum())
        k = float(np.clip((mu**2).sum() / den, lo_k, hi_k)) if den > 0 else hi_k
        base[sid] = level / 7.0
        kw[sid] = k
        wape[sid] = float(np.abs(u - mu).sum() / u.sum()) if u.sum() > 0 else float("nan")
        nweeks[sid] = int(keep.sum())
    ser["base_daily"] = pd.Series(base)
    ser["n_weeks"] = pd.Series(nweeks)
    ser["wape_in"] = pd.Series(wape)
    logk = np.log(pd.Series(kw).reindex(ser.index).to_numpy())
    cat_med = pd.Series(logk, index=ser.index).groupby(ser["category"]).transform("median")
    wgt = ser["n_weeks"] / (ser["n_weeks"] + 26.0)
    k_shr = np.exp(wgt * logk + (1 - wgt) * cat_med.to_numpy())
    ser["dispersion_week"] = np.clip(k_shr, lo_k, hi_k)
    ser["dispersion"] = ser["dispersion_week"] / 7.0


def _log_ols_headline(df: pd.DataFrame, cfg: CalibrationConfig, fit_trend: bool) -> dict[str, Any]:
    """The model's structure fitted by least squares on log units over all series."""
    coef, se, _ = _log_fit(df, cfg, fit_trend)
    out: dict[str, Any] = {}
    for k in PROMO_COLUMNS:
        if k in coef:
            out[f"{k}_log_lift"] = coef[k]
            out[f"{k}_log_lift_ci95"] = [coef[k] - 1.96 * se[k], coef[k] + 1.96 * se[k]]
    return out


def _reference_fit(df: pd.DataFrame) -> dict[str, Any]:
    """The quick reference regression: pooled within-series OLS of log units on log price
    and the promotion flags (one elasticity for all), SEs clustered by series. Reported next
    to the model's estimates because published figures for such data usually come from it."""
    rows = df[df["_reg"]]
    cols = ["lp", *[c for c in PROMO_COLUMNS if rows[c].sum() >= 5]]
    blocks = []
    for _, g in rows.groupby("series", sort=False):
        if len(g) < 4:
            continue
        X = np.column_stack([np.log(g["price"].to_numpy()), g[cols[1:]].to_numpy(dtype=float)])
        y = np.log(g["units"].to_numpy())
        blocks.append((X - X.mean(axis=0), y - y.mean()))
    if not blocks:
        return {}
    beta, cov = _cluster_ols(blocks)
    se = np.sqrt(np.maximum(np.diag(cov), 0))
    names = ["elasticity", *[f"{c}_log_lift" for c in cols[1:]]]
    out: dict[str, Any] = {}
    for n, b, s in zip(names, beta, se, strict=True):
        out[n] = float(b)
        out[f"{n}_ci95"] = [float(b - 1.96 * s), float(b + 1.96 * s)]
    return out


def _per_series_fit(df: pd.DataFrame, cfg: CalibrationConfig) -> dict[str, Any]:
    """Medians of separate per-series OLS fits of log units on log price and the promotion
    flags (the "quick log-log regression per series" that published figures for such data
    describe), with bootstrap intervals over series. A coefficient is collected only from
    series where its regressor varies (at least 5 weeks on and 5 off for a flag)."""
    rows = df[df["_reg"]]
    names = ["elasticity", *[f"{c}_log_lift" for c in PROMO_COLUMNS]]
    collected: dict[str, list[float]] = {n: [] for n in names}
    for _, g in rows.groupby("series", sort=False):
        lp = np.log(g["price"].to_numpy())
        cols, keep = [np.ones(len(g))], []
        if np.std(lp) > 0.01:
            cols.append(lp)
            keep.append("elasticity")
        for c in PROMO_COLUMNS:
            f = g[c].to_numpy(dtype=float)
            if f.sum() >= 5 and (1 - f).sum() >= 5:
                cols.append(f)
                keep.append(f"{c}_log_lift")
        X = np.column_stack(cols)
        if not keep or len(g) < X.shape[1] + 5:
            continue
        beta, *_ = np.linalg.lstsq(X, np.log(g["units"].to_numpy()), rcond=None)
        for name, b in zip(keep, beta[1:], strict=True):
            collected[name].append(float(b))
    out: dict[str, Any] = {}
    for name, values in collected.items():
        x = np.asarray(values)
        if x.size:
            out[name] = float(np.median(x))
            out[f"{name}_ci95"] = _median_ci(x, cfg)
            out[f"{name}_n_series"] = int(x.size)
    return out


def _headline(ser: pd.DataFrame, cats: pd.DataFrame, cfg: CalibrationConfig) -> dict[str, Any]:
    own = ser.loc[ser["own_slope"], "elasticity_raw"].to_numpy()
    out: dict[str, Any] = {
        "n_series": len(ser),
        "n_own_elasticity": int(own.size),
        "median_elasticity": float(np.median(own)) if own.size else float("nan"),
        "median_elasticity_ci95": _median_ci(own, cfg),
        "median_elasticity_shrunk": float(np.median(ser["elasticity"])),
        "elasticity_iqr": [float(np.quantile(own, 0.25)), float(np.quantile(own, 0.75))]
        if own.size else [float("nan")] * 2,
    }
    allrow = cats.loc[ALL]
    for k in PROMO_COLUMNS:
        b, se = float(allrow[f"b_{k}"]), float(allrow[f"se_{k}"])
        out[f"{k}_log_lift"] = b
        out[f"{k}_log_lift_ci95"] = [b - 1.96 * se, b + 1.96 * se]
    return out
