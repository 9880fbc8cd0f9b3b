"""The compiled day: one pass per SKU, fused, so a step costs microseconds at any size.

:mod:`envs.simulator` keeps all per-SKU state in one matrix (rows named below) and all
static per-SKU parameters in another; :func:`simulate_day` advances the state by one day in
place and writes the day's per-SKU outcomes and cost totals. The order of events within a
day and the cost accounting are documented in :mod:`envs.simulator`; this module is their
single implementation.
"""

from __future__ import annotations

import math

import numba
import numpy as np

# State rows (float64, shape (N_STATE, n)).
ON_HAND, BACKLOG, ON_ORDER, DISCOUNT, PROMO_LEFT, PROMO_STREAK, DIP = range(7)
EMA7, EMA28, LAST_SALES, BASE, ELASTICITY, TREND = range(7, 13)
N_STATE = 13
STATE_ROWS = (
    "on_hand",
    "backlog",
    "on_order",
    "discount",
    "promo_left",
    "promo_streak",
    "dip",
    "sales_ema7",
    "sales_ema28",
    "last_sales",
    "base",
    "elasticity",
    "trend",
)

# Static per-SKU parameter rows (float64, shape (N_PARAM, n)).
P_PRICE, P_COST, P_YAMP, P_YPEAK, P_LIFT, P_POSTDIP, P_DIPDECAY, P_FATIGUE = range(8)
P_MAXDISC, P_MOQ, P_HOLD, P_LOST, P_BO, P_WASTE, P_LAUNCH, P_RAMP = range(8, 16)
P_EOL, P_DECLINE = 16, 17
N_PARAM = 18

# Per-SKU outcome rows of a day (float64, shape (N_OUT, n)).
O_DEMAND, O_SALES, O_LOST, O_PRICE, O_DISC, O_ORDERED = range(6)
O_RECEIPTS, O_EXPIRED, O_REFUSED, O_MU = range(6, 10)
O_FINES = 10  # zeroed here; the simulator books notice fines and penalties into it
N_OUT = 11

# Day totals (float64, shape (N_TOTAL,)).
T_REVENUE, T_COGS, T_HOLDING, T_ORDERING, T_PROMOTION, T_LOST, T_BACKORDER, T_WASTE = range(8)
T_MOQ_ADDED, T_BUDGET_CLIPPED = 8, 9
N_TOTAL = 10

# Integer per-SKU columns (int64, shape (N_INT, n)).
I_CATEGORY, I_SUPPLIER, I_SHELF, I_PERISH = range(4)
N_INT = 4

NOISE_NEGBIN, NOISE_POISSON, NOISE_NORMAL = 0, 1, 2
_EXACT_BELOW = 30.0
_A7 = 2.0 / 8.0
_A28 = 2.0 / 29.0
_W = 2.0 * math.pi / 365.0


@numba.njit(cache=True, nogil=True)
def poisson_quantile(m: float, u: float, z: float) -> float:
    """Smallest k with P(Poisson(m) <= k) >= u; skew-corrected normal above a mean of 30."""
    if m <= 0.0:
        return 0.0
    if m < _EXACT_BELOW:
        p = math.exp(-m)
        cdf = p
        k = 0
        while u > cdf and k < 400:
            k += 1
            p *= m / k
            cdf += p
        return float(k)
    x = m + math.sqrt(m) * z + (z * z - 1.0) / 6.0
    return max(0.0, math.floor(x + 0.5))


