"""The catalogue as arrays: every per-SKU parameter of a scenario, one numpy vector each.

:func:`build_catalog` turns a :class:`~envs.scenario.ScenarioSpec` into a :class:`Catalog`.
SKUs drawn from ranges use a generator seeded by the scenario's ``seed`` (the catalogue is
part of the scenario, not of the episode), so the same file always gives the same shop.
:func:`build_calendar` tabulates the events timeline by day, and
:func:`build_notice_effects` the true effects of the scenario's notices.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools

import numpy as np

from envs.directives import compile_directives
from envs.scenario import (
    CategorySpec,
    DisruptionEvent,
    DriftEvent,
    FestivalEvent,
    ScenarioSpec,
)

_FLAT_WEEK = (1.0,) * 7


@dataclasses.dataclass(frozen=True, eq=False)
class Catalog:
    """Static per-SKU parameters (vectors of length ``n``) and per-category tables.

    Attributes of shape ``(n,)`` are indexed by SKU position; ``category`` and
    ``supplier`` hold indices into ``category_names`` and ``supplier_names``.
    """

    sku_ids: tuple[str, ...]
    category_names: tuple[str, ...]
    supplier_names: tuple[str, ...]
    category: np.ndarray  # int, (n,)
    supplier: np.ndarray  # int, (n,)
    price: np.ndarray
    unit_cost: np.ndarray
    base_demand: np.ndarray
    elasticity: np.ndarray
    trend: np.ndarray
    yearly_amplitude: np.ndarray
    yearly_peak_day: np.ndarray
    weekly: np.ndarray  # (n, 7), mean 1 per SKU
    dispersion: np.ndarray
    promo_lift: np.ndarray
    post_promo_dip: np.ndarray
    dip_decay: np.ndarray  # daily multiplicative decay of the dip
    fatigue_days: np.ndarray
    max_discount: np.ndarray
    shelf_life: np.ndarray  # int, 0 means not perishable
    launch_day: np.ndarray
    ramp_days: np.ndarray
    end_of_life_day: np.ndarray  # float, inf when the SKU never declines
    decline_days: np.ndarray
    cat_cannibalisation: np.ndarray  # (n_categories,)
    cat_halo: np.ndarray
    cat_size: np.ndarray
    # Suppliers, (n_suppliers,)
    sup_lead: np.ndarray
    sup_jitter: np.ndarray
    sup_moq: np.ndarray
    sup_order_cost: np.ndarray
    sup_reliability: np.ndarray
    sup_fill_low: np.ndarray
    sup_fill_high: np.ndarray

    @property
    def n(self) -> int:
        """Number of SKUs."""
        return len(self.sku_ids)

    @property
    def perishable(self) -> np.ndarray:
        """Boolean mask of SKUs with a shelf life."""
        return self.shelf_life > 0


def _draw_category(cat: CategorySpec, rng: np.random.Generator, first_index: int) -> dict:
    n = cat.size
    weekly_cat = np.asarray(cat.weekly or _FLAT_WEEK, dtype=float)

    def loguniform(r) -> np.ndarray:
        return np.exp(rng.uniform(np.log(r.low), np.log(r.high), n))

    def uniform(r) -> np.ndarray:
        return rng.uniform(r.low, r.high, n)

    price = loguniform(cat.price)
    margin = uniform(cat.margin)
    out = {
        "ids": [f"{cat.name}-{first_index + i:05d}" for i in range(n)],
        "price": price,
        "unit_cost": price * (1.0 - margin),
        "base_demand": loguniform(cat.base_demand),
        "elasticity": uniform(cat.elasticity),
        "trend": uniform(cat.trend),
        "yearly_amplitude": uniform(cat.yearly_amplitude),
        "yearly_peak_day": np.full(n, float(cat.yearly_peak_day)),
        "weekly": np.tile(weekly_cat, (n, 1)),
        "dispersion": np.full(n, cat.dispersion),
        "promo_lift": np.full(n, cat.promo_lift_per_depth),
    }
    if cat.skus is not None:
        # Explicit SKUs override what was drawn; the draws above still advance the generator
        # identically, so adding explicit SKUs to one category never reshuffles another.
        for i, s in enumerate(cat.skus):
            out["ids"][i] = s.id
            out["price"][i] = s.price
            out["unit_cost"][i] = s.unit_cost
            out["base_demand"][i] = s.base_demand
            for key, attr in (
                ("elasticity", "elasticity"),
                ("trend", "trend"),
                ("yearly_amplitude", "yearly_amplitude"),
                ("yearly_peak_day", "yearly_peak_day"),
                ("dispersion", "dispersion"),
                ("promo_lift", "promo_lift_per_depth"),
            ):
                value = getattr(s, attr)
                if value is not None:
                    out[key][i] = value
            if s.weekly is not None:
                out["weekly"][i] = s.weekly
    w = out["weekly"]
    out["weekly"] = w / w.mean(axis=1, keepdims=True)
    return out


def build_catalog(spec: ScenarioSpec) -> Catalog:
    """Draw (or read) every SKU's parameters and stack them into vectors."""
    rng = np.random.default_rng(np.random.SeedSequence(entropy=spec.seed, spawn_key=(0xCA7,)))
    sup_index = {s.name: i for i, s in enumerate(spec.suppliers)}
    parts = []
    first = 0
    for c_idx, cat in enumerate(spec.categories):
        d = _draw_category(cat, rng, first)
        n = cat.size
        d["category"] = np.full(n, c_idx, dtype=np.int64)
        d["supplier"] = np.full(n, sup_index[cat.supplier], dtype=np.int64)
        d["post_promo_dip"] = np.full(n, cat.post_promo_dip)
        d["dip_decay"] = np.full(n, np.exp(-3.0 / cat.dip_days))
        d["fatigue_days"] = np.full(n, cat.fatigue_days)
        d["max_discount"] = np.full(n, cat.max_discount)
        d["shelf_life"] = np.full(n, cat.shelf_life_days or 0, dtype=np.int64)
        d["launch_day"] = np.full(n, cat.launch_day, dtype=np.int64)
        d["ramp_days"] = np.full(n, cat.ramp_days, dtype=np.int64)
        eol = np.inf if cat.end_of_life_day is None else float(cat.end_of_life_day)
        d["end_of_life_day"] = np.full(n, eol)
        d["decline_days"] = np.full(n, float(cat.decline_days))
        parts.append(d)
        first += n

    def cat_vec(key: str) -> np.ndarray:
        return np.concatenate([p[key] for p in parts])

    sups = spec.suppliers
    return Catalog(
        sku_ids=tuple(i for p in parts for i in p["ids"]),
        category_names=tuple(c.name for c in spec.categories),
        supplier_names=tuple(s.name for s in sups),
        category=cat_vec("category"),
        supplier=cat_vec("supplier"),
        price=cat_vec("price"),
        unit_cost=cat_vec("unit_cost"),
        base_demand=cat_vec("base_demand"),
        elasticity=cat_vec("elasticity"),
        trend=cat_vec("trend"),
        yearly_amplitude=cat_vec("yearly_amplitude"),
        yearly_peak_day=cat_vec("yearly_peak_day"),
        weekly=np.concatenate([p["weekly"] for p in parts]),
        dispersion=cat_vec("dispersion"),
        promo_lift=cat_vec("promo_lift"),
        post_promo_dip=cat_vec("post_promo_dip"),
        dip_decay=cat_vec("dip_decay"),
        fatigue_days=cat_vec("fatigue_days"),
        max_discount=cat_vec("max_discount"),
        shelf_life=cat_vec("shelf_life"),
        launch_day=cat_vec("launch_day"),
        ramp_days=cat_vec("ramp_days"),
        end_of_life_day=cat_vec("end_of_life_day"),
        decline_days=cat_vec("decline_days"),
        cat_cannibalisation=np.array([c.cannibalisation for c in spec.categories]),
        cat_halo=np.array([c.halo for c in spec.categories]),
        cat_size=np.array([c.size for c in spec.categories], dtype=np.int64),
        sup_lead=np.array([s.lead_time_days for s in sups], dtype=np.int64),
        sup_jitter=np.array([s.lead_time_jitter_days for s in sups]),
        sup_moq=np.array([s.moq for s in sups], dtype=float),
        sup_order_cost=np.array([s.order_fixed_cost for s in sups]),
        sup_reliability=np.array([s.reliability for s in sups]),
        sup_fill_low=np.array([s.partial_fill.low for s in sups]),
        sup_fill_high=np.array([s.partial_fill.high for s in sups]),
    )


