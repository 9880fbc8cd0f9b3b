"""From imported history to this morning's numbers: daily sales, averages, book stock, orders.

Pure functions over pandas frames and numpy arrays (no database), used by
:class:`tools.real_shop.SqlShop`:

* :func:`daily_sales` — units per series and calendar day; weekly rows are spread evenly over
  the week's seven days;
* :func:`sales_averages` — the simulator's exponential averages (``alpha = 2/8`` and
  ``2/29``) over the days before a date, started at the mean of the window's first 28 days;
  only days up to the last imported sale count (a day not yet imported is unknown, not zero);
* :func:`book_stock` — the last stock snapshot (end of day) plus receipts minus sales since;
  a series without a snapshot starts from an assumed opening stock on the day before day 0;
* :func:`open_orders` — what each restock line still has to deliver: its quantity minus the
  receipts that name it (``po_id`` equal to its idempotency key), then minus unlinked receipts
  of the series dated on or after it, oldest order first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["A7", "A28", "book_stock", "daily_sales", "open_orders", "sales_averages"]

A7 = 2.0 / 8.0
A28 = 2.0 / 29.0


def daily_sales(sales: pd.DataFrame, series: Sequence[str], grain: str,
                week_date_is: str = "end") -> pd.DataFrame:
    """Units per day (rows: dates, normalised; columns: ``series`` in order; zeros filled)."""
    cols = list(series)
    if sales.empty:
        return pd.DataFrame(columns=cols, dtype=float)
    d = sales.assign(day=sales["date"].dt.normalize())
    g = d.groupby(["day", "series"])["quantity"].sum()
    if grain == "week":
        parts = []
        for k in range(7):
            shift = -k if week_date_is == "end" else k
            s = g.copy() / 7.0
            s.index = s.index.set_levels(s.index.levels[0] + pd.Timedelta(days=shift), level=0)
            parts.append(s)
        g = pd.concat(parts).groupby(level=[0, 1]).sum()
    wide = g.unstack("series").reindex(columns=cols).fillna(0.0)
    full = pd.date_range(wide.index.min(), wide.index.max(), freq="D")
    return wide.reindex(full).fillna(0.0)


def sales_averages(
    daily: pd.DataFrame, before: dt.date, known_through: dt.date | None, window: int = 120
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ema7, ema28, last_sales)`` per series from the days before ``before``.

    Only days up to ``known_through`` (the last day with imported sales) are read; the
    averages start at the mean of the window's first 28 days. ``last_sales`` is the last
    known day's units (0 when that day is not the day before ``before``).
    """
    n = daily.shape[1]
    end = pd.Timestamp(before) - pd.Timedelta(days=1)
    if known_through is not None:
        end = min(end, pd.Timestamp(known_through))
    start = end - pd.Timedelta(days=window - 1)
    x = daily.loc[(daily.index >= start) & (daily.index <= end)].to_numpy(dtype=float)
    if x.shape[0] == 0:
        return np.zeros(n), np.zeros(n), np.zeros(n)
    e7 = x[:28].mean(axis=0)
    e28 = e7.copy()
    for row in x:
        e7 += A7 * (row - e7)
        e28 += A28 * (row - e28)
    last = x[-1] if end == pd.Timestamp(before) - pd.Timedelta(days=1) else np.zeros(n)
    return e7, e28, last.copy()


def book_stock(
    series: Sequence[str],
    before: dt.date,
    known_through: dt.date | None,
    daily: pd.DataFrame,
    stock: pd.DataFrame | None,
    receipts: pd.DataFrame | None,
    opening: np.ndarray,
    origin: dt.date,
) -> tuple[np.ndarray, np.ndarray]:
    """``(on_hand, has_snapshot)`` on the morning of ``before`` (see the module docstring).

    ``opening`` is the assumed stock at the end of the day before ``origin`` for series
    without a snapshot; book stock is clipped at 0 (sales beyond it were not recorded stock).
    """
    n = len(series)
    pos = {s: i for i, s in enumerate(series)}
    base = opening.astype(float).copy()
    since = np.full(n, pd.Timestamp(origin) - pd.Timedelta(days=1))
    has = np.zeros(n, dtype=bool)
    last_day = pd.Timestamp(before) - pd.Timedelta(days=1)
    if stock is not None and not stock.empty:
        st = stock[stock["date"].dt.normalize() <= last_day].sort_values("date")
        for s, row in st.groupby("series").tail(1).set_index("series").iterrows():
            if s in pos:
                i = pos[s]
                base[i] = float(row["on_hand"])
                since[i] = row["date"].normalize()
                has[i] = True
    sold_end = last_day if known_through is None else min(last_day, pd.Timestamp(known_through))
    out = base.copy()
    idx = daily.index
    for i, s in enumerate(series):
        if s in daily.columns:
            sel = (idx > since[i]) & (idx <= sold_end)
            out[i] -= float(daily.loc[sel, s].sum())
    if receipts is not None and not receipts.empty:
        rc = receipts[receipts["date"].dt.normalize() <= last_day]
        for s, d, q in zip(rc["series"], rc["date"].dt.normalize(), rc["quantity"], strict=True):
            i = pos.get(s)
            if i is not None and d > since[i]:
                out[i] += float(q)
    return np.maximum(out, 0.0), has


def open_orders(
    orders: Sequence[dict[str, Any]], receipts: pd.DataFrame | None, before: dt.date
) -> list[dict[str, Any]]:
    """Each restock order with ``open`` (units still to arrive) on the morning of ``before``.

    ``orders``: dicts with ``key``, ``series``, ``date``, ``quantity`` (oldest first).
    """
    left = {o["key"]: float(o["quantity"]) for o in orders}
    if receipts is not None and not receipts.empty:
        last_day = pd.Timestamp(before) - pd.Timedelta(days=1)
        rc = receipts[receipts["date"].dt.normalize() <= last_day]
        linked = rc[rc["po_id"].isin(left)] if "po_id" in rc else rc.iloc[0:0]
        for key, q in zip(linked["po_id"], linked["quantity"], strict=True):
            left[key] = max(0.0, left[key] - float(q))
        free = rc.drop(linked.index).sort_values("date")
        for s, d, q in zip(free["series"], free["date"].dt.normalize(), free["quantity"],
                           strict=True):
            q = float(q)
            for o in orders:
                if q <= 0:
                    break
                if o["series"] == s and pd.Timestamp(o["date"]) <= d and left[o["key"]] > 0:
                    take = min(q, left[o["key"]])
                    left[o["key"]] -= take
                    q -= take
    return [{**o, "open": left[o["key"]]} for o in orders if left[o["key"]] > 0]