@numba.njit(cache=True, nogil=True)
def mean_demand_into(
    t,
    dow,
    doy,
    fest_row,
    factor,
    disc,
    cat_sum,
    state,
    params,
    ints,
    weekly_t,
    cross,
    cat_size_m1,
    flags,
    out,
):
    """Noise-free mean demand per SKU on day ``t`` under discounts ``disc`` into ``out``.

    ``factor`` is the per-SKU demand multiplier of the day (notices' demand shifts; ones when
    none, an exact no-op); ``cat_sum`` is the sum of ``disc`` per category; ``flags`` =
    (has_yearly, has_lifecycle, has_cross, any_promo) as 0/1.
    """
    has_yearly, has_life, has_cross, any_promo = flags[0], flags[1], flags[2], flags[3]
    n = out.shape[0]
    for i in range(n):
        c = ints[I_CATEGORY, i]
        mu = state[BASE, i] * weekly_t[dow, i] * fest_row[c] * factor[i]
        if has_yearly:
            mu *= 1.0 + params[P_YAMP, i] * math.cos(_W * (doy - params[P_YPEAK, i]))
        tr = state[TREND, i]
        if tr != 0.0:
            mu *= math.exp(math.log1p(tr) * (t / 365.0))
        if has_life:
            since = t - params[P_LAUNCH, i] + 1.0
            if since <= 0.0:
                mu = 0.0
            else:
                mu *= min(1.0, since / max(params[P_RAMP, i], 1.0))
            past = t - params[P_EOL, i] + 1.0
            if past > 0.0:  # end of life: a linear decline to zero
                mu *= max(0.0, 1.0 - past / params[P_DECLINE, i])
        if any_promo:
            d = disc[i]
            if d > 0.0:
                mu *= math.exp(state[ELASTICITY, i] * math.log1p(-d))
                mu *= 1.0 + params[P_LIFT, i] * d * math.exp(
                    -state[PROMO_STREAK, i] / params[P_FATIGUE, i]
                )
            if has_cross:
                others = (cat_sum[c] - d) / cat_size_m1[c]
                mu *= max(1.0 + cross[c] * others, 0.0)
        dip = state[DIP, i]
        if dip != 0.0:
            mu *= 1.0 - dip
        out[i] = mu


