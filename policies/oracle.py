"""The clairvoyant oracle: a provable upper bound on the profit of any policy, per seed.

What the oracle knows
---------------------
Everything: the scenario (catalogue, calendar, drift events, costs, and the true effects
of its notices from day 0, whenever their texts arrive) and the episode's realised random
numbers for every day and SKU (:mod:`envs.noise`): the demand uniforms and gamma shocks,
lead-time jitter, delivery reliability and fill draws. Because demand is drawn
by inverse transform, ``D = PoissonICDF(mu * G, U)``, it can compute the realised demand of
any SKU-day under *any* price or promotion choice, and the realised arrival day of an order
placed on any day.

What the bound is (:func:`profit_bound`)
---------------------------------------
The maximum episode profit over *all* action sequences on this seed is at least the profit
of every policy on it, anticipating or not, because each policy's run is one such sequence.
That maximum is hard to compute exactly (promotions, suppliers' fixed order costs, budgets
and cannibalisation couple SKUs and days), so the oracle computes an upper bound on it by
relaxing constraints in its own favour, each step valid on its own:

1. **Demand is over-estimated, never under.** For SKU ``i``, day ``t`` and discount ``d``
   the mean is the exogenous mean (base, weekly, yearly, trend, lifecycle, festival, the
   notices' demand shifts, drifted base and elasticity: none of these depend on actions;
   it is read from the simulator's own mean on a fork, so it includes every such factor)
   times ``(1 - d)^e`` times ``(1 + lift * d)`` (promotion fatigue
   ``exp(-streak / fatigue) <= 1`` dropped), times ``1 + max(halo - cannibalisation, 0) *
   max_discount`` (siblings' discounts at their most favourable), with the post-promotion
   dip dropped (``1 - dip <= 1``). Each factor is at least the true one, and the demand
   draw is non-decreasing in the mean for the same random numbers (where the Poisson
   quantile switches from exact search to the Cornish-Fisher formula at a mean of 30, the
   bound takes the larger of the two sides).
2. **Continuous discounts are covered.** Discounts are scored on a grid
   ``0 = d_0 < ... < d_J = max_discount``; a discount in ``(d_j, d_{j+1}]`` is credited with
   the demand at ``d_{j+1}`` and the unit margin at ``d_j`` (demand rises and margin falls
   with depth), minus the per-SKU-day promotion cost.
3. **Supply.** Orders are unlimited (the weekly budget, warehouse capacity and minimum order
   quantities are dropped) but arrive on their realised days (with the notices' supplier
   delays, :attr:`~envs.simulator.MarketSimulator.extra_lead`): a unit sold on day ``t``
   arrived on or before ``t`` (and, for perishables, at most ``shelf_life - 1`` days
   before), so it pays at least ``holding x (t - latest possible arrival day <= t)``. Days
   no order can reach are served only by the opening stock; their total sales are capped by
   it through a Lagrangian bound ``min_lambda [lambda * opening + sum_t max_d (...)]``, valid
   for every ``lambda >= 0`` (weak duality).
4. **Costs that are never negative are lower-bounded by zero**: ordering fixed costs,
   promotion start costs on opening-stock days, lost-sales penalties, backorder costs and
   waste. With backorders a unit demanded on a day may be sold later, so it is credited at
   the list-price margin.
5. **Notices' hard effects.** Without backorders a unit demanded on a day is sold that day
   or never, so on a day a ``stop_sale`` is in force for the SKU each unit is credited
   ``max(margin - compliance_fine_per_unit, 0)``: selling it earns the margin less the fine,
   holding the SKU (or not stocking it) earns 0, and nothing earns more. (With backorders
   the unit may wait and be sold after the stop ends, so no fine is deducted.) A promoted
   option pays ``policy_breach_penalty`` on a day a ``promotion_ban`` is in force, and an
   interval ``(d_j, d_{j+1}]`` pays it where ``d_j`` already exceeds a ``discount_cap`` in
   force (every discount in it is a breach); both are costs any policy choosing that
   option pays. Holding a SKU off sale is one of the choices the per-day maximum (``>= 0``)
   already covers.

So ``profit_bound(sim) >= profit(policy)`` for every policy run on the same scenario and
seed. The bound is tight where the realised optimum is "sell every unit demanded at the best
price with stock arriving just in time"; its slack is the ordering fixed costs (a few
hundred per supplier-month), holding that just-in-time delivery cannot avoid when lead
times jitter, post-promotion dips, cannibalisation, and the discount grid (a discount
between two grid points is credited with the upper point's demand and the lower point's
margin; 40 intervals by default).

The policy (:class:`OraclePolicy`) also *plays* with that knowledge: each day it picks per
SKU the discount that maximises today's realised margin (using the true state through a
shared fork), within the promotion bans and discount caps in force, holds a SKU under a
stop-sale whenever selling it would lose money after the fine, and orders per supplier every
few days exactly the realised demand (none for SKU-days it will hold) until the next order
can arrive. Its played profit is a feasible, usually strong result, but it is the bound,
not the play, that no policy can beat: report "% of oracle" against
:meth:`OraclePolicy.profit_bound`.
"""