@dataclasses.dataclass(frozen=True, eq=False)
class Calendar:
    """Day-indexed tables precomputed from the events timeline (shape ``(horizon, ...)``)."""

    dow: np.ndarray  # (H,) 0 = Monday
    doy: np.ndarray  # (H,) 0-based day of year
    festival: np.ndarray  # (H, n_categories) demand multiplier
    days_to_festival: np.ndarray  # (H, n_categories) days until next surge day (cap 365)
    extra_lead: np.ndarray  # (H, n_suppliers) disruption days added to lead time
    reliability: np.ndarray  # (H, n_suppliers) reliability in force
    drifts: dict[int, tuple[DriftEvent, ...]]


def build_calendar(spec: ScenarioSpec, cat: Catalog) -> Calendar:
    """Precompute the calendar and events tables for the scenario's horizon."""
    H = spec.horizon_days
    n_cat = len(cat.category_names)
    start: dt.date = spec.start_date
    dates = [start + dt.timedelta(days=d) for d in range(H)]
    dow = np.array([d.weekday() for d in dates], dtype=np.int64)
    doy = np.array([d.timetuple().tm_yday - 1 for d in dates], dtype=np.int64)
    fest = np.ones((H, n_cat))
    surge = np.zeros((H, n_cat), dtype=bool)
    extra = np.zeros((H, len(cat.supplier_names)), dtype=np.int64)
    rel = np.tile(cat.sup_reliability, (H, 1))
    drifts: dict[int, list[DriftEvent]] = {}
    cat_index = {c: i for i, c in enumerate(cat.category_names)}
    sup_index = {s: i for i, s in enumerate(cat.supplier_names)}
    for ev in spec.events:
        if isinstance(ev, FestivalEvent):
            cols = [cat_index[c] for c in ev.categories] if ev.categories else list(range(n_cat))
            a, b = ev.day, min(H, ev.day + ev.duration)
            fest[a:b, cols] *= ev.multiplier
            surge[a:b, cols] = True
            fest[max(0, a - ev.pre_days) : a, cols] *= ev.pre_multiplier
            fest[b : min(H, b + ev.post_days), cols] *= ev.post_multiplier
        elif isinstance(ev, DisruptionEvent):
            s = sup_index[ev.supplier]
            a, b = ev.day, min(H, ev.day + ev.duration)
            extra[a:b, s] += ev.extra_lead_days
            if ev.reliability is not None:
                rel[a:b, s] = ev.reliability
        else:
            drifts.setdefault(ev.day, []).append(ev)
    # Days to the next surge day (0 on a surge day), capped at 365.
    to_fest = np.full((H, n_cat), 365, dtype=np.int64)
    nxt = np.full(n_cat, 10**9, dtype=np.int64)
    for d in range(H - 1, -1, -1):
        nxt = np.where(surge[d], d, nxt)
        to_fest[d] = np.minimum(nxt - d, 365)
    return Calendar(
        dow=dow,
        doy=doy,
        festival=fest,
        days_to_festival=to_fest,
        extra_lead=extra,
        reliability=rel,
        drifts={k: tuple(v) for k, v in drifts.items()},
    )