@numba.njit(cache=True, nogil=True)
def simulate_day(
    t,
    dow,
    doy,
    fest_row,
    factor,
    extra_lead_row,
    rel_row,
    order_qty,
    promo_set,
    req_discount,
    duration,
    hold,
    params,
    ints,
    weekly_t,
    cross,
    cat_size_m1,
    sup_lead,
    sup_jitter,
    sup_order_cost,
    fill_lo,
    fill_hi,
    state,
    ages,
    pipeline,
    shortfall,
    week_spend,
    gamma,
    u_dem,
    z_dem,
    z_lead,
    u_rel,
    u_fill,
    config,
    flags,
    out,
    totals,
):
    """Advance ``state`` by day ``t`` under the plan; fill ``out`` and ``totals``.

    ``config`` = (noise_kind, normal_cv, backorders, budget (<0: none), capacity (<0: none),
    promo_fixed_cost, promo_daily_cost); ``flags`` = (has_yearly, has_lifecycle, has_cross).
    ``week_spend`` is a one-element array. ``factor`` multiplies each SKU's mean demand;
    ``hold`` marks SKUs taken off sale today: their demand is not served and not lost (it is
    reported as 0), their backlog waits, their stock stays and their sales memory sees 0.
    Returns nothing; all outputs are in place.
    """
    n = state.shape[1]
    ring = pipeline.shape[0]
    n_cat = cross.shape[0]
    n_sup = sup_lead.shape[0]
    max_age = ages.shape[0] - 1
    noise_kind = int(config[0])
    backorders = config[2] > 0.0
    budget = config[3]
    capacity = config[4]
    totals[:] = 0.0
    out[:, :] = 0.0

    # 2. promotions
    cat_sum = np.zeros(n_cat)
    active = np.zeros(n, dtype=np.bool_)
    starts = 0
    n_active = 0
    for i in range(n):
        was_active = state[PROMO_LEFT, i] > 0.0
        if promo_set[i]:
            d = min(req_discount[i], params[P_MAXDISC, i])
            prev = state[DISCOUNT, i] if was_active else 0.0
            if d > 0.0 and prev != d:
                starts += 1
                if prev == 0.0:
                    state[PROMO_STREAK, i] = 0.0
            if d == 0.0 and prev > 0.0:
                state[DIP, i] = max(state[DIP, i], params[P_POSTDIP, i] * prev)
            state[DISCOUNT, i] = d
            state[PROMO_LEFT, i] = float(max(duration[i], 1)) if d > 0.0 else 0.0
        if state[PROMO_LEFT, i] > 0.0:
            active[i] = True
            n_active += 1
            dd = state[DISCOUNT, i]
            out[O_DISC, i] = dd
            cat_sum[ints[I_CATEGORY, i]] += dd
        out[O_PRICE, i] = params[P_PRICE, i] * (1.0 - out[O_DISC, i])
    totals[T_PROMOTION] = config[5] * starts + config[6] * n_active

    # 3. purchase orders: MOQ, then the weekly budget, then lead time and fill
    value = 0.0
    any_order = False
    for i in range(n):
        q = math.ceil(order_qty[i])
        if q > 0.0:
            raised = max(q, params[P_MOQ, i])
            totals[T_MOQ_ADDED] += raised - q
            out[O_ORDERED, i] = raised
            value += raised * params[P_COST, i]
            any_order = True
    if any_order:
        scale = 1.0
        if budget >= 0.0:
            if dow == 0:
                week_spend[0] = 0.0
            room = max(budget - week_spend[0], 0.0)
            if value > room:
                scale = room / value
        sup_used = np.zeros(n_sup, dtype=np.bool_)
        for i in range(n):
            raised = out[O_ORDERED, i]
            if raised <= 0.0:
                continue
            q = math.floor(raised * scale) if scale < 1.0 else raised
            totals[T_BUDGET_CLIPPED] += raised - q
            out[O_ORDERED, i] = q
            if q <= 0.0:
                continue
            week_spend[0] += q * params[P_COST, i]
            s = ints[I_SUPPLIER, i]
            sup_used[s] = True
            lead = sup_lead[s] + extra_lead_row[s] + round(sup_jitter[s] * z_lead[i])
            lead = min(max(lead, 0), ring - 1)
            if u_rel[i] < rel_row[s]:
                delivered = q
            else:
                delivered = math.floor(q * (fill_lo[s] + (fill_hi[s] - fill_lo[s]) * u_fill[i]))
            if lead == 0:
                state[ON_HAND, i] += delivered
                p = ints[I_PERISH, i]
                if p >= 0:
                    ages[0, p] += delivered
            else:
                slot = (t + lead) % ring
                pipeline[slot, i] += delivered
                shortfall[slot, i] += q - delivered
                state[ON_ORDER, i] += q
        for s in range(n_sup):
            if sup_used[s]:
                totals[T_ORDERING] += sup_order_cost[s]

    # 4. demand
    mflags = np.empty(4, dtype=np.int64)
    mflags[0], mflags[1], mflags[2] = flags[0], flags[1], flags[2]
    mflags[3] = 1 if n_active > 0 else 0
    mu_row = out[O_MU]
    mean_demand_into(
        t,
        dow,
        doy,
        fest_row,
        factor,
        out[O_DISC],
        cat_sum,
        state,
        params,
        ints,
        weekly_t,
        cross,
        cat_size_m1,
        mflags,
        mu_row,
    )
    for i in range(n):
        mu = mu_row[i]
        if noise_kind == NOISE_NEGBIN:
            out[O_DEMAND, i] = poisson_quantile(mu * gamma[i], u_dem[i], z_dem[i])
        elif noise_kind == NOISE_POISSON:
            out[O_DEMAND, i] = poisson_quantile(mu, u_dem[i], z_dem[i])
        else:
            out[O_DEMAND, i] = max(math.floor(mu + config[1] * mu * z_dem[i] + 0.5), 0.0)

    # 5.-7. sales, costs, ageing; bookkeeping
    for i in range(n):
        stock = state[ON_HAND, i]
        dem = out[O_DEMAND, i]
        if hold[i]:  # off sale: nobody can buy it; nothing is sold, lost or backordered
            out[O_DEMAND, i] = 0.0
            sold = 0.0
            lost = 0.0
        elif backorders:
            want = dem + state[BACKLOG, i]
            sold = min(stock, want)
            state[BACKLOG, i] = want - sold
            lost = 0.0
        else:
            sold = min(stock, dem)
            lost = dem - sold
        state[ON_HAND, i] = stock - sold
        out[O_SALES, i] = sold
        out[O_LOST, i] = lost
        p = ints[I_PERISH, i]
        if p >= 0 and sold > 0.0:  # first in, first out
            rest = sold
            for a in range(max_age, -1, -1):
                take = min(ages[a, p], rest)
                ages[a, p] -= take
                rest -= take
                if rest <= 0.0:
                    break
        totals[T_REVENUE] += sold * out[O_PRICE, i]
        totals[T_COGS] += sold * params[P_COST, i]
        totals[T_HOLDING] += state[ON_HAND, i] * params[P_HOLD, i]
        totals[T_LOST] += lost * params[P_LOST, i]
        if backorders:
            totals[T_BACKORDER] += state[BACKLOG, i] * params[P_BO, i]
        if p >= 0:
            for a in range(max_age, 0, -1):
                ages[a, p] = ages[a - 1, p]
            ages[0, p] = 0.0
            gone = 0.0
            for a in range(ints[I_SHELF, i], max_age + 1):
                gone += ages[a, p]
                ages[a, p] = 0.0
            if gone > 0.0:
                out[O_EXPIRED, i] = gone
                state[ON_HAND, i] -= gone
                totals[T_WASTE] += gone * params[P_WASTE, i]
        # promotion bookkeeping and the post-promotion dip
        state[DIP, i] *= params[P_DIPDECAY, i]
        if active[i]:
            state[PROMO_STREAK, i] += 1.0
            state[PROMO_LEFT, i] -= 1.0
            if state[PROMO_LEFT, i] <= 0.0:
                state[PROMO_LEFT, i] = 0.0
                state[DIP, i] = max(state[DIP, i], params[P_POSTDIP, i] * out[O_DISC, i])
        else:
            state[PROMO_STREAK, i] = 0.0
        # censoring-aware demand memory: a stocked-out day never lowers the estimate
        seen = max(sold, state[EMA28, i]) if lost > 0.0 else sold
        state[EMA7, i] += _A7 * (seen - state[EMA7, i])
        state[EMA28, i] += _A28 * (seen - state[EMA28, i])
        state[LAST_SALES, i] = sold

    # 8. the next morning's deliveries, up to warehouse capacity
    slot = (t + 1) % ring
    total_in = 0.0
    for i in range(n):
        total_in += pipeline[slot, i]
        state[ON_ORDER, i] -= pipeline[slot, i] + shortfall[slot, i]
        shortfall[slot, i] = 0.0
    if total_in > 0.0:
        frac = 1.0
        if capacity >= 0.0:
            held = 0.0
            for i in range(n):
                held += state[ON_HAND, i]
            room = max(capacity - held, 0.0)
            if total_in > room:
                frac = room / total_in
        for i in range(n):
            arriving = pipeline[slot, i]
            if arriving <= 0.0:
                continue
            accepted = math.floor(arriving * frac) if frac < 1.0 else arriving
            out[O_RECEIPTS, i] = accepted
            out[O_REFUSED, i] = arriving - accepted
            state[ON_HAND, i] += accepted
            p = ints[I_PERISH, i]
            if p >= 0:
                ages[0, p] += accepted
            pipeline[slot, i] = 0.0


