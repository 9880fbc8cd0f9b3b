"""The real-data backend: a :class:`~tools.shop.Shop` over imported history and an outbox.

:class:`SqlShop` reads a shop's history from the store (``shopops import``, see
:mod:`agent.store.realdata`) and writes its actions to the **outbox**, from which the
merchant exports them and confirms what was done (``shopops outbox``). It reaches the store
only through :class:`RealShopData`, a small protocol defined here; the agent passes
:class:`agent.store.realdata_io.StoreShopData`, which implements it over its tables.

Calendar: day 0 is the shop's ``start_date`` or, by default, the day after the last
imported sale (or the twin's first day if that is later: a calibrated twin starts on the
Monday after its last full week); it is fixed the first time the shop is opened
(``real_shop_state.origin``).
:meth:`SqlShop.close_day` advances the open day by one. The agent decides the open day.

This morning's view (the open day ``d``, date ``D``), per SKU (imported series):

* ``on_hand``: book stock (:func:`tools.real_history.book_stock`): last snapshot + receipts
  - sales since; where no snapshot exists, an assumed opening stock of
  ``opening_stock_days`` x the 28-day sales average at day 0;
* ``on_order``: restock lines in the outbox (pending, exported or executed, not failed) not
  yet covered by receipts (:func:`tools.real_history.open_orders`). Lines the merchant has
  not confirmed yet count: they are on their way to being placed, and counting them stops
  the agent from ordering the same units again;
* ``sales_ema7``, ``sales_ema28``, ``last_sales``: the simulator's averages of daily sales
  (weekly data spread over its days) up to the last imported sale;
* ``list_price``: the last imported list price, else the units-weighted unit price of the
  last 28 days with sales (else of all), else the twin's price;
* ``unit_cost``: the products table's ``unit_cost``, else list price x (1 - ``default_margin``)
  (the documented default margin, 0.3);
* ``discount``, ``promo_left``, ``promo_streak``: from promotion lines in the outbox;
* ``lead_time``: ``lead_time_days`` or its per-series / per-category override;
* ``days_to_festival`` 365 (no known events), no perishables, no backlog.

What-if: with a ``twin`` (a calibrated scenario whose SKUs are the shop's series) the plan is
simulated on forks of the twin after its state is set to this morning's view (stock, open
orders arriving after their remaining lead time, promotions, averages) at the twin's day for
``D``. Without a twin, :meth:`SqlShop.what_if` returns ``None`` and
:attr:`SqlShop.whatif_unavailable` says why (decision cards then carry no effect).

Policies still need a simulator for the catalogue and calendar: :attr:`SqlShop.sim` is the
twin, or a *catalogue simulator* built from the store (prices, costs, categories, 28-day
averages as base demand, the shop's lead time); it is synced like the twin but never used for
what-if, because nothing was calibrated.

Idempotency: :meth:`SqlShop.execute` inserts one outbox row per key; a key already there is a
no-op that reports ``duplicate``. :meth:`SqlShop.execute_in_session` does the same inside the
caller's transaction (the agent's executor uses it, so the outbox row and the agent's
execution record commit together).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from envs.plan import PlanArrays
from envs.simulator import MarketSimulator, ShopView
from tools.actions import ACTION_KINDS
from tools.errors import ShopBackendError
from tools.real_shop_config import RealShopConfig, load_shop_config, mapping_ref, resolve
from tools.shop import WhatIf

__all__ = ["RealShopData", "SqlShop"]

_LIVE = ("pending", "exported", "executed")


class RealShopData(Protocol):
    """What :class:`SqlShop` needs from the store holding a real shop's history and outbox.

    Reads (every method without a ``session``) must never wait on the store's writer: the
    shop reads while the agent's nodes hold a write transaction. Methods taking a
    ``session`` run inside the caller's transaction (from :meth:`session`).
    """

    #: The store's URL with any password hidden, for messages.
    safe_url: str

    def session(self) -> contextlib.AbstractContextManager[Any]:
        """A write transaction, committed on exit."""
        ...

    def series_units(self, source: str) -> dict[str, float]:
        """Units sold per imported series of ``source`` (empty: nothing imported)."""
        ...

    def read_frames(self, source: str, series: list[str]) -> dict[str, Any]:
        """The canonical history frames of ``series`` (sales, prices, stock, ...)."""
        ...

    def shop_calendar(self, shop_id: str, source: str, origin: dt.date) -> tuple[dt.date, int]:
        """The shop's (origin, open day); created with ``origin`` and day 0 when absent."""
        ...

    def open_day(self, shop_id: str) -> int:
        """The shop's open day as last committed."""
        ...

    def lock_open_day(self, session: Any, shop_id: str) -> int:
        """The shop's open day, locked for update in ``session``."""
        ...

    def set_open_day(self, session: Any, shop_id: str, day: int) -> None:
        """Set the shop's open day in ``session``."""
        ...

    def outbox_lines(self, shop_id: str, kind: str, statuses: tuple[str, ...]
                     ) -> list[tuple[str, str, int, dt.date, dict[str, Any]]]:
        """Outbox lines ``(key, series, day, date, params)`` of one kind, oldest first."""
        ...

    def outbox_add(self, session: Any, row: dict[str, Any]) -> bool:
        """Insert an outbox row in ``session``; False (nothing written) when its key exists."""
        ...