from __future__ import annotations

import math

import numpy as np

from envs.noise import poisson_icdf
from envs.plan import PlanArrays
from envs.simulator import MarketSimulator, ShopView
from policies.errors import PolicyConfigError

__all__ = ["OracleBound", "OraclePolicy", "profit_bound"]

_CF_SWITCH = 30.0  # envs.noise._EXACT_BELOW


class OracleBound(float):
    """The bound as a float, with its parts (per SKU) attached for reports."""

    per_sku: np.ndarray
    opening_days: int

    def __new__(cls, value: float, per_sku: np.ndarray, opening_days: int) -> OracleBound:
        obj = super().__new__(cls, value)
        obj.per_sku = per_sku
        obj.opening_days = opening_days
        return obj


def _exogenous_path(sim: MarketSimulator) -> tuple[np.ndarray, np.ndarray]:
    """Exogenous mean demand (no promotion ever) and elasticity in force, per day and SKU."""
    fork = sim.fork()
    H, n = sim.spec.horizon_days, sim.n
    base = np.empty((H, n))
    elast = np.empty((H, n))
    empty = PlanArrays.empty(n)
    for t in range(H):
        r = fork.step(empty)
        base[t] = r.mean_demand
        elast[t] = fork.state.elasticity
    return base, elast


def _realised_demand(sim: MarketSimulator, t: int, mu: np.ndarray) -> np.ndarray:
    """Demand day ``t`` would have had with means ``mu`` (rows: options, cols: SKUs), made
    monotone across the exact / Cornish-Fisher switch so it bounds every smaller mean."""
    noise = sim.noise.day(t)
    shape = mu.shape
    kind = sim.spec.demand_noise
    g = noise.gamma if noise.gamma is not None else np.ones(sim.n)
    if kind == "normal":
        z = np.broadcast_to(noise.z_demand, shape)
        cv = sim.spec.normal_cv
        # floor(mu + cv mu z + 1/2), the kernel's rounding (envs/kernel.py), is monotone in
        # mu when 1 + cv z >= 0, else 0 for all mu.
        return np.maximum(np.floor(mu + cv * mu * z + 0.5), 0.0)
    lam = mu * g[None, :]
    u = np.broadcast_to(noise.u_demand, shape).ravel()
    z = np.broadcast_to(noise.z_demand, shape).ravel()
    d = poisson_icdf(lam.ravel(), u, z).reshape(shape)
    high = lam >= _CF_SWITCH
    if high.any():
        below = np.where(high, np.nextafter(_CF_SWITCH, 0.0), 0.0).ravel()
        d = np.maximum(d, poisson_icdf(below, u, z).reshape(shape))
    return d


