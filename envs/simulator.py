"""The marketplace simulator core: a shop's days as numpy vectors over SKUs.

:class:`MarketSimulator` holds the static catalogue and calendar, a mutable
:class:`SimState`, and a :class:`~envs.noise.NoiseSource`. ``step(plan)`` advances one day:

1. scheduled drift events change base demand, elasticity or trend;
2. the plan's promotions take effect (discounts clipped to the category cap);
3. the plan's purchase orders go out: rounded up to the supplier's minimum order quantity,
   scaled down to the weekly purchase budget if one is set, given a lead time (supplier mean
   + disruption days + jitter) and a delivered fraction (full with the supplier's reliability,
   else a partial fill); lead time 0 arrives at once;
4. demand is drawn (see :mod:`envs.noise`) from the mean
   ``base * weekly[dow] * yearly(doy) * trend(t) * lifecycle(t) * festival(t, category)
   * (1 - discount)^elasticity * (1 + lift * discount * exp(-streak / fatigue))
   * (1 - post-promotion dip) * (1 + (halo - cannibalisation) * sibling discount)``;
5. sales are served from stock (first-in-first-out for perishables); unmet demand is lost,
   or waits as a backorder when ``backorders`` is set;
6. costs are booked and the day's profit is the reward;
7. perishable stock ages and what reaches its shelf life is wasted;
8. the day advances and the next day's deliveries are received, up to warehouse capacity.

Profit accounting (per day, all in currency):
``revenue - cost_of_goods - holding - ordering - promotion - lost_sales - backorder - waste``
where cost of goods is charged on units sold, holding on end-of-day stock, ordering per
purchase order (supplier and day), promotion per promotion started and per promoted SKU-day,
lost sales as a goodwill penalty per unmet unit, backorder per waiting unit-day, and waste at
unit cost plus disposal for each expired unit.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from envs.catalog import Calendar, Catalog, build_calendar, build_catalog
from envs.errors import PlanError, ShopOpsError
from envs.noise import NoiseSource, poisson_icdf
from envs.plan import Plan, PlanArrays
from envs.scenario import ScenarioSpec, load_scenario

__all__ = ["COST_TERMS", "DayResult", "MarketSimulator", "ShopView", "SimState"]

#: Names of the cost terms in :attr:`DayResult.breakdown`, in reporting order.
COST_TERMS = ("cogs", "holding", "ordering", "promotion", "lost_sales", "backorder", "waste")
_EMA7 = 2.0 / 8.0
_EMA28 = 2.0 / 29.0
_TWO_PI_OVER_YEAR = 2.0 * np.pi / 365.0


class EpisodeOverError(ShopOpsError, RuntimeError):
    """``step`` was called after the horizon; call ``reset`` first."""


@dataclasses.dataclass
class SimState:
    """Everything that changes during an episode. ``copy()`` is a deep copy."""

    day: int
    on_hand: np.ndarray
    backlog: np.ndarray
    ages: np.ndarray  # (max_shelf + 1, n_perishable): units by age in days
    pipeline: np.ndarray  # (ring, n): units arriving on day d at row d % ring
    shortfall: np.ndarray  # (ring, n): ordered units that will not arrive, by arrival day
    on_order: np.ndarray
    discount: np.ndarray
    promo_left: np.ndarray
    promo_streak: np.ndarray
    dip: np.ndarray
    sales_ema7: np.ndarray
    sales_ema28: np.ndarray
    last_sales: np.ndarray
    base: np.ndarray
    elasticity: np.ndarray
    trend: np.ndarray
    week_spend: float

    def copy(self) -> SimState:
        """An independent deep copy."""
        return dataclasses.replace(
            self,
            **{
                f.name: getattr(self, f.name).copy()
                for f in dataclasses.fields(self)
                if isinstance(getattr(self, f.name), np.ndarray)
            },
        )


@dataclasses.dataclass
class DayResult:
    """What happened on one simulated day. Arrays are per SKU.

    ``receipts`` are the units that arrived at the start of the *next* day (after this
    day's step), ``expired`` the units wasted at the end of this day.
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
    budget_clipped_units: float = 0.0
    moq_added_units: float = 0.0


@dataclasses.dataclass
class ShopView:
    """The structured observation: what a shop's operations team can see this morning.

    All arrays are per SKU (raw units and currency). ``lead_time`` includes known
    disruption days; ``days_to_festival`` is capped at 365; ``expiring_soon`` counts
    perishable units within two days of their shelf life.
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
            out[f.name] = v.tolist() if isinstance(v, np.ndarray) else (
                list(v) if isinstance(v, tuple) else int(v)
            )
        return out


class MarketSimulator:
    """A seeded, forkable shop simulation (see the module docstring for the day's order).

    Args:
        spec: the validated scenario.
        seed: the episode seed; all randomness of the episode derives from it.
    """

    def __init__(self, spec: ScenarioSpec, seed: int = 0) -> None:
        self.spec = spec
        self.catalog: Catalog = build_catalog(spec)
        self.calendar: Calendar = build_calendar(spec, self.catalog)
        self._prepare_static()
        self.reset(seed)

    @classmethod
    def from_scenario(cls, scenario: str | Path | ScenarioSpec, seed: int = 0) -> MarketSimulator:
        """Build from a scenario name, a path, or a parsed spec."""
        spec = scenario if isinstance(scenario, ScenarioSpec) else load_scenario(scenario)
        return cls(spec, seed)

    # ------------------------------------------------------------------ set-up
    def _prepare_static(self) -> None:
        c, cal, costs = self.catalog, self.calendar, self.spec.costs
        n = c.n
        self.n = n
        self.sku_ids = c.sku_ids
        self.sku_index = {s: i for i, s in enumerate(c.sku_ids)}
        self._weekly_t = np.ascontiguousarray(c.weekly.T)
        self._has_yearly = bool(np.any(c.yearly_amplitude > 0))
        self._has_lifecycle = bool(np.any(c.launch_day > 0) or np.any(c.ramp_days > 0))
        self._sku_moq = c.sup_moq[c.supplier]
        self._hold_unit = c.unit_cost * costs.holding_rate_per_day
        self._lost_unit = c.price * costs.lost_sale_penalty_rate
        self._bo_unit = c.price * costs.backorder_rate_per_day
        self._waste_unit = c.unit_cost + costs.waste_disposal_cost
        self._perishable_idx = np.flatnonzero(c.perishable)
        shelf_p = c.shelf_life[self._perishable_idx]
        self._max_shelf = int(shelf_p.max()) if shelf_p.size else 0
        ages = np.arange(self._max_shelf + 1)[:, None]
        self._expire_mask = ages >= shelf_p[None, :]
        self._soon_mask = ages >= (shelf_p[None, :] - 2)
        max_jitter = int(np.ceil(4 * c.sup_jitter.max())) if c.sup_jitter.size else 0
        self._ring = int(c.sup_lead.max() + cal.extra_lead.max(initial=0) + max_jitter + 2)
        self._cat_size_m1 = np.maximum(c.cat_size - 1, 1).astype(float)
        self._cross = c.cat_halo - c.cat_cannibalisation
        self._has_cross = bool(np.any(self._cross != 0)) and bool(np.any(c.cat_size > 1))
        self._n_cat = len(c.category_names)
        self._arange = np.arange(n)

    def reset(self, seed: int = 0) -> None:
        """Start a new episode at day 0 with opening stock, seeded by ``seed``."""
        c, n = self.catalog, self.n
        self.seed = int(seed)
        disp = None if self.spec.demand_noise != "negbin" else c.dispersion
        self.noise = NoiseSource(self.seed, n, disp)
        # The opening demand estimate is the catalogue's (a buyer's launch forecast for SKUs
        # not yet on sale); opening stock only for SKUs already on sale.
        mean_daily = c.base_demand.copy()
        days = np.where(c.launch_day == 0, self.spec.initial_stock_days, 0.0)
        p = self._perishable_idx
        days[p] = np.minimum(days[p], c.shelf_life[p] * 0.5)
        on_hand = np.round(mean_daily * days)
        ages = np.zeros((self._max_shelf + 1, p.size))
        if p.size:
            ages[0] = on_hand[p]
        self.state = SimState(
            day=0,
            on_hand=on_hand,
            backlog=np.zeros(n),
            ages=ages,
            pipeline=np.zeros((self._ring, n)),
            shortfall=np.zeros((self._ring, n)),
            on_order=np.zeros(n),
            discount=np.zeros(n),
            promo_left=np.zeros(n, dtype=np.int64),
            promo_streak=np.zeros(n),
            dip=np.zeros(n),
            sales_ema7=mean_daily.copy(),
            sales_ema28=mean_daily.copy(),
            last_sales=np.zeros(n),
            base=c.base_demand.copy(),
            elasticity=c.elasticity.copy(),
            trend=c.trend.copy(),
            week_spend=0.0,
        )

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
            disp = None if self.spec.demand_noise != "negbin" else self.catalog.dispersion
            other.noise = NoiseSource(int(seed), self.n, disp)
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

    def lead_time_today(self) -> np.ndarray:
        """Expected lead time per SKU for an order placed today (with disruptions)."""
        c = self.catalog
        t = min(self.state.day, self.spec.horizon_days - 1)
        return (c.sup_lead + self.calendar.extra_lead[t])[c.supplier].astype(float)

    def view(self) -> ShopView:
        """The structured observation of the current morning."""
        s, c, cal = self.state, self.catalog, self.calendar
        t = min(s.day, self.spec.horizon_days - 1)
        soon = np.zeros(self.n)
        if self._perishable_idx.size:
            soon[self._perishable_idx] = (s.ages * self._soon_mask).sum(axis=0)
        return ShopView(
            day=s.day,
            dow=int(cal.dow[t]),
            sku_ids=self.sku_ids,
            category=c.category,
            on_hand=s.on_hand.copy(),
            on_order=s.on_order.copy(),
            backlog=s.backlog.copy(),
            sales_ema7=s.sales_ema7.copy(),
            sales_ema28=s.sales_ema28.copy(),
            last_sales=s.last_sales.copy(),
            list_price=c.price,
            unit_cost=c.unit_cost,
            discount=np.where(s.promo_left > 0, s.discount, 0.0),
            promo_left=s.promo_left.copy(),
            promo_streak=s.promo_streak.copy(),
            lead_time=self.lead_time_today(),
            days_to_festival=cal.days_to_festival[t][c.category].astype(float),
            shelf_life=c.shelf_life,
            expiring_soon=soon,
            max_discount=c.max_discount,
            moq=self._sku_moq,
        )

    def mean_demand(self, discount: np.ndarray | None = None, day: int | None = None) -> np.ndarray:
        """The noise-free expected demand per SKU on ``day`` (default today).

        Uses the current state (promotion streaks, dips, drifted parameters); ``discount``
        defaults to the running promotions. The oracle and planners use this as the "true"
        mean; real policies should estimate it themselves.
        """
        s = self.state
        t = s.day if day is None else day
        t = min(t, self.spec.horizon_days - 1)
        disc = np.where(s.promo_left > 0, s.discount, 0.0) if discount is None else discount
        return self._mean_demand(t, disc)

    def _mean_demand(self, t: int, disc: np.ndarray) -> np.ndarray:
        s, c, cal = self.state, self.catalog, self.calendar
        mu = s.base * self._weekly_t[cal.dow[t]]
        mu *= cal.festival[t][c.category]
        if self._has_yearly:
            mu *= 1.0 + c.yearly_amplitude * np.cos(
                _TWO_PI_OVER_YEAR * (cal.doy[t] - c.yearly_peak_day)
            )
        if self._trend_on:
            mu *= np.exp(np.log1p(s.trend) * (t / 365.0))
        if self._has_lifecycle:
            since = t - c.launch_day + 1
            ramp = np.clip(since / np.maximum(c.ramp_days, 1), 0.0, 1.0)
            mu *= np.where(since > 0, ramp, 0.0)
        promoted = disc > 0
        if promoted.any():
            mu *= np.exp(s.elasticity * np.log1p(-disc))
            mu *= 1.0 + c.promo_lift * disc * np.exp(-s.promo_streak / c.fatigue_days)
            if self._has_cross:
                cat_sum = np.bincount(c.category, weights=disc, minlength=self._n_cat)
                others = (cat_sum[c.category] - disc) / self._cat_size_m1[c.category]
                mu *= np.maximum(1.0 + self._cross[c.category] * others, 0.0)
        if s.dip.any():
            mu *= 1.0 - s.dip
        return mu

    @property
    def _trend_on(self) -> bool:
        return bool(self.state.trend.any())

    # ------------------------------------------------------------------ the day
    def step(self, plan: Plan | PlanArrays | None = None) -> DayResult:
        """Simulate one day under ``plan`` (``None``: do nothing) and return its result.

        Raises:
            EpisodeOverError: the horizon has been reached.
            PlanError: the plan names unknown SKUs or has invalid values.
        """
        if self.done:
            raise EpisodeOverError(
                f"day {self.state.day} is past the horizon ({self.spec.horizon_days}); reset first"
            )
        if plan is None:
            arrays = PlanArrays.empty(self.n)
        elif isinstance(plan, Plan):
            arrays = plan.to_arrays(self.sku_index)
        elif isinstance(plan, PlanArrays):
            arrays = plan
        else:
            raise PlanError(f"expected a Plan or PlanArrays, got {type(plan).__name__}")
        arrays.validate(self.n)

        s, c, cal, spec = self.state, self.catalog, self.calendar, self.spec
        t = s.day
        noise = self.noise.day(t)
        breakdown = dict.fromkeys(("revenue", *COST_TERMS), 0.0)

        # 1. drift
        for ev in cal.drifts.get(t, ()):
            mask = (
                np.isin(c.category, [c.category_names.index(n) for n in ev.categories])
                if ev.categories
                else np.ones(self.n, dtype=bool)
            )
            s.base[mask] *= ev.base_demand_factor
            s.elasticity[mask] = np.minimum(s.elasticity[mask] + ev.elasticity_shift, 0.0)
            s.trend[mask] = np.maximum(s.trend[mask] + ev.trend_shift, -0.99)

        # 2. promotions
        was_active = s.promo_left > 0
        if arrays.promo_set.any():
            sel = arrays.promo_set
            d = np.minimum(arrays.discount[sel], c.max_discount[sel])
            prev_d = np.where(was_active[sel], s.discount[sel], 0.0)
            starts = (d > 0) & (prev_d != d)
            stopped = (d == 0) & (prev_d > 0)
            breakdown["promotion"] += spec.costs.promo_fixed_cost * float(starts.sum())
            if stopped.any():
                idx = np.flatnonzero(sel)[stopped]
                s.dip[idx] = np.maximum(s.dip[idx], c.post_promo_dip[idx] * prev_d[stopped])
            s.discount[sel] = d
            s.promo_left[sel] = np.where(d > 0, np.maximum(arrays.duration[sel], 1), 0)
            restarted = np.flatnonzero(sel)[starts & (prev_d == 0)]
            s.promo_streak[restarted] = 0.0
        active = s.promo_left > 0
        disc = np.where(active, s.discount, 0.0)
        price = c.price * (1.0 - disc)
        n_active = int(active.sum())
        breakdown["promotion"] += spec.costs.promo_daily_cost * n_active

        # 3. purchase orders
        q = np.ceil(arrays.order_qty)
        moq_added = 0.0
        budget_clipped = 0.0
        idx = np.flatnonzero(q > 0)
        ordered = np.zeros(self.n)
        if idx.size:
            qi = q[idx]
            raised = np.maximum(qi, self._sku_moq[idx])
            moq_added = float((raised - qi).sum())
            qi = raised
            if spec.order_budget_per_week is not None:
                if cal.dow[t] == 0:
                    s.week_spend = 0.0
                value = float((qi * c.unit_cost[idx]).sum())
                room = max(spec.order_budget_per_week - s.week_spend, 0.0)
                if value > room:
                    scaled = np.floor(qi * (room / value))
                    budget_clipped = float((qi - scaled).sum())
                    qi = scaled
                s.week_spend += float((qi * c.unit_cost[idx]).sum())
            keep = qi > 0
            idx, qi = idx[keep], qi[keep]
            ordered[idx] = qi
            if idx.size:
                self._place_orders(t, idx, qi, noise, breakdown)

        # 4. demand
        mu = self._mean_demand(t, disc)
        if noise.gamma is not None:
            demand = poisson_icdf(mu * noise.gamma, noise.u_demand, noise.z_demand)
        elif spec.demand_noise == "poisson":
            demand = poisson_icdf(mu, noise.u_demand, noise.z_demand)
        else:
            demand = np.maximum(np.round(mu + spec.normal_cv * mu * noise.z_demand), 0.0)

        # 5. sales
        start_stock = s.on_hand
        if spec.backorders:
            want = demand + s.backlog
            sales = np.minimum(start_stock, want)
            s.backlog = want - sales
            lost = np.zeros(self.n)
        else:
            sales = np.minimum(start_stock, demand)
            lost = demand - sales
        s.on_hand = start_stock - sales
        p = self._perishable_idx
        if p.size:
            self._sell_fifo(sales[p])

        # 6. costs
        breakdown["revenue"] = float(sales @ price)
        breakdown["cogs"] = float(sales @ c.unit_cost)
        breakdown["holding"] = float(s.on_hand @ self._hold_unit)
        breakdown["lost_sales"] = float(lost @ self._lost_unit)
        if spec.backorders:
            breakdown["backorder"] = float(s.backlog @ self._bo_unit)

        # 7. ageing and waste
        expired = np.zeros(self.n)
        if p.size:
            ages = s.ages
            ages[1:] = ages[:-1].copy()
            ages[0] = 0.0
            gone = ages * self._expire_mask
            ages -= gone
            expired[p] = gone.sum(axis=0)
            s.on_hand[p] -= expired[p]
            breakdown["waste"] = float(expired @ self._waste_unit)

        # promotion bookkeeping, post-promotion dip, demand memory
        s.dip *= c.dip_decay
        s.promo_streak = np.where(active, s.promo_streak + 1.0, 0.0)
        s.promo_left = np.maximum(s.promo_left - 1, 0)
        ended = active & (s.promo_left == 0)
        if ended.any():
            s.dip[ended] = np.maximum(s.dip[ended], c.post_promo_dip[ended] * disc[ended])
        censored = lost > 0
        observed = np.where(censored, np.maximum(sales, s.sales_ema28), sales)
        s.sales_ema7 += _EMA7 * (observed - s.sales_ema7)
        s.sales_ema28 += _EMA28 * (observed - s.sales_ema28)
        s.last_sales = sales

        # 8. next morning's deliveries
        s.day = t + 1
        receipts, refused = self._receive(s.day)

        costs = sum(breakdown[k] for k in COST_TERMS)
        return DayResult(
            day=t,
            profit=breakdown["revenue"] - costs,
            breakdown=breakdown,
            demand=demand,
            sales=sales,
            lost=lost,
            price=price,
            discount=disc,
            ordered=ordered,
            receipts=receipts,
            expired=expired,
            refused=refused,
            mean_demand=mu,
            budget_clipped_units=budget_clipped,
            moq_added_units=moq_added,
        )

    def _place_orders(self, t, idx, qi, noise, breakdown) -> None:
        s, c, cal = self.state, self.catalog, self.calendar
        sup = c.supplier[idx]
        lead = c.sup_lead[sup] + cal.extra_lead[t][sup] + np.rint(c.sup_jitter[sup] * noise.z_lead[idx])
        lead = np.clip(lead, 0, self._ring - 1).astype(np.int64)
        full = noise.u_reliability[idx] < cal.reliability[t][sup]
        lo, hi = c.sup_fill_low[sup], c.sup_fill_high[sup]
        fill = np.where(full, 1.0, lo + (hi - lo) * noise.u_fill[idx])
        delivered = np.floor(qi * fill)
        breakdown["ordering"] += float(c.sup_order_cost[np.unique(sup)].sum())
        now = lead == 0
        if now.any():  # same-day delivery, before today's demand
            self._stock_in(idx[now], delivered[now])
            later = ~now
            idx, qi, delivered, lead = idx[later], qi[later], delivered[later], lead[later]
        slots = (t + lead) % self._ring
        s.pipeline[slots, idx] += delivered
        s.shortfall[slots, idx] += qi - delivered
        s.on_order[idx] += qi

    def _stock_in(self, idx: np.ndarray, units: np.ndarray) -> None:
        s = self.state
        s.on_hand[idx] += units
        if self._perishable_idx.size:
            pos = np.searchsorted(self._perishable_idx, idx)
            pos = np.minimum(pos, self._perishable_idx.size - 1)
            hit = self._perishable_idx[pos] == idx
            s.ages[0, pos[hit]] += units[hit]

    def _receive(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        s = self.state
        slot = day % self._ring
        arriving = s.pipeline[slot].copy()
        s.on_order -= arriving + s.shortfall[slot]
        s.pipeline[slot] = 0.0
        s.shortfall[slot] = 0.0
        refused = np.zeros(self.n)
        cap = self.spec.warehouse_capacity
        total_in = arriving.sum()
        if total_in <= 0:
            return arriving, refused
        if cap is not None:
            room = max(cap - float(s.on_hand.sum()), 0.0)
            if total_in > room:
                accepted = np.floor(arriving * (room / total_in))
                refused = arriving - accepted
                arriving = accepted
        s.on_hand += arriving
        p = self._perishable_idx
        if p.size:
            s.ages[0] += arriving[p]
        return arriving, refused

    def _sell_fifo(self, sold: np.ndarray) -> None:
        """Remove ``sold`` units per perishable SKU, oldest first."""
        oldest_first = self.state.ages[::-1]
        cum = np.cumsum(oldest_first, axis=0)
        taken_cum = np.minimum(cum, sold[None, :])
        taken = np.diff(taken_cum, axis=0, prepend=0.0)
        oldest_first -= taken  # a view: writes through to state.ages
