"""The marketplace simulator core: a shop's days as numpy vectors over SKUs.

:class:`MarketSimulator` holds the static catalogue and calendar, a mutable
:class:`SimState`, and a :class:`~envs.noise.NoiseSource`. ``step(plan)`` advances one day:

1. scheduled drift events change base demand, elasticity or trend;
2. the plan's promotions take effect (discounts clipped to the category cap);
3. the plan's purchase orders go out: rounded up to the supplier's minimum order quantity,
   scaled down to the weekly purchase budget if one is set, given a lead time (supplier mean
   + disruption days + notice delay days + jitter) and a delivered fraction (full with the
   supplier's reliability, else a partial fill); lead time 0 arrives at once;
4. demand is drawn (see :mod:`envs.noise`) from the mean
   ``base * weekly[dow] * yearly(doy) * trend(t) * lifecycle(t) * festival(t, category)
   * notice_factor(t, sku) * (1 - discount)^elasticity
   * (1 + lift * discount * exp(-streak / fatigue))
   * (1 - post-promotion dip) * (1 + (halo - cannibalisation) * sibling discount)``;
5. sales are served from stock (first-in-first-out for perishables); unmet demand is lost,
   or waits as a backorder when ``backorders`` is set. A SKU the plan *holds* (takes off sale
   for the day) sells nothing: its demand is reported as 0 and is neither lost nor
   backordered, its backlog waits, its stock stays, and its sales memory sees a day of 0;
6. costs are booked and the day's profit is the reward;
7. perishable stock ages and what reaches its shelf life is wasted;
8. the day advances and the next day's deliveries are received, up to warehouse capacity.

Notices (``spec.notices``) are texts with true effects (:mod:`envs.directives`), applied from
the dates the effects name whatever day the text arrives (see :mod:`envs.scenario`):
``supplier_delay`` adds days to the lead time of orders placed in its window (step 3),
``demand_shift`` multiplies the targeted SKUs' mean demand (step 4, and :meth:`mean_demand`),
and the hard kinds cost money (step 6, the ``compliance`` term): every unit sold of a SKU
under a ``stop_sale`` is fined ``costs.compliance_fine_per_unit``, and each SKU-day sold at a
discount under a ``promotion_ban``, or at a discount deeper than a ``discount_cap`` (by more
than 1e-9), costs ``costs.policy_breach_penalty`` once. The view never shows a notice's
effects: delays are not in ``ShopView.lead_time``; the agent learns them from the text
(:meth:`MarketSimulator.notices_on`).

Profit accounting (per day, all in currency):
``revenue - cost_of_goods - holding - ordering - promotion - lost_sales - backorder - waste
- compliance``
where cost of goods is charged on units sold, holding on end-of-day stock, ordering per
purchase order (supplier and day), promotion per promotion started and per promoted SKU-day,
lost sales as a goodwill penalty per unmet unit, backorder per waiting unit-day, waste at
unit cost plus disposal for each expired unit, and compliance as the notices' fines and
penalties above (per SKU in :attr:`DayResult.fines`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from envs import kernel as K
from envs.catalog import (
    Calendar,
    Catalog,
    NoticeEffects,
    build_calendar,
    build_catalog,
    build_notice_effects,
)
from envs.errors import PlanError, ShopOpsError
from envs.noise import NoiseSource
from envs.plan import Plan, PlanArrays
from envs.scenario import NoticeSpec, ScenarioSpec, load_scenario

__all__ = ["COST_TERMS", "DayResult", "MarketSimulator", "ShopView", "SimState"]

#: Names of the cost terms in :attr:`DayResult.breakdown`, in reporting order.
COST_TERMS = (
    "cogs",
    "holding",
    "ordering",
    "promotion",
    "lost_sales",
    "backorder",
    "waste",
    "compliance",
)


class EpisodeOverError(ShopOpsError, RuntimeError):
    """``step`` was called after the horizon; call ``reset`` first."""


class SimState:
    """Everything that changes during an episode. ``copy()`` is a deep copy.

    Per-SKU quantities live as rows of one matrix ``m`` (see :mod:`envs.kernel`) and are
    exposed as named views: ``on_hand``, ``backlog``, ``on_order``, ``discount``,
    ``promo_left``, ``promo_streak``, ``dip``, ``sales_ema7``, ``sales_ema28``,
    ``last_sales``, ``base``, ``elasticity``, ``trend``. ``ages`` holds perishable units by
    age in days, ``pipeline``/``shortfall`` the units arriving (or cancelled) on day ``d`` at
    row ``d % ring``.
    """

    __slots__ = ("ages", "day", "m", "pipeline", "shortfall", "week_spend")

    def __init__(self, day, m, ages, pipeline, shortfall, week_spend) -> None:
        self.day = day
        self.m = m
        self.ages = ages
        self.pipeline = pipeline
        self.shortfall = shortfall
        self.week_spend = week_spend  # one-element array (the kernel updates it in place)

    def copy(self) -> SimState:
        """An independent deep copy."""
        return SimState(
            self.day,
            self.m.copy(),
            self.ages.copy(),
            self.pipeline.copy(),
            self.shortfall.copy(),
            self.week_spend.copy(),
        )

    def __getstate__(self):
        return {k: getattr(self, k) for k in self.__slots__}

    def __setstate__(self, d) -> None:
        for k, v in d.items():
            setattr(self, k, v)


def _row_property(index: int, name: str) -> property:
    return property(lambda self: self.m[index], doc=f"{name} per SKU (a view into ``m``).")


for _i, _name in enumerate(K.STATE_ROWS):
    setattr(SimState, _name, _row_property(_i, _name))


@dataclasses.dataclass(eq=False)
class DayResult:
    """What happened on one simulated day. Arrays are per SKU.

    ``receipts`` are the units that arrived at the start of the *next* day (after this
    day's step), ``expired`` the units wasted at the end of this day, ``fines`` each SKU's
    share of the ``compliance`` cost (notices' fines and penalties; zeros without notices).
    ``demand`` is 0 for a SKU held off sale; ``mean_demand`` is its mean all the same.
    """

    day: int
    profit: float
    breakdown: dict[str, float]
    demand: np.ndarray
    sales: np.ndarray
    lost: np.ndarray
    price: np.ndarray
    discount: np.ndarray
    ordered: np.ndarray
    receipts: np.ndarray
    expired: np.ndarray
    refused: np.ndarray
    mean_demand: np.ndarray
    fines: np.ndarray
    budget_clipped_units: float = 0.0
    moq_added_units: float = 0.0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DayResult):
            return NotImplemented
        return all(
            np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b
            for a, b in (
                (getattr(self, f.name), getattr(other, f.name)) for f in dataclasses.fields(self)
            )
        )

    __hash__ = None  # mutable, like the arrays it holds


@dataclasses.dataclass
class ShopView:
    """The structured observation: what a shop's operations team can see this morning.

    All arrays are per SKU (raw units and currency). ``lead_time`` includes known
    disruption days (not the delays that notices announce: those are read in the texts);
    ``days_to_festival`` is capped at 365; ``expiring_soon`` counts perishable units within
    two days of their shelf life. Notices are not part of the view.
    """

    day: int
    dow: int
    sku_ids: tuple[str, ...]
    category: np.ndarray
    on_hand: np.ndarray
    on_order: np.ndarray
    backlog: np.ndarray
    sales_ema7: np.ndarray
    sales_ema28: np.ndarray
    last_sales: np.ndarray
    list_price: np.ndarray
    unit_cost: np.ndarray
    discount: np.ndarray
    promo_left: np.ndarray
    promo_streak: np.ndarray
    lead_time: np.ndarray
    days_to_festival: np.ndarray
    shelf_life: np.ndarray
    expiring_soon: np.ndarray
    max_discount: np.ndarray
    moq: np.ndarray

    def to_dict(self) -> dict:
        """Plain-JSON form (lists and numbers) for tools and graph state."""
        out: dict = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = (
                v.tolist()
                if isinstance(v, np.ndarray)
                else (list(v) if isinstance(v, tuple) else int(v))
            )
        return out


class MarketSimulator:
    """A seeded, forkable shop simulation (see the module docstring for the day's order).

    Args:
        spec: the validated scenario.
        seed: the episode seed; all randomness of the episode derives from it.

    Attributes:
        notices: the scenario's notices (texts with their true effects), in file order.
        notice_effects: their effects tabulated by day (``None`` when no notice has any).
        extra_lead: ``(horizon, n_suppliers)`` days the world adds to the lead time of an
            order placed each day: announced disruptions plus notice delays.
    """

    def __init__(self, spec: ScenarioSpec, seed: int = 0) -> None:
        self.spec = spec
        self.catalog: Catalog = build_catalog(spec)
        self.calendar: Calendar = build_calendar(spec, self.catalog)
        self.notices: tuple[NoticeSpec, ...] = tuple(spec.notices)
        self.notice_effects: NoticeEffects | None = build_notice_effects(spec, self.catalog)
        self._prepare_static()
        self.reset(seed)

    @classmethod
    def from_scenario(cls, scenario: str | Path | ScenarioSpec, seed: int = 0) -> MarketSimulator:
        """Build from a scenario name, a path, or a parsed spec."""
        spec = scenario if isinstance(scenario, ScenarioSpec) else load_scenario(scenario)
        return cls(spec, seed)

    # ------------------------------------------------------------------ set-up
    def _prepare_static(self) -> None:
        c, cal, spec = self.catalog, self.calendar, self.spec
        costs = spec.costs
        n = c.n
        self.n = n
        self.sku_ids = c.sku_ids
        self.sku_index = {s: i for i, s in enumerate(c.sku_ids)}
        self._perishable_idx = np.flatnonzero(c.perishable)
        shelf_p = c.shelf_life[self._perishable_idx]
        self._max_shelf = int(shelf_p.max()) if shelf_p.size else 0
        ages = np.arange(self._max_shelf + 1)[:, None]
        self._soon_mask = ages >= (shelf_p[None, :] - 2)
        max_jitter = int(np.ceil(4 * c.sup_jitter.max())) if c.sup_jitter.size else 0
        extra = cal.extra_lead
        if self.notice_effects is not None:
            extra = extra + self.notice_effects.extra_lead
        self.extra_lead = np.ascontiguousarray(extra)
        self.extra_lead.setflags(write=False)
        self._ring = int(c.sup_lead.max() + extra.max(initial=0) + max_jitter + 2)
        sku_moq = c.sup_moq[c.supplier]
        params = np.zeros((K.N_PARAM, n))
        params[K.P_PRICE] = c.price
        params[K.P_COST] = c.unit_cost
        params[K.P_YAMP] = c.yearly_amplitude
        params[K.P_YPEAK] = c.yearly_peak_day
        params[K.P_LIFT] = c.promo_lift
        params[K.P_POSTDIP] = c.post_promo_dip
        params[K.P_DIPDECAY] = c.dip_decay
        params[K.P_FATIGUE] = c.fatigue_days
        params[K.P_MAXDISC] = c.max_discount
        params[K.P_MOQ] = sku_moq
        params[K.P_HOLD] = c.unit_cost * costs.holding_rate_per_day
        params[K.P_LOST] = c.price * costs.lost_sale_penalty_rate
        params[K.P_BO] = c.price * costs.backorder_rate_per_day
        params[K.P_WASTE] = c.unit_cost + costs.waste_disposal_cost
        params[K.P_LAUNCH] = c.launch_day
        params[K.P_RAMP] = c.ramp_days
        params[K.P_EOL] = c.end_of_life_day
        params[K.P_DECLINE] = c.decline_days
        self._params = params
        ints = np.zeros((K.N_INT, n), dtype=np.int64)
        ints[K.I_CATEGORY] = c.category
        ints[K.I_SUPPLIER] = c.supplier
        ints[K.I_SHELF] = c.shelf_life
        ints[K.I_PERISH] = -1
        ints[K.I_PERISH, self._perishable_idx] = np.arange(self._perishable_idx.size)
        self._ints = ints
        self._weekly_t = np.ascontiguousarray(c.weekly.T)
        self._cross = np.ascontiguousarray(c.cat_halo - c.cat_cannibalisation, dtype=float)
        self._cat_size_m1 = np.maximum(c.cat_size - 1, 1).astype(float)
        has_cross = bool(np.any(self._cross != 0)) and bool(np.any(c.cat_size > 1))
        self._flags = np.array(
            [
                int(np.any(c.yearly_amplitude > 0)),
                int(
                    np.any(c.launch_day > 0)
                    or np.any(c.ramp_days > 0)
                    or np.any(np.isfinite(c.end_of_life_day))
                ),
                int(has_cross),
            ],
            dtype=np.int64,
        )
        noise_kind = {
            "negbin": K.NOISE_NEGBIN,
            "poisson": K.NOISE_POISSON,
            "normal": K.NOISE_NORMAL,
        }
        self._config = np.array(
            [
                noise_kind[spec.demand_noise],
                spec.normal_cv,
                1.0 if spec.backorders else 0.0,
                -1.0 if spec.order_budget_per_week is None else spec.order_budget_per_week,
                -1.0 if spec.warehouse_capacity is None else spec.warehouse_capacity,
                costs.promo_fixed_cost,
                costs.promo_daily_cost,
            ]
        )
        self._fest = np.ascontiguousarray(cal.festival)
        self._rel = np.ascontiguousarray(cal.reliability)
        self._no_gamma = np.ones(n)
        self._ones = np.ones(n)  # the demand factor of a day without demand shifts
        self._ones.setflags(write=False)  # read-only, like the notices' rows
        self._sku_moq = sku_moq
        by_day: dict[int, list[NoticeSpec]] = {}
        for notice in self.notices:
            by_day.setdefault(notice.day, []).append(notice)
        self._notices_by_day = {day: tuple(v) for day, v in by_day.items()}

    def reset(self, seed: int = 0) -> None:
        """Start a new episode at day 0 with opening stock, seeded by ``seed``."""
        c, n = self.catalog, self.n
        self.seed = int(seed)
        self.noise = self._noise_source(self.seed)
        # The opening demand estimate is the catalogue's (a buyer's launch forecast for SKUs
        # not yet on sale); opening stock only for SKUs already on sale.
        mean_daily = c.base_demand
        days = np.where(c.launch_day == 0, self.spec.initial_stock_days, 0.0)
        p = self._perishable_idx
        days[p] = np.minimum(days[p], c.shelf_life[p] * 0.5)
        m = np.zeros((K.N_STATE, n))
        m[K.ON_HAND] = np.round(mean_daily * days)
        m[K.EMA7] = mean_daily
        m[K.EMA28] = mean_daily
        m[K.BASE] = c.base_demand
        m[K.ELASTICITY] = c.elasticity
        m[K.TREND] = c.trend
        ages = np.zeros((self._max_shelf + 1, p.size))
        if p.size:
            ages[0] = m[K.ON_HAND, p]
        self.state = SimState(
            day=0,
            m=m,
            ages=ages,
            pipeline=np.zeros((self._ring, n)),
            shortfall=np.zeros((self._ring, n)),
            week_spend=np.zeros(1),
        )

    def _noise_source(self, seed: int) -> NoiseSource:
        disp = self.catalog.dispersion if self.spec.demand_noise == "negbin" else None
        return NoiseSource(seed, self.n, disp)

    def fork(self, seed: int | None = None) -> MarketSimulator:
        """An independent copy of the simulator at its current state.

        With ``seed=None`` the copy shares this episode's future random draws (common random
        numbers): under the same plans both produce identical days. With a ``seed`` the copy
        draws a different future from the same state (for planners that must not peek).
        Static parts (catalogue, calendar, drawn noise blocks) are shared, so forking costs a
        copy of the state arrays only.
        """
        other = MarketSimulator.__new__(MarketSimulator)
        other.__dict__.update(self.__dict__)
        other.state = self.state.copy()
        if seed is None:
            other.noise = self.noise.share()
        else:
            other.seed = int(seed)
            other.noise = self._noise_source(int(seed))
        return other

    # ------------------------------------------------------------------ queries
    @property
    def day(self) -> int:
        """The current day (0-based), the one the next ``step`` simulates."""
        return self.state.day

    @property
    def done(self) -> bool:
        """True once the horizon has been simulated."""
        return self.state.day >= self.spec.horizon_days

    def notices_on(self, day: int | None = None) -> list[NoticeSpec]:
        """The notices arriving on the morning of ``day`` (default today), in file order.

        They carry their true ``effects``: an agent is given only ``text``, ``author`` and
        ``source`` (see :meth:`tools.sim_shop.SimShop.notices_today`).
        """
        return list(self._notices_by_day.get(self.state.day if day is None else day, ()))

    def demand_factor(self, day: int) -> np.ndarray:
        """The notices' demand multiplier per SKU on ``day`` (ones when none; read-only)."""
        fx = self.notice_effects
        if fx is None:
            return self._ones
        return fx.demand_factor.get(min(day, self.spec.horizon_days - 1), self._ones)

    def lead_time_today(self) -> np.ndarray:
        """Expected lead time per SKU for an order placed today, with the announced
        disruptions (not the notices' delays: :attr:`extra_lead` has the truth)."""
        c = self.catalog
        t = min(self.state.day, self.spec.horizon_days - 1)
        return (c.sup_lead + self.calendar.extra_lead[t])[c.supplier].astype(float)

    def view(self) -> ShopView:
        """The structured observation of the current morning."""
        s, c, cal = self.state, self.catalog, self.calendar
        m = s.m
        t = min(s.day, self.spec.horizon_days - 1)
        soon = np.zeros(self.n)
        if self._perishable_idx.size:
            soon[self._perishable_idx] = (s.ages * self._soon_mask).sum(axis=0)
        active = m[K.PROMO_LEFT] > 0
        return ShopView(
            day=s.day,
            dow=int(cal.dow[t]),
            sku_ids=self.sku_ids,
            category=c.category,
            on_hand=m[K.ON_HAND].copy(),
            on_order=m[K.ON_ORDER].copy(),
            backlog=m[K.BACKLOG].copy(),
            sales_ema7=m[K.EMA7].copy(),
            sales_ema28=m[K.EMA28].copy(),
            last_sales=m[K.LAST_SALES].copy(),
            list_price=c.price,
            unit_cost=c.unit_cost,
            discount=np.where(active, m[K.DISCOUNT], 0.0),
            promo_left=m[K.PROMO_LEFT].astype(np.int64),
            promo_streak=m[K.PROMO_STREAK].copy(),
            lead_time=self.lead_time_today(),
            days_to_festival=cal.days_to_festival[t][c.category].astype(float),
            shelf_life=c.shelf_life,
            expiring_soon=soon,
            max_discount=c.max_discount,
            moq=self._sku_moq,
        )

    def mean_demand(self, discount: np.ndarray | None = None, day: int | None = None) -> np.ndarray:
        """The noise-free expected demand per SKU on ``day`` (default today).

        Uses the current state (promotion streaks, dips, drifted parameters) and the
        notices' demand shifts in force on ``day``; ``discount`` defaults to the running
        promotions. The oracle and planners use this as the "true" mean; real policies
        should estimate it themselves.
        """
        s, c, cal = self.state, self.catalog, self.calendar
        t = min(s.day if day is None else day, self.spec.horizon_days - 1)
        if discount is None:
            disc = np.where(s.m[K.PROMO_LEFT] > 0, s.m[K.DISCOUNT], 0.0)
        else:
            disc = np.ascontiguousarray(np.broadcast_to(discount, (self.n,)), dtype=float)
        cat_sum = np.bincount(c.category, weights=disc, minlength=len(c.category_names))
        flags = np.append(self._flags, int(disc.any()))
        out = np.empty(self.n)
        K.mean_demand_into(
            t,
            int(cal.dow[t]),
            float(cal.doy[t]),
            self._fest[t],
            self.demand_factor(t),
            disc,
            cat_sum,
            s.m,
            self._params,
            self._ints,
            self._weekly_t,
            self._cross,
            self._cat_size_m1,
            flags,
            out,
        )
        return out

    # ------------------------------------------------------------------ the day
    def step(self, plan: Plan | PlanArrays | None = None, *, validate: bool = True) -> DayResult:
        """Simulate one day under ``plan`` (``None``: do nothing) and return its result.

        ``validate=False`` skips the plan's shape and range checks (for callers that built
        the arrays themselves, such as the Gymnasium action decoder). A plan's ``hold``
        takes SKUs off sale for this day only.

        Raises:
            EpisodeOverError: the horizon has been reached.
            PlanError: the plan names unknown SKUs or has invalid values.
        """
        s, cal = self.state, self.calendar
        t = s.day
        if t >= self.spec.horizon_days:
            raise EpisodeOverError(
                f"day {t} is past the horizon ({self.spec.horizon_days}); reset first"
            )
        if plan is None:
            arrays = PlanArrays.empty(self.n)
        elif isinstance(plan, Plan):
            arrays = plan.to_arrays(self.sku_index)
        elif isinstance(plan, PlanArrays):
            arrays = plan
            if validate:
                arrays.validate(self.n)
        else:
            raise PlanError(f"expected a Plan or PlanArrays, got {type(plan).__name__}")

        for ev in cal.drifts.get(t, ()):
            self._apply_drift(ev)
        noise = self.noise.day(t)
        out = np.empty((K.N_OUT, self.n))
        totals = np.empty(K.N_TOTAL)
        K.simulate_day(
            t,
            int(cal.dow[t]),
            float(cal.doy[t]),
            self._fest[t],
            self.demand_factor(t),
            self.extra_lead[t],
            self._rel[t],
            np.asarray(arrays.order_qty, dtype=float),
            np.asarray(arrays.promo_set, dtype=np.bool_),
            np.asarray(arrays.discount, dtype=float),
            np.asarray(arrays.duration, dtype=np.int64),
            np.asarray(arrays.hold, dtype=np.bool_),
            self._params,
            self._ints,
            self._weekly_t,
            self._cross,
            self._cat_size_m1,
            self.catalog.sup_lead,
            self.catalog.sup_jitter,
            self.catalog.sup_order_cost,
            self.catalog.sup_fill_low,
            self.catalog.sup_fill_high,
            s.m,
            s.ages,
            s.pipeline,
            s.shortfall,
            s.week_spend,
            self._no_gamma if noise.gamma is None else noise.gamma,
            noise.u_demand,
            noise.z_demand,
            noise.z_lead,
            noise.u_reliability,
            noise.u_fill,
            self._config,
            self._flags,
            out,
            totals,
        )
        s.day = t + 1
        fx = self.notice_effects
        breakdown = {
            "revenue": float(totals[K.T_REVENUE]),
            "cogs": float(totals[K.T_COGS]),
            "holding": float(totals[K.T_HOLDING]),
            "ordering": float(totals[K.T_ORDERING]),
            "promotion": float(totals[K.T_PROMOTION]),
            "lost_sales": float(totals[K.T_LOST]),
            "backorder": float(totals[K.T_BACKORDER]),
            "waste": float(totals[K.T_WASTE]),
            "compliance": 0.0 if fx is None else self._book_compliance(fx, t, out),
        }
        costs = sum(breakdown[k] for k in COST_TERMS)
        return DayResult(
            day=t,
            profit=breakdown["revenue"] - costs,
            breakdown=breakdown,
            demand=out[K.O_DEMAND],
            sales=out[K.O_SALES],
            lost=out[K.O_LOST],
            price=out[K.O_PRICE],
            discount=out[K.O_DISC],
            ordered=out[K.O_ORDERED],
            receipts=out[K.O_RECEIPTS],
            expired=out[K.O_EXPIRED],
            refused=out[K.O_REFUSED],
            mean_demand=out[K.O_MU],
            fines=out[K.O_FINES],
            budget_clipped_units=float(totals[K.T_BUDGET_CLIPPED]),
            moq_added_units=float(totals[K.T_MOQ_ADDED]),
        )

    def _book_compliance(self, fx: NoticeEffects, t: int, out: np.ndarray) -> float:
        """Write day ``t``'s notice fines and penalties per SKU into ``out``; their total."""
        costs = self.spec.costs
        fines = out[K.O_FINES]
        stop = fx.stop_sale.get(t)
        if stop is not None:
            fines += np.where(stop, out[K.O_SALES] * costs.compliance_fine_per_unit, 0.0)
        disc = out[K.O_DISC]
        ban, cap = fx.promotion_ban.get(t), fx.discount_cap.get(t)
        if ban is not None or cap is not None:
            breach = np.zeros(self.n, dtype=bool)
            if ban is not None:
                breach |= ban & (disc > 0.0)
            if cap is not None:
                breach |= disc > cap + 1e-9
            fines += np.where(breach, costs.policy_breach_penalty, 0.0)
        return float(fines.sum())

    def _apply_drift(self, ev) -> None:
        c, m = self.catalog, self.state.m
        if ev.categories:
            codes = [c.category_names.index(name) for name in ev.categories]
            mask = np.isin(c.category, codes)
        else:
            mask = np.ones(self.n, dtype=bool)
        m[K.BASE, mask] *= ev.base_demand_factor
        m[K.ELASTICITY, mask] = np.minimum(m[K.ELASTICITY, mask] + ev.elasticity_shift, 0.0)
        m[K.TREND, mask] = np.maximum(m[K.TREND, mask] + ev.trend_shift, -0.99)