def _arrival_days(sim: MarketSimulator) -> np.ndarray:
    """``arrive[tau, i]``: the day an order placed on ``tau`` would arrive (H if it cannot
    deliver anything or lands after the horizon)."""
    c, cal = sim.catalog, sim.calendar
    H, n = sim.spec.horizon_days, sim.n
    out = np.full((H, n), H, dtype=np.int64)
    sup = c.supplier
    for tau in range(H):
        nz = sim.noise.day(tau)
        lead = c.sup_lead[sup] + sim.extra_lead[tau][sup] + np.rint(c.sup_jitter[sup] * nz.z_lead)
        lead = np.clip(lead, 0, sim._ring - 1).astype(np.int64)
        full = nz.u_reliability < cal.reliability[tau][sup]
        lo, hi = c.sup_fill_low[sup], c.sup_fill_high[sup]
        fill = lo + (hi - lo) * nz.u_fill
        delivers = full | (fill > 0)
        a = tau + lead
        out[tau] = np.where(delivers & (a < H), a, H)
    return out


def _latest_arrival(arrive: np.ndarray) -> np.ndarray:
    """``latest[t, i]``: the latest day ``<= t`` on which some order can arrive (-1: none)."""
    H, n = arrive.shape
    hit = np.zeros((H + 1, n), dtype=bool)
    rows = arrive.ravel()
    cols = np.tile(np.arange(n), H)
    hit[rows, cols] = True
    hit = hit[:H]
    days = np.where(hit, np.arange(H)[:, None], -1)
    return np.maximum.accumulate(days, axis=0)