@dataclasses.dataclass
class _History:
    """The shop's imported history for its series (frames) and derived tables."""

    frames: dict[str, Any]
    daily: Any
    known_through: dt.date | None


class SqlShop:
    """A real shop over the store (see the module docstring).

    Args:
        data: the store holding the history and the outbox (:class:`RealShopData`).
        config: the shop's definition.
        base: the shop file's folder (relative paths in ``config`` are read from there).
        run_id: the agent run executing through this shop (recorded on outbox rows).
    """

    backend = "sql"

    def __init__(self, data: RealShopData, config: RealShopConfig, base: Path,
                 run_id: str | None = None) -> None:
        from online.ingest_real.mapping import load_mapping

        self.data = data
        self.config = config
        self.base = Path(base)
        self.run_id = run_id
        self.shop_id = config.name
        self.mapping = load_mapping(mapping_ref(config, self.base))
        self.source = self.mapping.name
        self.twin: MarketSimulator | None = None
        self.whatif_unavailable: str | None = None
        series = self._select_series()
        self._hist = self._load_history(series)
        self._origin, self._day = self._calendar()
        self.sku_ids: tuple[str, ...] = tuple(series)
        self.sku_index: dict[str, int] = {s: i for i, s in enumerate(series)}
        self._prices_cost()
        if self.twin is None:
            self._order_by_category()
            self.sim = self._catalogue_sim()
            self.whatif_unavailable = (
                f"shop {self.shop_id} has no calibrated twin (set twin: in its shop file; "
                "see shopops calibrate --from)"
            )
        else:
            self.sim = self.twin
        if tuple(self.sim.sku_ids) != self.sku_ids:  # pragma: no cover - a bug guard
            raise ShopBackendError(f"shop {self.shop_id}: the simulator's SKU order differs")
        c = self.sim.catalog
        self.category_names: tuple[str, ...] = tuple(c.category_names)
        self.supplier_names: tuple[str, ...] = tuple(c.supplier_names)
        self.warehouse_capacity: float | None = config.warehouse_capacity
        self._view_cache: tuple[int, ShopView, list[dict[str, Any]]] | None = None

    @classmethod
    def open(cls, data: RealShopData, ref: str | Path, run_id: str | None = None) -> SqlShop:
        """The shop defined by the shop file ``ref`` (a path or an ``examples/`` name)."""
        cfg, base = load_shop_config(ref)
        return cls(data, cfg, base, run_id)

    # ------------------------------------------------------------------ loading
    def _select_series(self) -> list[str]:
        twin_path = resolve(self.base, self.config.twin)
        units = self.data.series_units(self.source)
        if not units:
            raise ShopBackendError(
                f"shop {self.shop_id}: the store {self.data.safe_url} holds no sales for "
                f"source {self.source!r}; import them first: shopops import --mapping "
                f"{self.config.mapping} --data PATH --db {self.data.safe_url}"
            )
        if twin_path is not None:
            if not Path(twin_path).is_file():
                raise ShopBackendError(
                    f"shop {self.shop_id}: twin scenario {twin_path} does not exist; write it "
                    "with shopops calibrate --from DB --out FILE, or remove twin:"
                )
            self.twin = MarketSimulator.from_scenario(twin_path, seed=0)
            series = list(self.twin.sku_ids)
            missing = [x for x in series if x not in units]
            if missing:
                raise ShopBackendError(
                    f"shop {self.shop_id}: twin {twin_path} has SKUs with no imported sales "
                    f"in source {self.source!r}: {missing[:5]}; recalibrate from this store"
                )
            return series
        sel = self.config.skus
        if sel.series is not None:
            missing = [x for x in sel.series if x not in units]
            if missing:
                raise ShopBackendError(
                    f"shop {self.shop_id}: skus.series names series with no imported sales "
                    f"in source {self.source!r}: {missing[:5]}"
                )
            return list(sel.series)
        ranked = sorted(units.items(), key=lambda kv: (-kv[1], kv[0]))
        return [k for k, _ in ranked[: sel.top]]

    def _load_history(self, series: list[str]) -> _History:
        from tools.real_history import daily_sales

        frames = self.data.read_frames(self.source, series)
        daily = daily_sales(frames["sales"], series, self.mapping.grain, self.mapping.week_date_is)
        last = frames["sales"]["date"].max()
        known = None if last is None or last != last else last.date()
        if known is not None and self.mapping.grain == "week" and \
                self.mapping.week_date_is == "start":
            known = known + dt.timedelta(days=6)
        return _History(frames, daily, known)

    def _calendar(self) -> tuple[dt.date, int]:
        origin = self.config.start_date or (
            (self._hist.known_through or dt.date.today()) + dt.timedelta(days=1)
        )
        if self.config.start_date is None and self.twin is not None:
            origin = max(origin, self.twin.spec.start_date)  # the twin's first day
        return self.data.shop_calendar(self.shop_id, self.source, origin)

    def _prices_cost(self) -> None:
        import pandas as pd

        n = len(self.sku_ids)
        f = self._hist.frames
        price = np.full(n, np.nan)
        sales = f["sales"]
        if "unit_price" in sales:
            ok = sales.dropna(subset=["unit_price"])
            for i, s in enumerate(self.sku_ids):
                g = ok[ok["series"] == s]
                if g.empty:
                    continue
                recent = g[g["date"] >= g["date"].max() - pd.Timedelta(days=27)]
                price[i] = float((recent["unit_price"] * recent["quantity"]).sum()
                                 / recent["quantity"].sum())
        if "prices" in f:
            last = f["prices"].sort_values("date").groupby("series").tail(1)
            for s, p in zip(last["series"], last["list_price"], strict=True):
                if s in self.sku_index and p == p:
                    price[self.sku_index[s]] = float(p)
        if self.twin is not None:
            twin_price = np.asarray(self.twin.catalog.price, dtype=float)
            price = np.where(np.isfinite(price), price, twin_price)
        bad = [self.sku_ids[i] for i in np.flatnonzero(~np.isfinite(price) | (price <= 0))]
        if bad:
            raise ShopBackendError(
                f"shop {self.shop_id}: no price is known for {bad[:5]}; import a prices table "
                "or sales lines with unit_price"
            )
        cost = price * (1.0 - self.config.default_margin)
        self.category_raw = [self.mapping.default_category] * n
        if "products" in f:
            prod = f["products"].drop_duplicates("sku").set_index("sku")
            sku_of = f["sales"].drop_duplicates("series").set_index("series")["sku"]
            for i, s in enumerate(self.sku_ids):
                sku = sku_of.get(s)
                if sku in prod.index:
                    uc = prod.at[sku, "unit_cost"] if "unit_cost" in prod else None
                    if uc is not None and uc == uc and uc > 0:
                        cost[i] = float(uc)
                    cat = prod.at[sku, "category"] if "category" in prod else None
                    if cat is not None and cat == cat:
                        self.category_raw[i] = str(cat)
        self.list_price = price
        self.unit_cost = cost

    def _order_by_category(self) -> None:
        """Order SKUs as the catalogue simulator will: by category slug, stable."""
        from envs.calibration.scenario_out import category_slug

        order = sorted(range(len(self.sku_ids)),
                       key=lambda i: category_slug(self.category_raw[i]))
        self.sku_ids = tuple(self.sku_ids[i] for i in order)
        self.sku_index = {s: i for i, s in enumerate(self.sku_ids)}
        self.list_price = self.list_price[order]
        self.unit_cost = self.unit_cost[order]
        self.category_raw = [self.category_raw[i] for i in order]
        self._hist.daily = self._hist.daily[list(self.sku_ids)]

    def _catalogue_sim(self) -> MarketSimulator:
        from envs.calibration.scenario_out import category_slug
        from envs.scenario import parse_scenario
        from tools.real_history import sales_averages

        _, e28, _ = sales_averages(self._hist.daily, self._origin, self._hist.known_through,
                                   self.config.ema_window_days)
        cats: dict[str, list[dict[str, Any]]] = {}
        for i, s in enumerate(self.sku_ids):
            cats.setdefault(category_slug(self.category_raw[i]), []).append({
                "id": s, "price": float(self.list_price[i]),
                "unit_cost": float(max(self.unit_cost[i], 1e-6)),
                "base_demand": float(max(e28[i], 0.0)),
            })
        data = {
            "name": self.shop_id,
            "description": f"catalogue of real shop {self.shop_id} (not calibrated)",
            "horizon_days": 3650,
            "start_date": self._origin,
            "initial_stock_days": self.config.opening_stock_days,
            "categories": [
                {"name": c, "supplier": "supplier", "skus": skus, "post_promo_dip": 0.0,
                 "fatigue_days": 100000.0, "cannibalisation": 0.0, "halo": 0.0,
                 "max_discount": self.config.max_discount}
                for c, skus in sorted(cats.items())
            ],
            "suppliers": [{"name": "supplier", "lead_time_days": self.config.lead_time_days,
                           "moq": int(self.config.moq)}],
        }
        return MarketSimulator(parse_scenario(data, f"<shop {self.shop_id}>"), seed=0)

    # ------------------------------------------------------------------ reading
    @property
    def day(self) -> int:
        """The open day (0 is the shop's origin date)."""
        return self._day

    @property
    def done(self) -> bool:
        """A real shop never ends."""
        return False

    @property
    def origin(self) -> dt.date:
        """The date of day 0."""
        return self._origin

    def date_of(self, day: int) -> dt.date:
        """The calendar date of shop day ``day``."""
        return self._origin + dt.timedelta(days=int(day))

    @property
    def known_through(self) -> dt.date | None:
        """The last date with imported sales for the shop's series."""
        return self._hist.known_through

    def data_day(self) -> int:
        """The first shop day whose sales are not imported yet."""
        if self._hist.known_through is None:
            return 0
        return (self._hist.known_through - self._origin).days + 1

    def refresh(self) -> None:
        """Reload the open day and the history from the store (after an import or a close)."""
        self._hist = self._load_history(list(self.sku_ids))
        self._day = self.data.open_day(self.shop_id)
        self._view_cache = None

    def _outbox(self, kind: str) -> list[dict[str, Any]]:
        rows = self.data.outbox_lines(self.shop_id, kind, _LIVE)
        return [{"key": k, "series": sku, "day": int(d), "date": date, "params": p}
                for k, sku, d, date, p in rows]

    def view(self) -> ShopView:
        """This morning's view (cached for the open day; arrays must not be modified)."""
        if self._view_cache is None or self._view_cache[0] != self._day:
            view, orders = self._build_view()
            self._view_cache = (self._day, view, orders)
        return self._view_cache[1]

    def _build_view(self) -> tuple[ShopView, list[dict[str, Any]]]:
        from tools.real_history import book_stock, open_orders, sales_averages

        cfg, h, n = self.config, self._hist, len(self.sku_ids)
        date = self.date_of(self._day)
        e7, e28, last = sales_averages(h.daily, date, h.known_through, cfg.ema_window_days)
        _, e28_0, _ = sales_averages(h.daily, self._origin, h.known_through, cfg.ema_window_days)
        opening = np.round(e28_0 * cfg.opening_stock_days)
        receipts = h.frames.get("receipts")
        on_hand, _ = book_stock(self.sku_ids, date, h.known_through, h.daily, h.frames.get("stock"),
                                receipts, opening, self._origin)
        restocks = [{**o, "quantity": float(o["params"].get("quantity", 0))}
                    for o in self._outbox("restock")]
        still = open_orders(restocks, receipts, date)
        on_order = np.zeros(n)
        for o in still:
            on_order[self.sku_index[o["series"]]] += o["open"]
        discount, left, streak = np.zeros(n), np.zeros(n, dtype=np.int64), np.zeros(n)
        for p in self._outbox("promotion"):
            i = self.sku_index.get(p["series"])
            if i is None or p["day"] > self._day:
                continue
            d, dur = float(p["params"].get("discount", 0)), int(p["params"].get("duration_days", 7))
            end = p["day"] + dur
            if d > 0 and end > self._day:
                discount[i], left[i], streak[i] = d, end - self._day, self._day - p["day"]
            else:
                discount[i], left[i], streak[i] = 0.0, 0, 0.0
        lead = np.array([float(cfg.lead_times.get(s, cfg.lead_times.get(
            self.category_raw[i], cfg.lead_time_days))) for i, s in enumerate(self.sku_ids)])
        c = self.sim.catalog
        view = ShopView(
            day=self._day,
            dow=date.weekday(),
            sku_ids=self.sku_ids,
            category=np.asarray(c.category),
            on_hand=on_hand,
            on_order=on_order,
            backlog=np.zeros(n),
            sales_ema7=e7,
            sales_ema28=e28,
            last_sales=last,
            list_price=self.list_price,
            unit_cost=self.unit_cost,
            discount=discount,
            promo_left=left,
            promo_streak=streak,
            lead_time=lead,
            days_to_festival=np.full(n, 365.0),
            shelf_life=np.asarray(c.shelf_life),
            expiring_soon=np.zeros(n),
            max_discount=np.full(n, cfg.max_discount),
            moq=np.full(n, cfg.moq),
        )
        self._sync(self.sim, view, still)
        return view, still

    def _sim_day(self, sim: MarketSimulator) -> int:
        return (self.date_of(self._day) - sim.spec.start_date).days

    def _sync(self, sim: MarketSimulator, view: ShopView, orders: list[dict[str, Any]]) -> None:
        """Set ``sim``'s state to ``view`` at the simulator day of the open date."""
        from envs import kernel as K

        st = sim.state
        st.day = min(max(self._sim_day(sim), 0), sim.spec.horizon_days - 1)
        m = st.m
        m[K.ON_HAND] = view.on_hand
        m[K.BACKLOG] = 0.0
        m[K.ON_ORDER] = view.on_order
        m[K.DISCOUNT] = view.discount
        m[K.PROMO_LEFT] = view.promo_left
        m[K.PROMO_STREAK] = view.promo_streak
        m[K.DIP] = 0.0
        m[K.EMA7] = view.sales_ema7
        m[K.EMA28] = view.sales_ema28
        m[K.LAST_SALES] = view.last_sales
        st.pipeline[:] = 0.0
        st.shortfall[:] = 0.0
        st.week_spend[:] = 0.0
        ring = st.pipeline.shape[0]
        for o in orders:
            i = self.sku_index[o["series"]]
            remaining = int(view.lead_time[i]) - (self._day - o["day"])
            arrive = st.day + min(max(remaining, 1), ring - 1)
            st.pipeline[arrive % ring, i] += o["open"]
        if st.ages.size:
            st.ages[:] = 0.0
            st.ages[0] = m[K.ON_HAND, np.flatnonzero(sim.catalog.perishable)]

    def supplier_of(self) -> np.ndarray:
        return np.asarray(self.sim.catalog.supplier)

    def upcoming_events(self, horizon: int) -> list[dict[str, Any]]:
        """No event calendar is imported for a real shop: none known."""
        return []

    # ------------------------------------------------------------------ acting
    def _outbox_row(self, line: Mapping[str, Any], key: str) -> dict[str, Any]:
        if line.get("kind") not in ACTION_KINDS:
            raise ShopBackendError(f"unknown action kind {line.get('kind')!r} in {dict(line)}")
        if line.get("sku") not in self.sku_index:
            raise ShopBackendError(f"unknown SKU {line.get('sku')!r} in action line {dict(line)}")
        return {"idempotency_key": key, "shop_id": self.shop_id, "run_id": self.run_id,
                "day": self._day, "date": self.date_of(self._day), "sku": line["sku"],
                "kind": line["kind"], "params": dict(line), "status": "pending"}

    def execute_in_session(self, session: Any, line: Mapping[str, Any], key: str
                           ) -> dict[str, Any]:
        """:meth:`execute` inside the caller's transaction ``session``."""
        row = self._outbox_row(line, key)
        if not self.data.outbox_add(session, row):
            return {"key": key, "status": "duplicate", "applied_day": None}
        return {"key": key, "status": "executed", "applied_day": self._day}

    def execute(self, line: Mapping[str, Any], key: str) -> dict[str, Any]:
        """Write ``line`` to the outbox as ``pending``; a key already there is ``duplicate``.

        Raises:
            ShopBackendError: an unknown SKU or action kind.
        """
        with self.data.session() as s:
            return self.execute_in_session(s, line, key)

    def close_day(self, session: Any = None) -> dict[str, Any]:
        """Close the open day and open the next; returns the closed day's imported sales.

        ``{"day", "date", "sales_known", "units", "revenue"}``: ``sales_known`` is False when
        no sales for that date are imported yet (they flow back with a later import).
        """
        day = self._day
        if session is None:
            with self.data.session() as s:
                return self.close_day(s)
        stored = self.data.lock_open_day(session, self.shop_id)
        if stored != day:
            raise ShopBackendError(
                f"shop {self.shop_id}: the store's open day is {stored} but this process "
                f"holds day {day}; another process advanced it"
            )
        self.data.set_open_day(session, self.shop_id, day + 1)
        out = self.day_sales(day)
        self._day = day + 1
        self._view_cache = None
        return out

    def day_sales(self, day: int) -> dict[str, Any]:
        """Imported sales of the shop's series on shop day ``day``: what the day realised.

        ``{"day", "date", "sales_known", "units", "revenue", "revenue_basis", "cogs",
        "by_sku", "margin_by_sku", "stock_known_skus", "stockout_skus"}``; ``sales_known`` is
        False (and the figures 0) while no sales for the date are imported.

        * ``revenue``: the lines' own unit prices where imported (``revenue_basis``
          ``"line prices"``), else units x list price (``"list prices"``: weekly data, spread
          over its days, or lines without a price);
        * ``cogs``: units x unit cost (the products table's, else the default margin's);
        * ``by_sku``: units per series that sold; ``margin_by_sku`` their revenue minus cost
          of goods (what the outcome of an action on that series is measured in);
        * stock-outs are known only where a stock snapshot is dated that day:
          ``stock_known_skus`` counts the snapshots, ``stockout_skus`` those at or below 0.
        """
        import pandas as pd

        date = self.date_of(day)
        known = self._hist.known_through is not None and date <= self._hist.known_through
        out: dict[str, Any] = {"day": int(day), "date": str(date), "sales_known": bool(known),
                               "units": 0.0, "revenue": 0.0, "revenue_basis": "list prices",
                               "cogs": 0.0, "by_sku": {}, "margin_by_sku": {},
                               "stock_known_skus": 0, "stockout_skus": 0}
        if not known:
            return out
        ts = pd.Timestamp(date)
        daily = self._hist.daily
        if ts in daily.index:
            units = daily.loc[ts].to_numpy(dtype=float)
            out["units"] = float(units.sum())
            revenue = units * self.list_price
            out["revenue"] = float(revenue.sum())
            out["cogs"] = float((units * self.unit_cost).sum())
            out["by_sku"] = {s: float(u) for s, u in zip(self.sku_ids, units, strict=True) if u}
        sales = self._hist.frames["sales"]
        if self.mapping.grain != "week" and "unit_price" in sales and out["units"]:
            lines = sales[sales["date"].dt.normalize() == ts]
            price = lines["unit_price"].fillna(lines["series"].map(
                dict(zip(self.sku_ids, self.list_price, strict=True))))
            by_series = (lines["quantity"] * price).groupby(lines["series"]).sum()
            out["revenue"] = float(by_series.sum())
            out["revenue_basis"] = "line prices"
            revenue = by_series.reindex(self.sku_ids, fill_value=0.0).to_numpy(dtype=float)
        if out["units"]:
            margin = revenue - units * self.unit_cost
            out["margin_by_sku"] = {
                s: float(m) for s, m, u in zip(self.sku_ids, margin, units, strict=True) if u
            }
        stock = self._hist.frames.get("stock")
        if stock is not None:
            snap = stock[(stock["date"] == ts) & stock["series"].isin(self.sku_index)]
            out["stock_known_skus"] = int(snap["series"].nunique())
            out["stockout_skus"] = int(snap.loc[snap["on_hand"] <= 0, "series"].nunique())
        return out

    # ------------------------------------------------------------------ what-if
    def default_seed(self, salt: int = 0) -> int:
        """A reproducible seed for what-if futures on the open day."""
        return zlib.crc32(f"whatif:{self.shop_id}:{self._day}:{salt}".encode()) & 0x7FFFFFFF

    def what_if(self, arrays: PlanArrays, horizon: int = 14, seed: int | None = None,
                baseline: PlanArrays | None = None) -> WhatIf | None:
        """The plan versus ``baseline`` (default: no action) on forks of the twin (``None``
        without a usable twin)."""
        from tools.sim_shop import SimShop

        if self.twin is None:
            return None
        self.view()  # syncs the twin to this morning
        t = self._sim_day(self.twin)
        if not 0 <= t < self.twin.spec.horizon_days:
            self.whatif_unavailable = (
                f"the open date {self.date_of(self._day)} is outside the twin's horizon "
                f"({self.twin.spec.start_date} + {self.twin.spec.horizon_days} days)"
            )
            return None
        seed = self.default_seed() if seed is None else int(seed)
        h = max(1, min(int(horizon), self.twin.spec.horizon_days - t))
        plan_p, plan_sku = SimShop._rollout(self.twin.fork(seed=seed), arrays, h)
        base_p, base_sku = SimShop._rollout(self.twin.fork(seed=seed), baseline, h)
        return WhatIf(h, seed, plan_p - base_p, plan_p, base_p, plan_sku - base_sku)
