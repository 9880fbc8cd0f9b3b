"""Held-out validation of the twin: replay the real prices, compare with what really sold.

On the hold-out weeks (after the training data) the fitted scenario is simulated with the
historical prices: each week every SKU's discount is set to ``1 - price / list`` (clipped to
``[0, 0.9]``; weeks with no sales row and no price run at list price) through ordinary
:class:`~envs.plan.PlanArrays`, for ``seeds`` independent futures. The simulated weekly
*demand* (uncensored: stock never limits the comparison) is compared with real weekly units
at SKU-week level:

* **WAPE** ``sum |real - simulated mean| / sum real`` (also with the simulated median);
* **coverage** of the central ``interval`` (default 80%) of the simulated weekly demand:
  the share of SKU-weeks whose real units lie inside ``[q_lo, q_hi]`` (inclusive; for small
  discrete counts an inclusive interval covers a little more than its nominal level);
* the same WAPE for a naive forecast (each SKU's mean of its final 13 training weeks), for
  scale.

A plan can only discount, and the scenario turns promotion types into a lift per unit of
discount, so two kinds of historical week cannot be expressed as a plan: weeks priced above
the list price, and feature or display weeks without a price cut. The replay therefore
carries the fitted model's remaining demand factor of every SKU-week through the SKU's
demand level (``state.base``, which the simulator multiplies into the mean and nothing
else reads)::

    factor = max(price / list, 1) ** elasticity * exp(bF F + bD D + bT T) / (1 + lift * d)

so the simulated mean of each week is the fitted model's mean for the real prices and
promotions. The figures of the plain discount-only replay are reported too
(``discount_only``), with the counts of weeks it could not express.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from envs.calibration.errors import CalibrationError
from envs.calibration.fit import PROMO_COLUMNS, FitResult
from envs.calibration.scenario_out import build_scenario
from envs.plan import PlanArrays
from envs.simulator import MarketSimulator

__all__ = ["TwinReport", "validate_twin"]


@dataclasses.dataclass
class TwinReport:
    """Results of :func:`validate_twin`.

    ``summary`` holds the headline figures (plain JSON types); ``by_category`` the same per
    category; ``real``, ``sim_mean``, ``sim_lo``, ``sim_hi`` are (weeks x SKUs) arrays
    for plots, over ``sku_ids`` and ``weeks``.
    """

    summary: dict[str, Any]
    by_category: pd.DataFrame
    sku_ids: list[str]
    weeks: list[pd.Timestamp]
    real: np.ndarray
    sim_mean: np.ndarray
    sim_lo: np.ndarray
    sim_hi: np.ndarray


def _wape(real: np.ndarray, pred: np.ndarray) -> float:
    tot = float(real.sum())
    return float(np.abs(real - pred).sum() / tot) if tot > 0 else float("nan")


def validate_twin(
    fit: FitResult,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    progress: Any = None,
) -> TwinReport:
    """Simulate the hold-out with the fitted scenario and historical prices; compare.

    ``progress`` is an optional callable ``progress(done, total)`` called once per seed.

    Raises:
        CalibrationError: the hold-out is empty or shares no SKU with the fit.
    """
    cfg = fit.config
    if holdout.empty:
        raise CalibrationError("the hold-out is empty; use holdout_weeks > 0 to validate")
    weeks = sorted(pd.Timestamp(w) for w in holdout["period"].unique())
    if weeks[0] != pd.Timestamp(fit.t0):
        raise CalibrationError(
            f"the hold-out starts {weeks[0]:%Y-%m-%d}, not at the fit's t0 {fit.t0}; "
            "split with split_holdout"
        )
    n_weeks = int((weeks[-1] - weeks[0]).days // 7) + 1
    weeks = [weeks[0] + pd.Timedelta(weeks=k) for k in range(n_weeks)]
    spec = build_scenario(fit, "twin-validation", horizon_days=7 * n_weeks, start_date=fit.t0)
    sim = MarketSimulator(spec, seed=cfg.seed)
    ids = list(sim.sku_ids)
    pos = sim.sku_index
    n = len(ids)
    lst = fit.series.set_index("series").loc[ids, "list_price"].to_numpy()

    h = holdout[holdout["series"].isin(pos)]
    if h.empty:
        raise CalibrationError("no hold-out row belongs to a fitted series")
    wk = ((h["period"] - weeks[0]).dt.days // 7).to_numpy()
    col = h["series"].map(pos).to_numpy()
    real = np.zeros((n_weeks, n))
    np.add.at(real, (wk, col), h["units"].to_numpy(dtype=float))
    price = np.full((n_weeks, n), np.nan)
    price[wk, col] = h["price"].to_numpy(dtype=float)
    rel = np.where(np.isfinite(price) & (price > 0), price / lst[None, :], 1.0)
    disc = np.clip(1.0 - rel, 0.0, 0.9)
    above = int((rel > 1.02).sum())
    flags = np.zeros((n_weeks, n), dtype=bool)
    promo = (h["feature"].to_numpy() > 0) | (h["display"].to_numpy() > 0)
    flags[wk[promo], col[promo]] = True
    flag_no_cut = int((flags & (disc < 0.02)).sum())
    censored = np.zeros((n_weeks, n), dtype=bool)
    censored[wk, col] = h["censored"].to_numpy(dtype=bool)
    factor = _model_factor(fit, sim, h, wk, col, rel, disc)

    draws = np.zeros((cfg.seeds, n_weeks, n))
    plain = np.zeros((cfg.seeds, n_weeks, n))
    for s in range(cfg.seeds):
        for out, fac in ((draws, factor), (plain, None)):
            run = sim.fork(seed=cfg.seed + s)
            base = run.state.base.copy()
            for day in range(7 * n_weeks):
                w = day // 7
                if day % 7 == 0:
                    if fac is not None:
                        run.state.base[:] = base * fac[w]
                    arrays = PlanArrays(
                        order_qty=np.zeros(n),
                        promo_set=np.ones(n, dtype=bool),
                        discount=disc[w],
                        duration=np.full(n, 7, dtype=np.int64),
                    )
                else:
                    arrays = PlanArrays.empty(n)
                out[s, w] += run.step(arrays, validate=False).demand
        if progress is not None:
            progress(s + 1, cfg.seeds)
    alpha = (1.0 - cfg.interval) / 2.0
    lo = np.quantile(draws, alpha, axis=0, method="inverted_cdf")
    hi = np.quantile(draws, 1.0 - alpha, axis=0, method="inverted_cdf")
    mean = draws.mean(axis=0)
    med = np.quantile(draws, 0.5, axis=0, method="inverted_cdf")
    ok = ~censored
    inside = (real >= lo) & (real <= hi)

    naive = _naive(train, ids, weeks[0])
    summary: dict[str, Any] = {
        "skus": n,
        "weeks": n_weeks,
        "sku_weeks": int(ok.sum()),
        "seeds": cfg.seeds,
        "wape": _wape(real[ok], mean[ok]),
        "wape_median": _wape(real[ok], med[ok]),
        "wape_naive_last13": _wape(real[ok], np.broadcast_to(naive, real.shape)[ok]),
        "coverage": float(inside[ok].mean()),
        "interval": cfg.interval,
        "bias": float((mean[ok].sum() - real[ok].sum()) / max(real[ok].sum(), 1e-9)),
        "weeks_above_list_price": above,
        "weeks_feature_or_display_without_discount": flag_no_cut,
    }
    p_lo = np.quantile(plain, alpha, axis=0, method="inverted_cdf")
    p_hi = np.quantile(plain, 1.0 - alpha, axis=0, method="inverted_cdf")
    p_mean = plain.mean(axis=0)
    summary["discount_only"] = {
        "wape": _wape(real[ok], p_mean[ok]),
        "coverage": float(((real >= p_lo) & (real <= p_hi))[ok].mean()),
        "bias": float((p_mean[ok].sum() - real[ok].sum()) / max(real[ok].sum(), 1e-9)),
    }
    cat_of = fit.series.set_index("series").loc[ids, "category"].to_numpy()
    rows = []
    for cat in np.unique(cat_of):
        m = cat_of == cat
        r, p = real[:, m][ok[:, m]], mean[:, m][ok[:, m]]
        rows.append({
            "category": cat, "skus": int(m.sum()), "wape": _wape(r, p),
            "coverage": float(inside[:, m][ok[:, m]].mean()),
            "bias": float((p.sum() - r.sum()) / max(r.sum(), 1e-9)),
        })
    return TwinReport(summary, pd.DataFrame(rows), ids, weeks, real, mean, lo, hi)


def _model_factor(fit, sim, h, wk, col, rel, disc) -> np.ndarray:
    """(weeks x SKUs) demand factors of the fitted model that the discount cannot carry."""
    n_weeks, n = rel.shape
    cats = fit.categories.set_index("category")
    cat_of = fit.series.set_index("series").loc[list(sim.sku_ids), "category"].to_numpy()
    logm = np.zeros((n_weeks, n))
    for k in PROMO_COLUMNS:
        b = cats[f"b_{k}"].reindex(cat_of).fillna(0.0).to_numpy() if f"b_{k}" in cats else 0.0
        flag = np.zeros((n_weeks, n))
        flag[wk, col] = h[k].to_numpy(dtype=float)
        logm += flag * b
    c = sim.catalog
    d = np.minimum(disc, c.max_discount[None, :])
    return np.maximum(rel, 1.0) ** c.elasticity[None, :] * np.exp(logm) / (
        1.0 + c.promo_lift[None, :] * d
    )


def _naive(train: pd.DataFrame, ids: list[str], t0: pd.Timestamp) -> np.ndarray:
    """Each SKU's mean weekly units over its final 13 training weeks (zero-filled)."""
    recent = train[train["period"] >= t0 - pd.Timedelta(weeks=13)]
    tot = recent.groupby("series")["units"].sum().reindex(ids).fillna(0.0)
    return (tot / 13.0).to_numpy()[None, :]