def profit_bound(
    sim: MarketSimulator, grid: int = 40, fatigue_states: int = 24, work_cap: float = 2e6
) -> OracleBound:
    """An upper bound on the episode profit any policy can make from ``sim``'s reset state.

    Args:
        sim: a simulator just reset to the episode's seed (day 0); it is not modified.
        grid: number of discount intervals per SKU (finer: tighter, slower).
        fatigue_states: promotion-streak states tracked by the per-SKU dynamic programme
            (0: drop promotion fatigue entirely, the loosest bound). Streaks beyond the last
            state are credited with that state's (larger) lift.
        work_cap: demand evaluations per day the programme may use; on big catalogues the
            grid and the streak states shrink to fit (the bound stays valid, gets looser).

    Raises:
        PolicyConfigError: ``sim`` is not at day 0.
    """
    if sim.day != 0:
        raise PolicyConfigError(
            f"profit_bound needs a simulator at day 0 (just reset); this one is at day {sim.day}"
        )
    c, spec, costs = sim.catalog, sim.spec, sim.spec.costs
    H, n = spec.horizon_days, sim.n
    grid = int(max(2, min(grid, work_cap // max(n, 1))))
    K = int(max(0, min(fatigue_states, work_cap // max(grid * n, 1) - 1)))
    base, elast = _exogenous_path(sim)
    # Discount grid per SKU: d_j = max_discount * j / grid (one point when no discount).
    frac = np.linspace(0.0, 1.0, grid + 1)
    dgrid = c.max_discount[None, :] * frac[:, None]  # (J+1, n)
    promo_ok = c.max_discount > 0
    cross = c.cat_halo - c.cat_cannibalisation
    cross_ub = np.where(
        c.cat_size[c.category] > 1, 1.0 + np.maximum(cross[c.category], 0.0) * c.max_discount, 1.0
    )
    lift = 1.0 + c.promo_lift[None, :] * dgrid  # (J+1, n)
    price_d = c.price[None, :] * (1.0 - dgrid)
    hold = c.unit_cost * costs.holding_rate_per_day

    backorders = spec.backorders
    if backorders:
        avail_class = np.zeros((H, n), dtype=np.int8)  # every day: unlimited, list margin
        latest = np.tile(np.arange(H)[:, None], (1, n))
    else:
        arrive = _arrival_days(sim)
        latest = _latest_arrival(arrive)
        shelf = c.shelf_life
        perishable = shelf > 0
        t_col = np.arange(H)[:, None]
        free = (latest >= 0) & (~perishable[None, :] | (latest >= t_col - shelf[None, :] + 1))
        opening_ok = ~perishable[None, :] | (t_col < shelf[None, :])
        # 0: free supply, 1: opening stock only, 2: nothing to sell.
        avail_class = np.where(free, 0, np.where(opening_ok, 1, 2)).astype(np.int8)
    opening = sim.state.on_hand.copy()
    fx = sim.notice_effects
    fine = costs.compliance_fine_per_unit
    breach_cost = costs.policy_breach_penalty

    free_value = np.zeros(n)
    open_D: list[np.ndarray] = []
    open_m: list[np.ndarray] = []
    open_cost: list[np.ndarray] = []
    # Promotion-streak programme (free-supply days only), run backwards in time:
    # V[k] = best value from today on with k consecutive promoted days behind us.
    V = np.zeros((K + 1, n))
    fatigue = np.exp(-np.arange(K + 1)[:, None] / c.fatigue_days[None, :])  # (K+1, n)
    nxt = np.minimum(np.arange(K + 1) + 1, K)
    start_cost = np.zeros((K + 1, 1))
    start_cost[0] = costs.promo_fixed_cost
    for t in reversed(range(H)):
        cls_t = avail_class[t]
        if (cls_t == 2).all():
            V = np.maximum(V[:1], np.where(promo_ok[None, :], V[nxt], -np.inf))
            continue
        mu0 = base[t]
        promo_mu = mu0[None, :] * np.exp(elast[t][None, :] * np.log1p(-dgrid)) * lift
        promo_mu = promo_mu * cross_ub[None, :]
        mu = np.vstack([mu0[None, :] * cross_ub[None, :], promo_mu[1:]])  # row 0: d = 0
        D = _realised_demand(sim, t, mu)  # rows 0..J: demand at d_j (upper end of interval)
        if backorders:
            m0 = c.price - c.unit_cost
            unit_lo = np.broadcast_to(m0, (grid + 1, n))
        else:
            nights = np.where(cls_t == 0, t - latest[t], t)
            unit_lo = price_d - c.unit_cost[None, :] - (hold * nights)[None, :]
            stop = None if fx is None else fx.stop_sale.get(t)
            if stop is not None:  # sold today or never: each unit pays the fine (5.)
                unit_lo = unit_lo - np.where(stop, fine, 0.0)[None, :]
        # Options: d = 0 exactly (row 0), and each interval (d_j, d_{j+1}] credited with
        # demand at d_{j+1}, margin at d_j, minus the daily promotion cost.
        D_opt = np.vstack([D[:1], D[1:]])
        m_opt = np.vstack([unit_lo[:1], unit_lo[:-1]])
        cost_opt = np.zeros((grid + 1, n))
        cost_opt[1:] = costs.promo_daily_cost
        if fx is not None:
            _add_breach_costs(cost_opt, dgrid, fx, t, breach_cost)
        allowed = np.ones((grid + 1, n), dtype=bool)
        allowed[1:] = promo_ok[None, :]
        val = np.where(allowed, D_opt * np.maximum(m_opt, 0.0) - cost_opt, -np.inf)
        best = np.maximum(val.max(axis=0), 0.0)
        free_day = cls_t == 0
        if K == 0:
            free_value += np.where(free_day, best, 0.0)
        else:
            V = _streak_step(
                sim,
                t,
                V,
                nxt,
                start_cost,
                free_day,
                promo_ok,
                mu0,
                elast[t],
                dgrid,
                c.promo_lift,
                fatigue,
                cross_ub,
                val[0],
                m_opt[1:],
                cost_opt[1:],
            )
        if (cls_t == 1).any():
            open_D.append(np.where(allowed & (cls_t == 1)[None, :], D_opt, 0.0))
            open_m.append(np.where(allowed, m_opt, 0.0))
            open_cost.append(np.where(allowed, cost_opt, np.inf))

    opening_value = np.zeros(n)
    if open_D:
        Ds, ms, cs = np.stack(open_D), np.stack(open_m), np.stack(open_cost)  # (T, J+1, n)
        best_lam = np.full(n, np.inf)
        for lam_frac in np.linspace(0.0, 1.0, 101):
            lam = lam_frac * c.price
            per_day = (Ds * np.maximum(ms - lam[None, None, :], 0.0) - cs).max(axis=1)
            total = np.maximum(per_day, 0.0).sum(axis=0) + lam * opening
            best_lam = np.minimum(best_lam, total)
        opening_value = best_lam
    if K > 0:
        free_value = V[0]  # day 0 starts with no promotion running
    per_sku = free_value + opening_value
    return OracleBound(float(per_sku.sum()), per_sku, len(open_D))


def _add_breach_costs(cost_opt, dgrid, fx, t, penalty) -> None:
    """Add day ``t``'s breach penalty to the options whose every discount is a breach: any
    promoted option under a promotion ban, an interval ``(d_{j-1}, d_j]`` (option row ``j``)
    whose lower end already exceeds a discount cap."""
    ban, cap = fx.promotion_ban.get(t), fx.discount_cap.get(t)
    breach = np.zeros(cost_opt[1:].shape, dtype=bool)
    if ban is not None:
        breach |= ban[None, :]
    if cap is not None:
        breach |= dgrid[:-1] > cap[None, :] + 1e-9
    cost_opt[1:] += np.where(breach, penalty, 0.0)


def _streak_step(
    sim,
    t,
    V,
    nxt,
    start_cost,
    free_day,
    promo_ok,
    mu0,
    elast,
    dgrid,
    lift,
    fatigue,
    cross_ub,
    off_value,
    m_lo,
    interval_cost,
) -> np.ndarray:
    """One backward step of the per-SKU programme over promotion streaks.

    On a free-supply day, promoting at streak ``k`` earns the best interval value (less the
    interval's cost ``interval_cost``, shape ``(J, n)``: the daily promotion cost and any
    breach penalty) with the lift scaled by ``exp(-k / fatigue)``; not promoting earns
    ``off_value`` and resets the streak. On other days (served by the opening stock, bounded
    separately) both moves earn nothing, so the streak is free to be anything.
    """
    n = V.shape[1]
    price_eff = np.exp(elast[None, :] * np.log1p(-dgrid[1:]))  # (J, n) at interval tops
    mu = (
        mu0[None, None, :]
        * price_eff[None, :, :]
        * (1.0 + lift[None, None, :] * dgrid[1:][None, :, :] * fatigue[:, None, :])
        * cross_ub[None, None, :]
    )  # (K+1, J, n)
    D = _realised_demand(sim, t, mu.reshape(-1, n)).reshape(mu.shape)
    on = (D * np.maximum(m_lo, 0.0)[None, :, :] - interval_cost[None, :, :]).max(axis=1)
    on = np.where(free_day[None, :], on - start_cost, 0.0)
    off = np.where(free_day, np.maximum(off_value, 0.0), 0.0)
    stay_off = off[None, :] + V[0][None, :]
    go_on = np.where(promo_ok[None, :], on + V[nxt], -np.inf)
    return np.maximum(stay_off, go_on)


def _hard_rows(sim: MarketSimulator, t: int):
    """(stop_sale, promotion_ban, discount_cap) rows in force on day ``t`` (``None``: none)."""
    fx = sim.notice_effects
    if fx is None:
        return None, None, None
    return fx.stop_sale.get(t), fx.promotion_ban.get(t), fx.discount_cap.get(t)


class OraclePolicy:
    """Clairvoyant play plus the provable bound (see the module docstring).

    Anticipating: reads the realised future through ``sim.fork()`` (shared random numbers).
    Never compare a real policy's *played* profit with this policy's played profit to claim
    optimality; use :meth:`profit_bound`.

    Args:
        cycle_days: days between a supplier's orders in play (joint replenishment).
        discount_levels: discounts the play considers each day.
    """

    name = "oracle"
    anticipating = True

    def __init__(
        self, cycle_days: int = 7, discount_levels: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3)
    ) -> None:
        if cycle_days < 1:
            raise PolicyConfigError(f"cycle_days: must be at least 1; got {cycle_days}")
        if not discount_levels or discount_levels[0] != 0.0:
            raise PolicyConfigError("discount_levels: must start with 0.0 (no promotion)")
        self.cycle_days = int(cycle_days)
        self.discount_levels = tuple(float(d) for d in discount_levels)
        self.bound: OracleBound | None = None

    def profit_bound(self, sim: MarketSimulator) -> OracleBound:
        """The upper bound on any policy's profit from ``sim`` (at day 0)."""
        return profit_bound(sim)

    def reset(self, sim: MarketSimulator) -> None:
        self._arrive = None if sim.spec.backorders else _arrival_days(sim)
        self._H = sim.spec.horizon_days
        self._sim_id = id(sim)

    def act(self, view: ShopView, sim: MarketSimulator) -> PlanArrays:
        if getattr(self, "_sim_id", None) != id(sim):
            self.reset(sim)
        n, t, c, costs = sim.n, view.day, sim.catalog, sim.spec.costs
        plan = PlanArrays.empty(n)
        stop, ban, cap = _hard_rows(sim, t)
        fine = np.where(stop, costs.compliance_fine_per_unit, 0.0) if stop is not None else 0.0
        # Discount: today's realised margin under the true state, per SKU, inside the bans
        # and caps in force.
        best_val = np.full(n, -np.inf)
        best_d = np.zeros(n)
        for d in self.discount_levels:
            disc = np.minimum(np.full(n, d), c.max_discount)
            if cap is not None:
                disc = np.minimum(disc, cap)
            if ban is not None:
                disc = np.where(ban, 0.0, disc)
            mu = sim.mean_demand(discount=disc)
            dem = _realised_demand(sim, t, mu[None, :])[0]
            val = dem * (c.price * (1 - disc) - c.unit_cost - fine) - np.where(
                disc > 0, costs.promo_daily_cost, 0.0
            )
            better = val > best_val + 1e-9
            best_val = np.where(better, val, best_val)
            best_d = np.where(better, disc, best_d)
        if stop is not None:  # off sale where selling loses money after the fine
            plan.hold = stop & (best_val <= 0.0)
        change = best_d != view.discount
        plan.promo_set = change
        plan.discount = np.where(change, best_d, 0.0)
        plan.duration = np.where(change, self._H, 0).astype(np.int64)
        # Orders: cover realised demand (at list price plus a margin for promotions) from
        # the arrival of today's order until the arrival of the next cycle's order.
        if t % self.cycle_days == 0:
            plan.order_qty = self._orders(view, sim)
        return plan

    def _orders(self, view: ShopView, sim: MarketSimulator) -> np.ndarray:
        n, t, H = sim.n, view.day, self._H
        if self._arrive is not None:
            a_now = self._arrive[t]
            nxt = min(t + self.cycle_days, H - 1)
            a_next = np.maximum(self._arrive[nxt], a_now + 1) if nxt > t else np.full(n, H)
        else:
            c = sim.catalog
            lead = (c.sup_lead + sim.extra_lead[min(t, H - 1)])[c.supplier].astype(np.int64)
            a_now = t + lead
            a_next = a_now + self.cycle_days
        # Realised demand per future day at list price (promotions add a cushion).
        future = np.zeros(n)
        before = np.zeros(n)
        c, costs = sim.catalog, sim.spec.costs
        loses = c.price - c.unit_cost <= costs.compliance_fine_per_unit
        for k in range(t, min(int(a_next.max()), H)):
            mu = sim.mean_demand(discount=np.zeros(n), day=k)
            dem = _realised_demand(sim, k, mu[None, :])[0] * (1.0 + 0.5 * c.promo_lift * 0.1)
            stop = _hard_rows(sim, k)[0]
            if stop is not None:  # held, so not sold: no stock for it
                dem = np.where(stop & loses, 0.0, dem)
            future += np.where((k >= a_now) & (k < a_next), dem, 0.0)
            before += np.where(k < a_now, dem, 0.0)
        stock_at_arrival = np.maximum(view.on_hand + view.on_order - view.backlog - before, 0.0)
        need = np.where(a_now < H, np.maximum(np.ceil(future - stock_at_arrival), 0.0), 0.0)
        if math.isfinite(float(need.sum())):
            return need
        return np.zeros(n)
