"""Lookahead planner (model-predictive control) over sampled futures of the planner's model.

Each morning the planner builds a few candidate plans for today, simulates each for the
next ``horizon`` days on forks of the simulator, and departs from the base policy (the
tuned base-stock heuristic) only where a candidate's *paired* gain is clearly positive.

What the planner knows
----------------------
The forks run the planner's own model of the shop, not the true one:

* **Known (public or the shop's own records):** the catalogue (prices, costs, suppliers,
  the catalogue's demand parameters: weekly and yearly seasonality, elasticity, trend,
  promotion lift, fatigue and dip, launch ramps, dispersion), the calendar of festivals and
  supplier disruptions, the cost model, and the shop's own state: stock (with the ages of
  perishable units), backlog, outstanding purchase orders (with their confirmed arrival days
  and quantities), running promotions with their streaks and the post-promotion dip they
  cause (a function of the shop's own promotion history), the week's purchase spend, and
  the censoring-aware sales averages ``sales_ema7`` / ``sales_ema28`` of the view.
* **Estimated:** base demand. Per SKU, ``base = 0.5 * ema7 / D7 + 0.5 * ema28 / D28``, where
  ``D`` is the same exponential average run over the known demand *multiplier* of each past
  day (weekly, yearly, festival, trend, lifecycle, the planner's own promotions and dips, at
  base demand 1), starting from 1 where the averages start from the catalogue's base demand.
  The ratio is unbiased while base demand is constant and follows a drift as fast as the
  averages do. Each sampled future draws its own base demand around this estimate
  (lognormal, with the estimate's sampling error under the catalogue's noise model), so
  decisions are robust to the estimate being off.
* **Not known:** drift events (the forks' calendar has none), the drifted elasticity and
  trend (the forks keep the catalogue's values), the true base demand after a drift, and the
  realised random numbers (each fork draws a fresh future, ``sim.fork(seed=...)``).

So a change of the hidden parameters alone (``state.base``, ``state.elasticity``,
``state.trend``) changes nothing the planner does; it is seen only through sales.
:meth:`MPCPolicy.planning_fork` returns the simulator the planner plans on.

The decision
------------
Candidates for today (all with the base policy's markdowns where it runs one):

* **base**: the heuristic's orders (its rule re-applied to its levels; identical to
  ``base.act`` while the planner has run no promotion of its own), except that SKUs in a
  promotion the planner started order up to their level times the promotion's expected
  uplift (catalogue elasticity and lift), and that the heuristic's levels are computed from
  sales averages with the planner's own promotions taken out (``ema * D_own / D``, with
  ``D_own`` the multiplier average without them), so a promotion's sales do not inflate the
  orders after it;
* **promote at depth d** for ``promo_days`` days (each of ``discounts``, capped per
  category) every SKU with no running promotion, with matching (uplifted) orders;
* **order ahead**: up to the largest order-up-to level of the next ``ahead_days`` days
  (pre-builds stock before a known festival or before a known disruption lengthens lead
  times), and **order up to** each of ``order_factors`` times today's level (none by
  default: on training seeds it only chased noise);
* **wait** (``wait=True``): no order today.

After today every simulated future runs the same continuation: the heuristic's order rule
(review days, reorder point, joint replenishment, no orders that would arrive after the
horizon) with its levels computed this morning for each day of the horizon (the levels follow
the calendar's festivals and lead times; they are not re-estimated from simulated sales),
uplifted while a promotion of the planner's runs, plus its markdown rules. At the horizon,
the stock position left is charged what it will still cost: holding for half its cover
(at most 90 days) and, for perishables, waste of what exceeds demand over the shelf life.
All candidates are scored on the
same ``samples`` futures (common random numbers). For each sample the gain of a candidate
over *base* is the difference in lookahead profit attributed to a SKU (promotions) or summed
over a supplier's SKUs (orders; the supplier's fixed order cost is shared by its lines). A
candidate replaces base for a SKU or supplier only if its mean paired gain exceeds both
``min_gain`` and ``z`` standard errors; among those, the largest mean gain wins.

Per-SKU profit in a simulated day is revenue minus cost of goods, holding, lost-sales,
backorder and waste costs and promotion costs (a start is charged to the SKU that starts),
with each supplier's fixed order cost split evenly among the SKUs on that purchase order.

Cost: up to ``3 + len(discounts) + len(order_factors)`` candidates x ``samples`` futures x
``horizon`` days of simulation, with a vectorised continuation (the heuristic's quantiles
are computed once a morning for each day of the horizon, not inside the forks);
``horizon=None`` uses the longest lead time today plus a week, within ``[7, 28]`` days.
A 180-day, 30-SKU episode takes about 15 CPU-seconds.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from envs import kernel as K
from envs.noise import NoiseSource
from envs.plan import PlanArrays
from envs.simulator import MarketSimulator, ShopView
from policies.errors import PolicyConfigError, PolicyError

__all__ = ["MPCPolicy"]

_A7 = 2.0 / 8.0  # the simulator's smoothing constants of sales_ema7 / sales_ema28
_A28 = 2.0 / 29.0
# Variance of 0.5 * ema7 + 0.5 * ema28 per unit variance of iid daily sales.
_BLEND_VAR = (
    0.25 * _A7 / (2 - _A7)
    + 0.25 * _A28 / (2 - _A28)
    + 0.5 * _A7 * _A28 / (1 - (1 - _A7) * (1 - _A28))
)


@dataclasses.dataclass
class _Future:
    """One sampled future: its random numbers and a draw of base demand per SKU."""

    noise: NoiseSource
    base: np.ndarray


@dataclasses.dataclass
class _Levels:
    """The heuristic's levels for each day of the horizon, computed this morning."""

    S: np.ndarray  # (H, n) order-up-to
    s: np.ndarray  # (H, n) reorder point
    daily: np.ndarray  # (H, n) forecast of the day
    lead: np.ndarray  # (H, n) lead time of an order placed that day


