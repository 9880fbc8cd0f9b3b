"""Accuracy on real history: the hub against seasonal-naive and a rolling AutoETS.

Both datasets are read from the folder given (``../shared/data`` by convention, never
copied into the repository; see its README). Evaluation is progressive: at each forecast
origin every method forecasts from what it has seen so far, then the hub learns the
following periods event by event, in time order.

* **dunnhumby "Breakfast at the Frat"** (weekly, ``batf/``): ``n_series`` store x product
  series sampled (seeded) among those with at least 100 weeks of rows; periods are weeks;
  the hub gets each week's sales as order events and, before the week, its shelf price,
  base price and feature/display flags as promotion and price events (a retailer knows its
  promotion calendar; AutoETS cannot use it). One-week-ahead forecasts at every week
  from week 52; AutoETS is refit every week on the last 104 weeks.
* **UCI Online Retail** (daily, ``uci_online_retail/``): ``n_series`` products sampled
  (seeded) among those sold on at least 150 days; cancellations (invoice ``C...``) and
  non-positive quantities are not sales and are left out (counted). Each order line is an
  event (so the anomaly scorer sees wholesale-size lines). Forecasts for days 1-7 ahead
  from weekly origins from day 140; AutoETS (season 7) is refit at each origin on the last
  112 days.

Scores: WAPE over all series and forecast points, MASE per series (scale: in-sample
seasonal-naive MAE before the first origin, m = 7 daily and m = 1 weekly) averaged over
series with a non-zero scale; seasonal-naive repeats the last season (last week's same
weekday; last week for weekly data). Times: the hub's (event ingestion, learning and
forecasts) and AutoETS's (fits and forecasts), both on one core.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np

from online.errors import IngestError

__all__ = ["evaluate_real_data", "real_data_table"]


@dataclasses.dataclass
class _Result:
    y: np.ndarray  # (points, series) actuals at scored points
    hub: np.ndarray
    ets: np.ndarray
    naive: np.ndarray
    scale: np.ndarray  # (series,)
    hub_s: float
    ets_s: float
    n_events: int
    notes: str


def _scores(r: _Result, name: str, n_series: int) -> dict[str, Any]:
    den = max(float(r.y.sum()), 1e-9)
    ok = r.scale > 0
    row: dict[str, Any] = {"dataset": name, "series": n_series, "points": int(r.y.size)}
    for key, f in (("hub", r.hub), ("autoets", r.ets), ("seasonal_naive", r.naive)):
        row[f"wape_{key}"] = float(np.abs(r.y - f).sum() / den)
        mae = np.mean(np.abs(r.y - f), axis=0)
        row[f"mase_{key}"] = float(np.mean(mae[ok] / r.scale[ok]))
    row["mase_series"] = int(ok.sum())
    row["seconds_hub"] = r.hub_s
    row["seconds_autoets"] = r.ets_s
    row["events"] = r.n_events
    row["within_10pct_of_autoets"] = bool(
        row["wape_hub"] <= 1.1 * row["wape_autoets"]
        and row["mase_hub"] <= 1.1 * row["mase_autoets"]
    )
    row["notes"] = r.notes
    return row


def _ets_forecast(y: np.ndarray, h: int, season: int) -> np.ndarray:
    from statsforecast.models import AutoETS

    if y.size < 2 * season + 2 or not np.any(y):
        return np.full(h, float(y[-season:].mean()) if y.size else 0.0)
    try:
        out = AutoETS(season_length=season).forecast(y=y.astype(float), h=h)["mean"]
    except Exception:  # a fit that fails falls back to the mean, as a forecaster would
        out = np.full(h, float(y.mean()))
    return np.maximum(np.asarray(out, dtype=float), 0.0)


# ---------------------------------------------------------------------- dunnhumby
def _dunnhumby(root: Path, n_series: int, seed: int, console) -> dict[str, Any]:
    import pandas as pd

    from online.events import PriceChange, PromotionChange, SaleEvent
    from online.hub import SignalHub

    tx = pd.read_parquet(root / "batf" / "transactions.parquet")
    products = pd.read_csv(root / "batf" / "products.csv", dtype={"upc_id": str})
    tx["upc_id"] = tx["upc_id"].astype(str)
    tx["store_id"] = tx["store_id"].astype(str)
    weeks = np.sort(tx["week_end_date"].unique())
    wk = {w: k for k, w in enumerate(weeks)}
    tx["w"] = tx["week_end_date"].map(wk)
    tx["sid"] = tx["store_id"] + "-" + tx["upc_id"]
    counts = tx.groupby("sid").size()
    pool = np.array(sorted(counts[counts >= 100].index))
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(pool, size=min(n_series, pool.size), replace=False).tolist())
    tx = tx[tx["sid"].isin(chosen)]
    cat_of = dict(zip(products["upc_id"], products["category"], strict=False))
    T, S = len(weeks), len(chosen)
    col = {s: k for k, s in enumerate(chosen)}
    Y = np.zeros((T, S))
    price = np.full((T, S), np.nan)
    base = np.full((T, S), np.nan)
    feat = np.zeros((T, S))
    disp = np.zeros((T, S))
    for r in tx.itertuples(index=False):
        t, s = r.w, col[r.sid]
        Y[t, s] = r.units
        price[t, s], base[t, s] = r.price, r.base_price
        feat[t, s], disp[t, s] = r.feature, r.display
    first = 52
    hub = SignalHub({"forecaster": {"season_length": 1}})
    hub.register_skus(chosen, [cat_of.get(s.split("-", 1)[1]) for s in chosen], None)
    preds = np.zeros((T - first, S))
    n_events = 0
    last_base = np.full(S, np.nan)
    t0 = time.perf_counter()
    for t in range(T):
        pre = []
        for s in range(S):
            b, p = base[t, s], price[t, s]
            if np.isfinite(b) and b > 0 and b != last_base[s]:
                pre.append(PriceChange(event_id=f"p{t}:{s}", sku=chosen[s], day=t, list_price=b))
                last_base[s] = b
            d = 0.0
            if np.isfinite(b) and np.isfinite(p) and b > 0:
                d = float(np.clip(1 - p / b, 0.0, 0.95))
            if d > 0.01 or feat[t, s] or disp[t, s]:
                pre.append(
                    PromotionChange(
                        event_id=f"m{t}:{s}",
                        sku=chosen[s],
                        day=t,
                        discount=d if d > 0.01 else 0.0,
                        duration_days=1,
                        feature=bool(feat[t, s]),
                        display=bool(disp[t, s]),
                    )
                )
        hub.update(pre)
        if t >= first:
            fa = hub.forecast_all(1)
            preds[t - first] = fa["mean"][:, 0]
        sales = [
            SaleEvent(event_id=f"s{t}:{s}", sku=chosen[s], day=t, quantity=float(Y[t, s]))
            for s in np.flatnonzero(Y[t] > 0).tolist()
        ]
        hub.update(sales, close_through=t)
        n_events += len(pre) + len(sales)
    hub_s = time.perf_counter() - t0
    ets = np.zeros_like(preds)
    t0 = time.perf_counter()
    for t in range(first, T):
        for s in range(S):
            ets[t - first, s] = _ets_forecast(Y[max(0, t - 104) : t, s], 1, 1)[0]
        if console is not None and (t - first) % 13 == 0:
            console.log(f"dunnhumby AutoETS: week {t}/{T}")
    ets_s = time.perf_counter() - t0
    naive = Y[first - 1 : T - 1]
    scale = np.mean(np.abs(np.diff(Y[:first], axis=0)), axis=0)
    res = _Result(
        Y[first:],
        preds,
        ets,
        naive,
        scale,
        hub_s,
        ets_s,
        n_events,
        f"{S} of {pool.size} store-product series with >=100 weeks, weeks "
        f"{first}-{T - 1}, 1 week ahead",
    )
    return _scores(res, "dunnhumby weekly", S)


# ---------------------------------------------------------------------- UCI
def _uci(root: Path, n_series: int, seed: int, console) -> dict[str, Any]:
    import pandas as pd

    from online.events import SaleEvent
    from online.hub import SignalHub

    df = pd.read_parquet(root / "uci_online_retail" / "online_retail.parquet")
    total = len(df)
    sales = df[~df["InvoiceNo"].astype(str).str.startswith("C") & (df["Quantity"] > 0)].copy()
    left_out = total - len(sales)
    start = sales["InvoiceDate"].min().normalize()
    sales["d"] = (sales["InvoiceDate"].dt.normalize() - start).dt.days
    days_sold = sales.groupby("StockCode")["d"].nunique()
    pool = np.array(sorted(days_sold[days_sold >= 150].index.astype(str)))
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(pool, size=min(n_series, pool.size), replace=False).tolist())
    sales["StockCode"] = sales["StockCode"].astype(str)
    sales = sales[sales["StockCode"].isin(chosen)].sort_values("InvoiceDate", kind="stable")
    T = int(sales["d"].max()) + 1
    S = len(chosen)
    col = {s: k for k, s in enumerate(chosen)}
    Y = np.zeros((T, S))
    np.add.at(
        Y,
        (sales["d"].to_numpy(), sales["StockCode"].map(col).to_numpy()),
        sales["Quantity"].to_numpy(dtype=float),
    )
    by_day: dict[int, list[SaleEvent]] = {}
    for k, r in enumerate(sales.itertuples(index=False)):
        by_day.setdefault(int(r.d), []).append(
            SaleEvent(
                event_id=f"{r.InvoiceNo}:{k}",
                sku=r.StockCode,
                day=int(r.d),
                category="gifts",
                quantity=float(r.Quantity),
                unit_price=float(r.UnitPrice) if r.UnitPrice > 0 else None,
                order_id=str(r.InvoiceNo),
                customer_id=None if np.isnan(r.CustomerID) else str(int(r.CustomerID)),
            )
        )
    first_dow = int(start.dayofweek)
    hub = SignalHub({"forecaster": {"season_length": 7, "first_dow": first_dow}})
    hub.register_skus(chosen, ["gifts"] * S, None)
    H, first = 7, 140
    origins = list(range(first, T - H + 1, H))
    preds = np.zeros((len(origins) * H, S))
    n_events = 0
    t0 = time.perf_counter()
    k = 0
    for t in range(T):
        if k < len(origins) and t == origins[k]:
            fa = hub.forecast_all(H)
            cols = np.array([col[s] for s in fa["sku_ids"]])
            preds[k * H : (k + 1) * H, cols] = fa["mean"].T
            k += 1
        batch = by_day.get(t, [])
        n_events += len(batch)
        hub.update(batch, close_through=t)
    hub_s = time.perf_counter() - t0
    ets = np.zeros_like(preds)
    t0 = time.perf_counter()
    for k, o in enumerate(origins):
        for s in range(S):
            ets[k * H : (k + 1) * H, s] = _ets_forecast(Y[max(0, o - 112) : o, s], H, 7)
        if console is not None and k % 8 == 0:
            console.log(f"UCI AutoETS: origin {k + 1}/{len(origins)}")
    ets_s = time.perf_counter() - t0
    y = np.concatenate([Y[o : o + H] for o in origins])
    naive = np.concatenate([Y[o - 7 : o - 7 + H] for o in origins])
    scale = np.mean(np.abs(Y[7:first] - Y[: first - 7]), axis=0)
    flagged = hub.totals["flagged_lines"]
    res = _Result(
        y,
        preds,
        ets,
        naive,
        scale,
        hub_s,
        ets_s,
        n_events,
        f"{S} of {pool.size} products sold on >=150 days; {left_out:,} of {total:,} "
        f"lines are cancellations/returns (not sales); {len(origins)} weekly origins "
        f"from day {first}, days 1-7 ahead; {flagged} order lines flagged as "
        "anomalous (kept out of the hub's training)",
    )
    return _scores(res, "UCI online retail daily", S)


def evaluate_real_data(
    root: str | Path, n_series: int = 60, seed: int = 0, console: Any = None
) -> list[dict[str, Any]]:
    """Score both datasets (see the module docstring); one dict of figures per dataset.

    Raises:
        IngestError: ``root`` does not hold the expected files.
    """
    root = Path(root)
    need = [
        root / "batf" / "transactions.parquet",
        root / "batf" / "products.csv",
        root / "uci_online_retail" / "online_retail.parquet",
    ]
    missing = [str(p) for p in need if not p.exists()]
    if missing:
        raise IngestError(
            f"real data not found: {', '.join(missing)}; pass the folder holding batf/ and "
            "uci_online_retail/ (../shared/data in the project layout)"
        )
    if n_series < 1:
        raise IngestError(f"n_series must be >= 1; got {n_series}")
    return [_dunnhumby(root, n_series, seed, console), _uci(root, n_series, seed, console)]


def real_data_table(rows: list[dict[str, Any]]):
    """A rich table of :func:`evaluate_real_data` results."""
    from rich.table import Table

    t = Table(title="Real history, progressive evaluation (hub vs seasonal-naive vs AutoETS)")
    for c in (
        "dataset",
        "series",
        "WAPE hub",
        "WAPE AutoETS",
        "WAPE s-naive",
        "MASE hub",
        "MASE AutoETS",
        "MASE s-naive",
        "hub s",
        "AutoETS s",
        "within 10%",
    ):
        t.add_column(c, justify="left" if c == "dataset" else "right")
    for r in rows:
        t.add_row(
            r["dataset"],
            str(r["series"]),
            f"{r['wape_hub']:.3f}",
            f"{r['wape_autoets']:.3f}",
            f"{r['wape_seasonal_naive']:.3f}",
            f"{r['mase_hub']:.3f}",
            f"{r['mase_autoets']:.3f}",
            f"{r['mase_seasonal_naive']:.3f}",
            f"{r['seconds_hub']:.1f}",
            f"{r['seconds_autoets']:.1f}",
            "yes" if r["within_10pct_of_autoets"] else "[red]NO[/red]",
        )
    t.caption = " | ".join(f"{r['dataset']}: {r['notes']}" for r in rows)
    return t
