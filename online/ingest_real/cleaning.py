"""Cleaning sales lines: each rule counted, every excluded line quarantined with a reason.

Rules, applied in this order (a line is quarantined by the first rule that matches):

===================  =====================================================================
reason               rule
===================  =====================================================================
missing_identifier   no date or no SKU (or no order id where order ids are mapped)
non_product          the SKU is listed in the mapping's ``non_product_skus`` (postage...)
cancellation         the order id starts with the mapping's ``cancel_prefix``
return               negative quantity (a return or correction)
zero_quantity        quantity 0 or missing
negative_price       unit price below 0
zero_price           unit price exactly 0 (a free line is not a sale at a price)
duplicate            the same line again (every mapped field equal to an earlier line)
suspicious_bulk      flagged by the online order-anomaly scorer
                     (:class:`online.anomaly.OrderAnomalyScorer`): a bulk-abnormal line
                     size, or a burst of lines by one customer (line grain only)
===================  =====================================================================

:func:`shop_calendar` tells closed days (no line at all: the shop did not trade) from
zero-demand days (the shop traded, the SKU did not sell), so calibration never reads a
closure as a lack of demand.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import pandas as pd

from online.anomaly import REASONS, AnomalyConfig, OrderAnomalyScorer
from online.ingest_real.mapping import ImportMapping

__all__ = ["RULES", "CleanResult", "clean_sales", "shop_calendar"]

RULES = (
    "missing_identifier", "non_product", "cancellation", "return", "zero_quantity",
    "negative_price", "zero_price", "duplicate", "suspicious_bulk",
)


@dataclasses.dataclass
class CleanResult:
    """Clean lines, the quarantine (``_file, _row, reason, detail, raw``) and counts."""

    clean: pd.DataFrame
    quarantine: pd.DataFrame
    counts: dict[str, int]
    lines_in: int

    def summary(self) -> dict[str, Any]:
        """Counts per rule, lines in and lines kept (plain JSON)."""
        return {"lines_in": self.lines_in, "lines_clean": len(self.clean),
                "quarantined": len(self.quarantine), "by_rule": dict(self.counts)}


def clean_sales(
    sales: pd.DataFrame, mapping: ImportMapping, anomaly: AnomalyConfig | None = None,
    progress: Any = None,
) -> CleanResult:
    """Apply the rules (see the module docstring) to canonical sales lines."""
    df = sales.reset_index(drop=True)
    n = len(df)
    reason = np.full(n, "", dtype=object)
    detail = np.full(n, "", dtype=object)

    def mark(mask: np.ndarray, rule: str, text: str = "") -> None:
        m = mask & (reason == "")
        reason[m] = rule
        detail[m] = text

    mark((df["date"].isna() | df["sku"].isna()).to_numpy(), "missing_identifier",
         "no date or SKU")
    if "order_id" in df:
        mark(df["order_id"].isna().to_numpy(), "missing_identifier", "no order id")
    if mapping.non_product_skus:
        mark(df["sku"].isin(mapping.non_product_skus).to_numpy(), "non_product",
             "SKU listed as non-product in the mapping")
    if mapping.cancel_prefix and "order_id" in df:
        mark(df["order_id"].fillna("").str.startswith(mapping.cancel_prefix).to_numpy(),
             "cancellation", f"order id starts with {mapping.cancel_prefix!r}")
    q = df["quantity"].to_numpy(dtype=float)
    mark(q < 0, "return", "negative quantity")
    mark(~np.isfinite(q) | (q == 0), "zero_quantity", "quantity 0 or missing")
    if "unit_price" in df:
        p = df["unit_price"].to_numpy(dtype=float)
        mark(p < 0, "negative_price", "unit price < 0")
        mark(p == 0, "zero_price", "unit price 0")
    fields = [c for c in df.columns if not c.startswith("_")]
    alive = reason == ""
    dup = np.zeros(n, dtype=bool)
    dup[alive] = df.loc[alive, fields].duplicated(keep="first").to_numpy()
    mark(dup, "duplicate", "same line as an earlier one")
    if mapping.grain == "line":
        flagged, why = _anomalies(df, reason == "", anomaly, progress)
        for i in np.flatnonzero(flagged):
            if reason[i] == "":
                reason[i] = "suspicious_bulk"
                detail[i] = why[i]
    bad = reason != ""
    quarantine = pd.DataFrame({
        "_file": df["_file"].to_numpy()[bad], "_row": df["_row"].to_numpy()[bad],
        "reason": reason[bad], "detail": detail[bad],
        "raw": [json.dumps({k: _plain(v) for k, v in r.items()})
                for r in df.loc[bad, fields].to_dict(orient="records")],
    })
    counts = {r: int((reason == r).sum()) for r in RULES}
    return CleanResult(df.loc[~bad].reset_index(drop=True), quarantine, counts, n)


def _plain(v: Any) -> Any:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _anomalies(
    df: pd.DataFrame, alive: np.ndarray, cfg: AnomalyConfig | None, progress: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Score live lines day by day with the online scorer; learn only unflagged lines."""
    n = len(df)
    flagged = np.zeros(n, dtype=bool)
    why = np.full(n, "", dtype=object)
    idx_all = np.flatnonzero(alive)
    if idx_all.size == 0:
        return flagged, why
    live = df.iloc[idx_all]
    codes, skus = pd.factorize(live["sku"])
    scorer = OrderAnomalyScorer(cfg)
    scorer.resize(len(skus), np.zeros(len(skus), dtype=np.int64), 1)
    day = live["date"].dt.normalize().to_numpy()
    if "customer_id" in live:
        cust = live["customer_id"].fillna("")
    else:
        cust = pd.Series("", index=live.index)
    units_total = np.zeros(len(skus))
    first_day = np.full(len(skus), np.datetime64("NaT"), dtype="datetime64[ns]")
    days = np.unique(day)
    for k, d in enumerate(days):
        sel = np.flatnonzero(day == d)
        i = codes[sel]
        qty = live["quantity"].to_numpy(dtype=float)[sel]
        seen = ~np.isnat(first_day[i])
        age = np.where(seen, (d - first_day[i]) / np.timedelta64(1, "D") + 1, 1.0)
        demand = np.where(seen, units_total[i] / age, 0.0)
        c = cust.to_numpy()[sel]
        burst = (pd.DataFrame({"c": c, "i": i}).groupby(["c", "i"]).cumcount().to_numpy() + 1.0)
        burst = np.where(c == "", 0.0, burst)
        nan = np.full(sel.size, np.nan)
        score, rcode = scorer.score_many(i, qty, nan, nan, demand, burst)
        bad = score >= 1.0
        flagged[idx_all[sel[bad]]] = True
        why[idx_all[sel[bad]]] = [f"{REASONS[r]} score {s:.1f}" for r, s in
                                  zip(rcode[bad], score[bad], strict=True)]
        ok = ~bad
        scorer.learn_many(i[ok], qty[ok])
        np.add.at(units_total, i[ok], qty[ok])
        new = np.isnat(first_day[i])
        first_day[i[new]] = d
        if progress is not None:
            progress(k + 1, len(days))
    return flagged, why


