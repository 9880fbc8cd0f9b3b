"""The canonical sales panel the calibration works on.

A **panel** is a pandas DataFrame with one row per series and period. A *series* is what the
simulator will treat as one SKU: a product, or a product in one store (``series`` is then
``"<product>@<store>"``). Columns:

=============  ===========================================================================
column         meaning
=============  ===========================================================================
``series``     series id (str), the future scenario SKU id
``category``   category name (str); thin series borrow their category's estimates
``period``     first day of the period (``datetime64``; a day, or the first day of a week)
``units``      units sold in the period (>= 0)
``price``      average shelf price paid (NaN when unknown)
``list_price`` regular (list) price in force (NaN when unknown)
``feature``    1 when the product was in the circular / newsletter (0 when unknown)
``display``    1 when it had a display / front-page slot
``tpr``        1 for a temporary price reduction without feature or display
``censored``   True when a stock-out is known to have cut the period's sales
=============  ===========================================================================

Periods with no row are periods with zero sales (the usual convention of sales extracts);
the fit fills them in over each series' span. :func:`weekly_from_daily` turns a daily panel
into a weekly one (weeks start on ``week_start_dow``) and :func:`dow_weights` estimates the
day-of-week profile from the daily one, counting only days the shop was open.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from envs.calibration.errors import CalibrationError

__all__ = [
    "PANEL_COLUMNS",
    "dow_weights",
    "split_holdout",
    "validate_panel",
    "weekly_from_daily",
]

PANEL_COLUMNS = (
    "series", "category", "period", "units", "price", "list_price",
    "feature", "display", "tpr", "censored",
)
_OPTIONAL_DEFAULTS: dict[str, object] = {
    "price": np.nan, "list_price": np.nan, "feature": 0.0, "display": 0.0, "tpr": 0.0,
    "censored": False,
}


def validate_panel(df: pd.DataFrame, source: str = "<panel>") -> pd.DataFrame:
    """A checked copy of ``df`` with every panel column, optional ones filled with defaults.

    Raises:
        CalibrationError: a required column (series, category, period, units) is missing,
            or units are negative / not finite (naming the first offending row).
    """
    missing = [c for c in ("series", "category", "period", "units") if c not in df.columns]
    if missing:
        raise CalibrationError(
            f"{source}: the sales panel lacks column(s) {missing}; it has {list(df.columns)}"
        )
    out = df.copy()
    for col, default in _OPTIONAL_DEFAULTS.items():
        if col not in out.columns:
            out[col] = default
    out["series"] = out["series"].astype(str)
    out["category"] = out["category"].astype(str)
    out["period"] = pd.to_datetime(out["period"]).dt.normalize()
    units = out["units"].to_numpy(dtype=float)
    bad = ~np.isfinite(units) | (units < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CalibrationError(
            f"{source}: row {i}: column units: {units[i]!r} is not a count >= 0; clean the "
            "history first (shopops import quarantines such rows)"
        )
    for col in ("feature", "display", "tpr"):
        out[col] = out[col].fillna(0.0).astype(float)
    out["censored"] = out["censored"].fillna(False).astype(bool)
    if out.duplicated(["series", "period"]).any():
        dup = out[out.duplicated(["series", "period"], keep=False)].iloc[0]
        raise CalibrationError(
            f"{source}: series {dup['series']!r} has several rows for period "
            f"{dup['period']:%Y-%m-%d}; aggregate lines per period first"
        )
    return out[list(PANEL_COLUMNS)].sort_values(["series", "period"], ignore_index=True)


def weekly_from_daily(daily: pd.DataFrame, week_start_dow: int = 0) -> pd.DataFrame:
    """Aggregate a daily panel to weeks starting on ``week_start_dow`` (0 = Monday).

    Units add up; the price is the unit-weighted mean price (the plain mean on weeks without
    sales), the list price the median, promotion flags and censoring are "any day".
    """
    d = daily.copy()
    shift = (d["period"].dt.dayofweek - week_start_dow) % 7
    d["period"] = d["period"] - pd.to_timedelta(shift, unit="D")
    d["_rev"] = d["price"] * d["units"]
    g = d.groupby(["series", "period"], sort=True)
    out = g.agg(
        category=("category", "first"),
        units=("units", "sum"),
        _rev=("_rev", "sum"),
        _pmean=("price", "mean"),
        list_price=("list_price", "median"),
        feature=("feature", "max"),
        display=("display", "max"),
        tpr=("tpr", "max"),
        censored=("censored", "max"),
    ).reset_index()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["price"] = np.where(out["units"] > 0, out["_rev"] / out["units"], out["_pmean"])
    return validate_panel(out.drop(columns=["_rev", "_pmean"]), "weekly aggregate")


def dow_weights(
    daily: pd.DataFrame, open_days: pd.DatetimeIndex | None = None
) -> dict[str, list[float]]:
    """Day-of-week weights (Monday first, mean 1) per category, from open days only.

    ``open_days`` are the days the shop traded (default: days with any sale in ``daily``).
    A weekday on which the shop never opens gets weight 0: its zero sales are a closure, not
    a lack of demand, and the simulator must never sell on it.
    """
    if open_days is None:
        open_days = pd.DatetimeIndex(daily.loc[daily["units"] > 0, "period"].unique())
    open_days = pd.DatetimeIndex(open_days).normalize()
    n_open = np.bincount(open_days.dayofweek, minlength=7).astype(float)
    out: dict[str, list[float]] = {}
    for cat, g in daily.groupby("category"):
        g = g[g["period"].isin(open_days)]
        tot = np.bincount(g["period"].dt.dayofweek, weights=g["units"], minlength=7)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_day = np.where(n_open > 0, tot / np.maximum(n_open, 1), 0.0)
        if per_day.sum() <= 0:
            per_day = (n_open > 0).astype(float)
        out[str(cat)] = (per_day / per_day.mean()).round(4).tolist()
    return out


def split_holdout(
    weekly: pd.DataFrame, holdout_weeks: int
) -> tuple[pd.DataFrame, pd.DataFrame, dt.date]:
    """``(train, holdout, t0)``: the final ``holdout_weeks`` periods are held out.

    ``t0`` is the first day after the training data: the day the fitted scenario starts.

    Raises:
        CalibrationError: the history is not longer than the hold-out.
    """
    periods = np.sort(weekly["period"].unique())
    if len(periods) <= holdout_weeks + 4:
        raise CalibrationError(
            f"the history has {len(periods)} weeks; a hold-out of {holdout_weeks} weeks leaves "
            "too little to fit (need at least 5 training weeks); lower --holdout-weeks"
        )
    if holdout_weeks == 0:
        cut = pd.Timestamp(periods[-1]) + pd.Timedelta(days=7)
    else:
        cut = pd.Timestamp(periods[-holdout_weeks])
    train = weekly[weekly["period"] < cut].reset_index(drop=True)
    hold = weekly[weekly["period"] >= cut].reset_index(drop=True)
    return train, hold, cut.date()