class MPCPolicy:
    """Score today's candidate plans on sampled futures of the planner's model; keep paired wins.

    Args:
        horizon: lookahead days; ``None`` adapts it to today's longest lead time plus a week
            (7 to 28 days).
        samples: sampled futures, common to all candidates (with one there is no standard
            error and only ``min_gain`` applies).
        discounts: promotion depths tried.
        promo_days: length of a promotion started by the planner.
        order_factors: order-up-to multiples of today's level tried per supplier.
        ahead_days: the "order ahead" candidate orders up to the largest level of the next
            this many days (0 disables it).
        wait: try ordering nothing today (per supplier).
        base: the heuristic whose levels and markdowns the planner starts from (default: the
            tuned base-stock heuristic, ``base_stock_tuned``); it must offer ``levels(view)``
            and ``params_for(category)`` like :class:`~policies.base_stock.BaseStockPolicy`.
        seed: seeds the sampled futures (with the day and sample index; nothing about the
            real episode's random numbers is used).
        min_gain: least mean paired gain (currency) for a candidate to replace the base choice.
        z: least mean paired gain in standard errors of that mean (over the samples).

    Raises:
        PolicyConfigError: an option is out of range (the message names it and its value).
    """

    name = "mpc"

    def __init__(
        self,
        horizon: int | None = None,
        samples: int = 12,
        discounts: tuple[float, ...] = (0.1, 0.2, 0.3),
        promo_days: int = 7,
        order_factors: tuple[float, ...] = (),
        ahead_days: int = 7,
        wait: bool = True,
        base=None,
        seed: int = 0,
        min_gain: float = 1.0,
        z: float = 1.5,
    ) -> None:
        problems = []
        if horizon is not None and horizon < 1:
            problems.append(f"horizon must be at least 1 day (or None); got {horizon}")
        if samples < 1:
            problems.append(f"samples must be at least 1; got {samples}")
        if any(not 0 < d < 1 for d in discounts):
            problems.append(f"discounts must lie in (0, 1); got {discounts}")
        if promo_days < 1:
            problems.append(f"promo_days must be at least 1; got {promo_days}")
        if any(f <= 0 for f in order_factors):
            problems.append(f"order_factors must be > 0; got {order_factors}")
        if ahead_days < 0:
            problems.append(f"ahead_days must be >= 0; got {ahead_days}")
        if min_gain < 0:
            problems.append(f"min_gain must be >= 0; got {min_gain}")
        if z < 0:
            problems.append(f"z must be >= 0; got {z}")
        if problems:
            raise PolicyConfigError("; ".join(problems))
        self.horizon = None if horizon is None else int(horizon)
        self.samples = int(samples)
        self.discounts = tuple(float(d) for d in discounts)
        self.promo_days = int(promo_days)
        self.order_factors = tuple(float(f) for f in order_factors)
        self.ahead_days = int(ahead_days)
        self.wait = bool(wait)
        self.seed = int(seed)
        self.min_gain = float(min_gain)
        self.z = float(z)
        if base is None:
            from policies.base_stock import TunedBaseStockPolicy

            base = TunedBaseStockPolicy()
        self.base = base
        self._catalog_id: int | None = None

    # ------------------------------------------------------------------ set-up
    def reset(self, sim: MarketSimulator) -> None:
        self.base.reset(sim)
        c, spec, costs = sim.catalog, sim.spec, sim.spec.costs
        n = sim.n
        self._n = n
        self._horizon_days = spec.horizon_days
        self._hold = c.unit_cost * costs.holding_rate_per_day
        self._lost = c.price * costs.lost_sale_penalty_rate
        self._bo = c.price * costs.backorder_rate_per_day
        self._waste = c.unit_cost + costs.waste_disposal_cost
        self._cost = c.unit_cost
        self._supplier = c.supplier
        self._sup_cost = c.sup_order_cost
        self._n_sup = len(c.supplier_names)
        self._promo_fixed = costs.promo_fixed_cost
        self._promo_daily = costs.promo_daily_cost
        self._max_disc = c.max_discount
        self._elasticity = c.elasticity.copy()
        self._trend = c.trend.copy()
        self._lift = c.promo_lift
        self._catalog_base = c.base_demand.copy()
        self._perishable = c.shelf_life > 0
        self._shelf = c.shelf_life.astype(float)
        self._dispersion = c.dispersion if spec.demand_noise == "negbin" else None
        if spec.demand_noise == "negbin":
            self._inv_k = 1.0 / c.dispersion
        elif spec.demand_noise == "normal":
            self._inv_k = np.full(n, spec.normal_cv**2)
        else:
            self._inv_k = np.zeros(n)
        self._any_perishable = bool(self._perishable.any())
        self._lead_static = c.sup_lead[c.supplier].astype(float)
        self._extra_lead = sim.calendar.extra_lead
        # The forks' calendar: festivals and disruptions, but no drift events.
        self._calendar = dataclasses.replace(sim.calendar, drifts={})
        # The heuristic's order and markdown parameters (per SKU, from its category's).
        params = [self.base.params_for(name) for name in c.category_names]
        per_sku = [params[k] for k in c.category]
        self._review = np.array([p.review_days for p in per_sku], dtype=np.int64)
        self._can = np.array([p.can_order for p in per_sku], dtype=float)
        over = [p.overstock_days for p in per_sku]
        self._over = np.array([math.inf if v is None else v for v in over], dtype=float)
        self._md_depth = np.minimum([p.markdown_depth for p in per_sku], c.max_discount)
        self._md_days = np.array([p.markdown_days for p in per_sku], dtype=np.int64)
        self._cl_depth = np.minimum([p.clearance_depth for p in per_sku], c.max_discount)
        mid_fill = 0.5 * (c.sup_fill_low + c.sup_fill_high)
        self._fill = (c.sup_reliability + (1 - c.sup_reliability) * mid_fill)[c.supplier]
        # Base-demand estimator: exponential averages of the known multiplier (see module).
        self._restart_estimator()
        self._est_day = 0
        self._own_until = np.zeros(n)  # the day each of the planner's own promotions ends
        self._catalog_id = id(sim.catalog)

    # ------------------------------------------------------------------ the planner's model
    def base_estimate(self, view: ShopView) -> np.ndarray:
        """The planner's base-demand estimate per SKU this morning (see the module docstring)."""
        b7 = np.where(self._d7 > 1e-9, view.sales_ema7 / np.maximum(self._d7, 1e-9), np.nan)
        b28 = np.where(self._d28 > 1e-9, view.sales_ema28 / np.maximum(self._d28, 1e-9), np.nan)
        est = 0.5 * b7 + 0.5 * b28
        return np.where(np.isfinite(est), est, self._catalog_base)

    def planning_fork(self, sim: MarketSimulator) -> MarketSimulator:
        """The simulator the planner plans on this morning: a fork of ``sim`` with the planner's
        point estimate of base demand, the catalogue's elasticity and trend, no drift events
        and a fresh future (see the module docstring).

        Raises:
            PolicyError: the planner has not followed ``sim`` up to this morning (its
                estimate is for another day; ``act`` must run on every day from ``reset``).
        """
        if self._catalog_id != id(sim.catalog) or self._est_day != sim.day:
            raise PolicyError(
                f"the planner's estimate is for day {self._est_day} of "
                f"{'this' if self._catalog_id == id(sim.catalog) else 'another'} shop; the "
                f"simulator is on day {sim.day}: reset and act on every day first"
            )
        self._base_hat = self.base_estimate(sim.view())
        return self._model_fork(sim)

    def _model_fork(self, sim: MarketSimulator, future: _Future | None = None):
        """A fork running the planner's model: estimated base demand (``future.base``, else
        the point estimate), catalogue elasticity and trend, no drift events, and a fresh
        future (``future.noise``, or a fork seeded away from the real one)."""
        fork = sim.fork(seed=self.seed ^ 0x5EED)
        if future is not None:
            fork.noise = future.noise.share()
        fork.calendar = self._calendar
        m = fork.state.m
        m[K.BASE] = self._base_hat if future is None else future.base
        m[K.ELASTICITY] = self._elasticity
        m[K.TREND] = self._trend
        return fork

    def _futures(self, view: ShopView, sim: MarketSimulator) -> list[_Future]:
        """``samples`` futures for today: fresh random numbers, and base demand drawn around
        the estimate with the estimate's own sampling error (lognormal, relative variance of
        the blend of the two averages under the catalogue's noise model)."""
        probe = self._model_fork(sim)
        mu = np.maximum(probe.mean_demand(discount=np.zeros(self._n)), 0.1)
        rel_var = _BLEND_VAR * (1.0 / mu + self._inv_k)
        sigma = np.sqrt(np.log1p(rel_var))
        out = []
        for k in range(self.samples):
            seed = hash((self.seed, view.day, k)) & 0x7FFF_FFFF
            z = np.random.default_rng(seed).standard_normal(self._n)
            base = self._base_hat * np.exp(sigma * z - 0.5 * sigma**2)
            out.append(_Future(NoiseSource(seed, self._n, self._dispersion), base))
        return out

    def _uplift(self, discount: np.ndarray) -> np.ndarray:
        """Expected demand multiplier of a promotion at ``discount`` (catalogue parameters)."""
        d = np.clip(discount, 0.0, 0.95)
        return np.where(d > 0, (1 - d) ** self._elasticity * (1 + self._lift * d), 1.0)

    def _restart_estimator(self) -> None:
        n = self._n
        self._d7, self._d28 = np.ones(n), np.ones(n)
        self._d7_own, self._d28_own = np.ones(n), np.ones(n)  # without its own promotions

    def _update_estimator(self, sim: MarketSimulator, view: ShopView, plan: PlanArrays) -> None:
        """Fold today's known demand multiplier (at base 1, under ``plan``) into ``D7``/``D28``,
        and the same without the planner's own promotions into their ``_own`` twins."""
        probe = self._model_fork(sim)
        probe.state.m[K.BASE] = 1.0
        disc = np.where(plan.promo_set, np.minimum(plan.discount, self._max_disc), view.discount)
        f = probe.mean_demand(discount=disc)
        own = (disc > 0) & (self._own_until > view.day)
        f_own = probe.mean_demand(discount=np.where(own, 0.0, disc)) if own.any() else f
        self._d7 += _A7 * (f - self._d7)
        self._d28 += _A28 * (f - self._d28)
        self._d7_own += _A7 * (f_own - self._d7_own)
        self._d28_own += _A28 * (f_own - self._d28_own)
        self._est_day = view.day + 1

    def _heuristic_view(self, view: ShopView) -> ShopView:
        """``view`` with the sales averages the heuristic would have seen without the planner's
        own promotions (their uplift is known; left in, it would inflate every later order)."""
        if np.array_equal(self._d7, self._d7_own) and np.array_equal(self._d28, self._d28_own):
            return view
        return dataclasses.replace(
            view,
            sales_ema7=view.sales_ema7 * self._d7_own / np.maximum(self._d7, 1e-9),
            sales_ema28=view.sales_ema28 * self._d28_own / np.maximum(self._d28, 1e-9),
        )

    # ------------------------------------------------------------------ the heuristic's rules
    def _levels(self, view: ShopView, days: int) -> _Levels:
        t = view.day
        S, s, daily, lead = [], [], [], []
        for j in range(days):
            d = min(t + j, self._horizon_days - 1)
            lead_j = self._lead_static + self._extra_lead[d][self._supplier]
            v = dataclasses.replace(view, day=t + j, lead_time=lead_j) if j else view
            Sj, sj, dj = self.base.levels(v)
            S.append(Sj)
            s.append(sj)
            daily.append(dj)
            lead.append(view.lead_time if j == 0 else lead_j)
        return _Levels(np.array(S), np.array(s), np.array(daily), np.array(lead))

    def _orders(
        self,
        day: int,
        on_hand: np.ndarray,
        on_order: np.ndarray,
        backlog: np.ndarray,
        S: np.ndarray,
        s: np.ndarray,
        lead: np.ndarray,
    ) -> np.ndarray:
        """The heuristic's order rule with the given levels (units per SKU)."""
        position = on_hand + on_order * self._fill - backlog
        review_day = (day % self._review) == 0
        must = np.where(review_day, position < S, position < s)
        must &= day + lead < self._horizon_days
        sup_active = np.bincount(self._supplier[must], minlength=self._n_sup) > 0
        order = must | (sup_active[self._supplier] & (position < self._can * S))
        return np.where(order, np.maximum(np.ceil(S - position), 0.0), 0.0)

    def _markdowns(
        self,
        plan: PlanArrays,
        on_hand: np.ndarray,
        promo_left: np.ndarray,
        expiring: np.ndarray,
        daily: np.ndarray,
    ) -> None:
        """The heuristic's markdown rules, into ``plan``."""
        idle = promo_left <= 0
        cover = on_hand / np.maximum(daily, 1e-6)
        over = idle & (cover > self._over) & (self._md_depth > 0)
        clear = idle & self._perishable & (expiring > 2.0 * daily) & (self._cl_depth > 0)
        promo = over | clear
        if promo.any():
            plan.promo_set = promo
            plan.discount = np.where(clear, self._cl_depth, np.where(over, self._md_depth, 0.0))
            plan.duration = np.where(clear, 2, self._md_days).astype(np.int64)

    # ------------------------------------------------------------------ scoring
    def _sku_profit(self, r, m: np.ndarray, prev_disc: np.ndarray) -> np.ndarray:
        """Profit of one simulated day attributed to each SKU."""
        end_stock = m[K.ON_HAND] - r.receipts
        p = (
            r.sales * (r.price - self._cost)
            - end_stock * self._hold
            - r.lost * self._lost
            - m[K.BACKLOG] * self._bo
            - r.expired * self._waste
        )
        promoted = r.discount > 0
        p -= np.where(promoted, self._promo_daily, 0.0)
        p -= np.where(promoted & (r.discount != prev_disc), self._promo_fixed, 0.0)
        ordered = r.ordered > 0
        if ordered.any():
            lines = np.bincount(self._supplier[ordered], minlength=self._n_sup)
            share = np.where(lines > 0, self._sup_cost / np.maximum(lines, 1), 0.0)
            p -= np.where(ordered, share[self._supplier], 0.0)
        return p

    def _simulate(
        self,
        sim: MarketSimulator,
        plan: PlanArrays,
        own_until: np.ndarray,
        future: _Future,
        lv: _Levels,
        h: int,
    ) -> np.ndarray:
        """Per-SKU lookahead profit of ``plan`` today, then the continuation, on one future."""
        fork = self._model_fork(sim, future)
        m = fork.state.m
        total = np.zeros(self._n)
        prev = np.where(m[K.PROMO_LEFT] > 0, m[K.DISCOUNT], 0.0)
        act = plan
        for j in range(h):
            if fork.done:
                break
            if j:
                own = (m[K.PROMO_LEFT] > 0) & (fork.state.day < own_until)
                mult = self._uplift(np.where(own, m[K.DISCOUNT], 0.0))
                act = PlanArrays.empty(self._n)
                act.order_qty = self._orders(
                    fork.state.day,
                    m[K.ON_HAND],
                    m[K.ON_ORDER],
                    m[K.BACKLOG],
                    lv.S[j] * mult,
                    lv.s[j] * mult,
                    lv.lead[j],
                )
                expiring = fork.view().expiring_soon if self._any_perishable else 0.0
                self._markdowns(act, m[K.ON_HAND], m[K.PROMO_LEFT], expiring, lv.daily[j])
            r = fork.step(act, validate=False)
            total += self._sku_profit(r, m, prev)
            prev = r.discount
        return total - self._terminal_cost(m, lv.daily[min(h, lv.daily.shape[0]) - 1])

    def _terminal_cost(self, m: np.ndarray, daily: np.ndarray) -> np.ndarray:
        """What the stock position left at the horizon will still cost, per SKU.

        Stock on hand and on order lasts ``cover = position / daily`` days (at most 90): it
        is held for half of that on average, and a perishable's units beyond
        ``daily * shelf_life`` expire.
        """
        position = m[K.ON_HAND] + m[K.ON_ORDER]
        d = np.maximum(daily, 1e-6)
        cover = np.minimum(position / d, np.where(self._perishable, self._shelf, 90.0))
        waste = np.where(self._perishable, np.maximum(position - d * self._shelf, 0.0), 0.0)
        return self._hold * position * cover / 2 + waste * self._waste

    def _decide(self, gains: np.ndarray) -> np.ndarray:
        """Mean paired gain where it clears ``min_gain`` and ``z`` standard errors, else -inf."""
        mean = gains.mean(axis=0)
        k = gains.shape[0]
        se = gains.std(axis=0, ddof=1) / math.sqrt(k) if k > 1 else np.zeros_like(mean)
        ok = (mean > self.min_gain) & (mean > self.z * se)
        return np.where(ok, mean, -np.inf)

    # ------------------------------------------------------------------ act
    def act(self, view: ShopView, sim: MarketSimulator) -> PlanArrays:
        if self._catalog_id != id(sim.catalog) or view.day < self._est_day:
            self.reset(sim)
        if view.day != self._est_day:  # days were skipped: restart the estimator
            self._restart_estimator()
            self._est_day = view.day
        self._base_hat = self.base_estimate(view)
        n, t = self._n, view.day
        lead_max = float(view.lead_time.max()) if n else 0.0
        h = self.horizon or int(np.clip(lead_max + 7, 7, 28))
        h = max(1, min(h, self._horizon_days - t))
        lv = self._levels(self._heuristic_view(view), max(h, self.ahead_days, 1))

        # Base: the heuristic's promotions (markdowns) and its order rule, uplifted for
        # SKUs in a running promotion the planner started (not the heuristic's markdowns,
        # which clear stock).
        base = PlanArrays.empty(n)
        self._markdowns(base, view.on_hand, view.promo_left, view.expiring_soon, lv.daily[0])
        own_running = (view.promo_left > 0) & (self._own_until > t)
        running = np.where(own_running, view.discount, 0.0)
        args = (t, view.on_hand, view.on_order, view.backlog)

        def orders(mult: np.ndarray, S: np.ndarray | None = None) -> np.ndarray:
            S = lv.S[0] if S is None else S
            return self._orders(*args, S * mult, lv.s[0] * mult, lv.lead[0])

        base_mult = self._uplift(running)
        base.order_qty = orders(base_mult)

        # Promotion candidates: every idle SKU the heuristic does not mark down.
        eligible = (view.promo_left <= 0) & ~base.promo_set
        promos: list[tuple[PlanArrays, np.ndarray, np.ndarray]] = []
        for d in self.discounts:
            depth = np.where(eligible, np.minimum(d, self._max_disc), 0.0)
            mask = depth > 0
            if not mask.any():
                continue
            cand = _copy(base)
            cand.promo_set = base.promo_set | mask
            cand.discount = np.where(mask, depth, base.discount)
            cand.duration = np.where(mask, self.promo_days, base.duration).astype(np.int64)
            cand.order_qty = orders(self._uplift(np.where(mask, depth, running)))
            promos.append((cand, mask, np.where(mask, t + self.promo_days, self._own_until)))

        # Order candidates (per supplier): ahead, factors, wait (an order-up-to level, or
        # None for no order).
        specs: list[np.ndarray | None] = []
        if self.ahead_days > 0:
            specs.append(lv.S[: self.ahead_days].max(axis=0))
        specs += [f * lv.S[0] for f in self.order_factors]
        if self.wait:
            specs.append(None)
        order_specs: list[np.ndarray | None] = []
        order_cands: list[np.ndarray] = []
        for spec in specs:
            q = np.zeros(n) if spec is None else orders(base_mult, spec)
            if np.array_equal(q, base.order_qty) or any(np.array_equal(q, p) for p in order_cands):
                continue
            order_specs.append(spec)
            order_cands.append(q)
        if not promos and not order_cands:
            self._update_estimator(sim, view, base)
            return base

        # Score on common futures.
        futures = self._futures(view, sim)
        plans = [(base, self._own_until)] + [(p, until) for p, _, until in promos]
        for q in order_cands:
            cand = _copy(base)
            cand.order_qty = q
            plans.append((cand, self._own_until))
        vals = np.array(
            [[self._simulate(sim, p, until, nz, lv, h) for nz in futures] for p, until in plans]
        )  # (candidates, samples, n)
        gains = vals[1:] - vals[0][None]

        chosen = _copy(base)
        # Promotions, per SKU.
        if promos:
            score = np.array([self._decide(gains[i]) for i in range(len(promos))])
            score = np.where(np.array([m for _, m, _ in promos]), score, -np.inf)
            best = score.argmax(axis=0)
            take = np.isfinite(score.max(axis=0))
            for i, (cand, _, until) in enumerate(promos):
                sel = take & (best == i)
                self._own_until = np.where(sel, until, self._own_until)
                running = np.where(sel, cand.discount, running)
                chosen.promo_set = np.where(sel, cand.promo_set, chosen.promo_set)
                chosen.discount = np.where(sel, cand.discount, chosen.discount)
                chosen.duration = np.where(sel, cand.duration, chosen.duration)
        # Orders, per supplier (with the uplift of the promotions chosen).
        chosen_mult = self._uplift(running)
        chosen.order_qty = orders(chosen_mult)
        if order_cands:
            k0 = len(promos)
            sup_gains = np.array(
                [
                    np.stack(
                        [
                            np.bincount(self._supplier, weights=g, minlength=self._n_sup)
                            for g in gains[k0 + i]
                        ]
                    )
                    for i in range(len(order_cands))
                ]
            )  # (order candidates, samples, suppliers)
            score = np.array([self._decide(g) for g in sup_gains])
            best = score.argmax(axis=0)
            take = np.isfinite(score.max(axis=0))
            for i, spec in enumerate(order_specs):
                sel = (take & (best == i))[self._supplier]
                q = np.zeros(n) if spec is None else orders(chosen_mult, spec)
                chosen.order_qty = np.where(sel, q, chosen.order_qty)
        self._update_estimator(sim, view, chosen)
        return chosen


def _copy(p: PlanArrays) -> PlanArrays:
    return PlanArrays(
        order_qty=p.order_qty.copy(),
        promo_set=p.promo_set.copy(),
        discount=p.discount.copy(),
        duration=p.duration.copy(),
    )