@numba.njit(cache=True, nogil=True)
def observe_into(state, margin, lead, to_festival, soon, out):
    """Write the 15 scaled per-SKU features (SKU-major) of ``MarketplaceEnv`` into ``out``."""
    n = state.shape[1]
    for i in range(n):
        k = i * 15
        ema28 = state[EMA28, i]
        out[k + 0] = math.log1p(state[ON_HAND, i])  # log1p caps: 30 is 1e13 units
        out[k + 1] = math.log1p(state[ON_ORDER, i])
        out[k + 2] = math.log1p(state[BACKLOG, i])
        out[k + 3] = math.log1p(state[EMA7, i])
        out[k + 4] = math.log1p(ema28)
        out[k + 5] = math.log1p(state[LAST_SALES, i])
        cover = (state[ON_HAND, i] + state[ON_ORDER, i]) / max(ema28, 0.1)
        out[k + 6] = min(cover, 360.0) / 30.0
        left = state[PROMO_LEFT, i]
        d = state[DISCOUNT, i] if left > 0.0 else 0.0
        out[k + 7] = 1.0 - d
        out[k + 8] = d
        out[k + 9] = min(left, 365.0) / 30.0
        out[k + 10] = min(state[PROMO_STREAK, i], 365.0) / 30.0
        out[k + 11] = min(lead[i], 365.0) / 30.0
        out[k + 12] = to_festival[i] / 365.0
        out[k + 13] = math.log1p(soon[i])
        out[k + 14] = margin[i]