def shop_calendar(lines: pd.DataFrame, clean: pd.DataFrame) -> dict[str, Any]:
    """Open and closed days, and zero-demand SKU-days on open days (plain JSON).

    ``lines`` are all lines with a date (a day with any line, even a cancellation, is a
    trading day); ``clean`` the clean lines. A SKU's zero-demand days are open days between
    its first and last clean sale with no sale.
    """
    dates = lines["date"].dropna().dt.normalize()
    if dates.empty:
        return {"days": 0, "open_days": 0, "closed_days": 0, "closed_weekdays": [],
                "zero_demand_sku_days": 0, "sku_days_with_sales": 0}
    all_days = pd.date_range(dates.min(), dates.max(), freq="D")
    open_days = pd.DatetimeIndex(dates.unique()).sort_values()
    closed = all_days.difference(open_days)
    by_dow = np.bincount(closed.dayofweek, minlength=7)
    open_dow = np.bincount(open_days.dayofweek, minlength=7)
    names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    cd = clean["date"].dt.normalize()
    sold = pd.DataFrame({"sku": clean["sku"], "day": cd}).drop_duplicates()
    pos = open_days.searchsorted(sold["day"].to_numpy())
    span = sold.assign(pos=pos).groupby("sku")["pos"].agg(["min", "max", "count"])
    open_in_span = int((span["max"] - span["min"] + 1).sum())
    return {
        "days": len(all_days),
        "open_days": len(open_days),
        "closed_days": len(closed),
        "closed_weekdays": [names[d] for d in range(7) if open_dow[d] == 0 and by_dow[d] > 0],
        "closed_other_days": [str(x.date()) for x in closed if open_dow[x.dayofweek] > 0],
        "sku_days_with_sales": int(span["count"].sum()),
        "zero_demand_sku_days": open_in_span - int(span["count"].sum()),
    }