@dataclasses.dataclass(frozen=True, eq=False)
class NoticeEffects:
    """The true effects of a scenario's notices, by episode day (``H`` = horizon).

    Built by :func:`build_notice_effects` with :func:`envs.directives.compile_directives`,
    the one definition of "in force" and "targets". Per-SKU rows are read-only and shared by
    the days of a stretch on which the same directives are in force; a day missing from a
    mapping has no effect of that kind.

    Attributes:
        extra_lead: ``(H, n_suppliers)`` days added to the lead time of an order placed
            that day (the largest supplier delay in force; announced disruptions are in
            :attr:`Calendar.extra_lead`, not here).
        demand_factor: day -> ``(n,)`` demand multiplier (product of the shifts in force).
        stop_sale: day -> ``(n,)`` True where selling is fined.
        promotion_ban: day -> ``(n,)`` True where any discount is a breach.
        discount_cap: day -> ``(n,)`` largest allowed discount as a fraction (``inf``:
            uncapped).
    """

    extra_lead: np.ndarray
    demand_factor: dict[int, np.ndarray]
    stop_sale: dict[int, np.ndarray]
    promotion_ban: dict[int, np.ndarray]
    discount_cap: dict[int, np.ndarray]


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


def build_notice_effects(spec: ScenarioSpec, cat: Catalog) -> NoticeEffects | None:
    """Tabulate the effects of ``spec.notices`` per day; ``None`` when no notice has any.

    The set of directives in force changes only where a window starts or ends, so the
    directives are compiled once per stretch between those days, not once per day.
    """
    effects = [e for notice in spec.notices for e in notice.effects if e.kind != "none"]
    if not effects:
        return None
    H, start = spec.horizon_days, spec.start_date
    n_sup = len(cat.supplier_names)

    def day_of(when: dt.date) -> int:
        return min(max((when - start).days, 0), H)

    cuts = {0, H}
    for e in effects:
        cuts.add(day_of(e.start))
        if e.end is not None:
            cuts.add(day_of(e.end + dt.timedelta(days=1)))
    sku_category = [cat.category_names[k] for k in cat.category]
    sku_supplier = [cat.supplier_names[k] for k in cat.supplier]
    extra = np.zeros((H, n_sup), dtype=np.int64)
    tables: dict[str, dict[int, np.ndarray]] = {
        "demand_factor": {},
        "stop_sale": {},
        "promotion_ban": {},
        "discount_cap": {},
    }
    for a, b in itertools.pairwise(sorted(cuts)):
        arrays = compile_directives(
            effects, start + dt.timedelta(days=a), cat.sku_ids, sku_category, sku_supplier
        )
        if arrays.extra_lead_days.any():
            row = np.zeros(n_sup, dtype=np.int64)
            np.maximum.at(row, cat.supplier, arrays.extra_lead_days.astype(np.int64))
            extra[a:b] = row
        rows = {
            "demand_factor": arrays.demand_factor if (arrays.demand_factor != 1.0).any() else None,
            "stop_sale": arrays.stop_sale if arrays.stop_sale.any() else None,
            "promotion_ban": arrays.promotion_ban if arrays.promotion_ban.any() else None,
            "discount_cap": (
                arrays.discount_cap if np.isfinite(arrays.discount_cap).any() else None
            ),
        }
        for name, row in rows.items():
            if row is not None:
                shared = _frozen(row)
                tables[name].update(dict.fromkeys(range(a, b), shared))
    return NoticeEffects(extra_lead=extra, **tables)
