"""From clean, canonical frames to the calibration's sales panel.

:func:`build_panel` aggregates clean sales lines per series and period (a day for line and
day grain, the week for weekly data), joins list prices, promotion flags, stock-outs
(a stock snapshot of 0 at the end of a period marks that period ``censored``) and
categories, keeps the ``top`` series by units if asked, and returns the weekly panel with
day-of-week weights estimated from open days (daily data) — see
:mod:`envs.calibration.panel` for the panel's columns.
"""

from __future__ import annotations

import pandas as pd

from envs.calibration.panel import dow_weights, validate_panel, weekly_from_daily
from online.ingest_real.mapping import ImportMapping

__all__ = ["build_panel", "series_ids"]


def series_ids(df: pd.DataFrame, mapping: ImportMapping) -> pd.Series:
    """The series id of every row: the SKU, or ``"<sku>@<location>"`` by location."""
    if mapping.series_by_location and "location" in df:
        return df["sku"].astype(str) + "@" + df["location"].fillna("-").astype(str)
    return df["sku"].astype(str)


def _period(dates: pd.Series, mapping: ImportMapping) -> pd.Series:
    d = dates.dt.normalize()
    if mapping.grain == "week" and mapping.week_date_is == "end":
        return d - pd.Timedelta(days=6)
    return d


def build_panel(
    mapping: ImportMapping,
    sales: pd.DataFrame,
    prices: pd.DataFrame | None = None,
    promotions: pd.DataFrame | None = None,
    stock: pd.DataFrame | None = None,
    products: pd.DataFrame | None = None,
    top: int | None = None,
    open_days: pd.DatetimeIndex | None = None,
) -> tuple[pd.DataFrame, dict[str, list[float]] | None]:
    """``(weekly panel, day-of-week weights or None)`` from clean frames."""
    s = sales.assign(series=series_ids(sales, mapping), period=_period(sales["date"], mapping))
    price = s["unit_price"] if "unit_price" in s else pd.Series(float("nan"), index=s.index)
    s = s.assign(_rev=price * s["quantity"], _pq=price.notna() * s["quantity"])
    agg = s.groupby(["series", "period"]).agg(
        sku=("sku", "first"), units=("quantity", "sum"), _rev=("_rev", "sum"),
        _pq=("_pq", "sum"),
    ).reset_index()
    agg["price"] = (agg["_rev"] / agg["_pq"]).where(agg["_pq"] > 0)
    agg = agg.drop(columns=["_rev", "_pq"])
    if top is not None:
        keep = agg.groupby("series")["units"].sum().nlargest(top).index
        agg = agg[agg["series"].isin(keep)]
    for extra, cols in ((prices, ["list_price"]),
                        (promotions, ["feature", "display", "tpr", "discount"])):
        if extra is None or extra.empty:
            continue
        e = extra.assign(series=series_ids(extra, mapping), period=_period(extra["date"], mapping))
        have = [c for c in cols if c in e]
        e = e.groupby(["series", "period"])[have].max().reset_index()
        agg = agg.merge(e, on=["series", "period"], how="left")
    if "discount" in agg and "list_price" in agg:
        fill = agg["list_price"] * (1 - agg["discount"].fillna(0))
        agg["price"] = agg["price"].fillna(fill)
    agg["censored"] = False
    if stock is not None and not stock.empty:
        st = stock.assign(series=series_ids(stock, mapping), period=_period(stock["date"], mapping))
        out = st[st["on_hand"] <= 0][["series", "period"]].drop_duplicates()
        out = out[out["series"].isin(agg["series"])]
        out["_out"] = True
        # A sold-out period with no sale still is a (censored) observation: keep it.
        agg = agg.merge(out, on=["series", "period"], how="outer")
        agg["units"] = agg["units"].fillna(0.0)
        agg["sku"] = agg["sku"].fillna(agg.groupby("series")["sku"].transform("first"))
        agg["censored"] = agg["_out"].eq(True)
        agg = agg.drop(columns=["_out"])
    cat = pd.Series(mapping.default_category, index=agg.index)
    if products is not None and "category" in products:
        cmap = products.dropna(subset=["sku"]).drop_duplicates("sku").set_index("sku")["category"]
        cat = agg["sku"].map(cmap).fillna(mapping.default_category)
    agg["category"] = cat
    agg = agg.drop(columns=["sku", "discount"], errors="ignore")
    panel = validate_panel(agg, f"mapping {mapping.name}")
    if mapping.grain == "week":
        return panel, None
    weights = dow_weights(panel, open_days)
    return weekly_from_daily(panel, week_start_dow=0), weights
