"""Lookahead planner (model-predictive control) over sampled futures.

Each morning the planner scores candidate decisions for today by simulating the next
``horizon`` days on forks of the simulator that draw a *fresh* future
(``sim.fork(seed=...)``, never the realised one), and keeps, per SKU, the candidate with the
highest mean profit attributed to that SKU. After today, every simulated future is driven by
the base policy (the tuned base-stock heuristic by default), so a candidate is "do this
today, then run the shop as usual".

Candidates are whole-catalogue plans, so one fork simulates a candidate for every SKU at
once; the planner then picks per SKU. The search is in two stages (each against the same
sampled futures: common random numbers):

1. **Promotion** for the next ``promo_days`` days: keep the base policy's choice, no
   promotion, or each depth in ``discounts`` (capped per category), all with the base
   policy's orders.
2. **Order** today, given the promotions chosen in stage 1: the base policy's order, none,
   or up to ``order_factors`` times the base policy's order-up-to level, chosen per
   *supplier* (the sum over its SKUs), so its fixed order cost is counted once.

Per-SKU profit in a simulated day is the SKU's revenue minus its cost of goods, holding,
lost-sales, backorder and waste costs and its promotion costs (a start is charged to the
SKU that starts), with each supplier's fixed order cost split evenly among the SKUs on that
purchase order. Couplings between SKUs (cannibalisation, shared order costs) are thereby
approximated when per-SKU choices are combined.

The model inside the forks is the scenario itself (the planner knows the demand model and
the calendar, as the base policy's forecast does) but not the realised random numbers.
Cost: ``(1 + len(discounts)) + (2 + len(order_factors))`` candidates x ``samples`` futures
x ``horizon`` days of simulation and base-policy decisions per real day.
"""

from __future__ import annotations

import numpy as np

from envs.plan import PlanArrays
from envs.simulator import DayResult, MarketSimulator, ShopView
from policies.errors import PolicyConfigError

__all__ = ["MPCPolicy"]


class MPCPolicy:
    """Score today's candidate promotions and orders on sampled futures; keep the best per SKU.

    Args:
        horizon: lookahead days (covers the longest lead time plus a review cycle by default).
        samples: sampled futures per candidate (common to all candidates).
        discounts: promotion depths tried (stage 1).
        promo_days: length of a promotion started by the planner.
        order_factors: order-up-to multiples of the base policy's level tried (stage 2).
        base: the policy that runs the simulated futures after today (default: the tuned
            base-stock heuristic, ``base_stock_tuned``).
        seed: seeds the sampled futures (``seed``, day and sample index give each fork's
            seed; nothing about the real episode's random numbers is used).
        min_gain: a candidate replaces the base choice for a SKU only if its mean lookahead
            profit is higher by at least this much (currency), to avoid chasing noise.
    """

    name = "mpc"

    def __init__(
        self,
        horizon: int = 21,
        samples: int = 4,
        discounts: tuple[float, ...] = (0.1, 0.2, 0.3),
        promo_days: int = 7,
        order_factors: tuple[float, ...] = (1.0, 1.5),
        base=None,
        seed: int = 0,
        min_gain: float = 1.0,
    ) -> None:
        problems = []
        if horizon < 1:
            problems.append(f"horizon must be at least 1 day; got {horizon}")
        if samples < 1:
            problems.append(f"samples must be at least 1; got {samples}")
        if any(not 0 < d < 1 for d in discounts):
            problems.append(f"discounts must lie in (0, 1); got {discounts}")
        if promo_days < 1:
            problems.append(f"promo_days must be at least 1; got {promo_days}")
        if any(f <= 0 for f in order_factors):
            problems.append(f"order_factors must be > 0; got {order_factors}")
        if min_gain < 0:
            problems.append(f"min_gain must be >= 0; got {min_gain}")
        if problems:
            raise PolicyConfigError("; ".join(problems))
        self.horizon = int(horizon)
        self.samples = int(samples)
        self.discounts = tuple(float(d) for d in discounts)
        self.promo_days = int(promo_days)
        self.order_factors = tuple(float(f) for f in order_factors)
        self.seed = int(seed)
        self.min_gain = float(min_gain)
        if base is None:
            from policies.base_stock import TunedBaseStockPolicy

            base = TunedBaseStockPolicy()
        self.base = base

    # ------------------------------------------------------------------ set-up
    def reset(self, sim: MarketSimulator) -> None:
        self.base.reset(sim)
        c, costs = sim.catalog, sim.spec.costs
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
        self._sim_id = id(sim)

    # ------------------------------------------------------------------ scoring
    def _sku_profit(self, r: DayResult, after: ShopView, prev_disc: np.ndarray) -> np.ndarray:
        """Profit of one simulated day attributed to each SKU."""
        end_stock = after.on_hand - r.receipts
        p = (
            r.sales * (r.price - self._cost)
            - end_stock * self._hold
            - r.lost * self._lost
            - after.backlog * self._bo
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

    def _evaluate(self, sim: MarketSimulator, plan: PlanArrays, seeds: list[int]) -> np.ndarray:
        """Mean per-SKU lookahead profit of ``plan`` today, then the base policy."""
        total = np.zeros(sim.n)
        for s in seeds:
            fork = sim.fork(seed=s)
            view = fork.view()
            prev = view.discount
            today = plan
            for _ in range(self.horizon):
                if fork.done:
                    break
                act = today if today is not None else self.base.act(view, fork)
                r = fork.step(act)
                view = fork.view()
                total += self._sku_profit(r, view, prev)
                prev = r.discount
                today = None
        return total / len(seeds)

    def _per_supplier(self, per_sku: np.ndarray) -> np.ndarray:
        return np.bincount(self._supplier, weights=per_sku, minlength=self._n_sup)

    # ------------------------------------------------------------------ act
    def act(self, view: ShopView, sim: MarketSimulator) -> PlanArrays:
        if getattr(self, "_sim_id", None) != id(sim):
            self.reset(sim)
        n = sim.n
        seeds = [hash((self.seed, view.day, k)) & 0x7FFF_FFFF for k in range(self.samples)]
        base_plan = self.base.act(view, sim)

        # Stage 1: promotions (with the base policy's orders).
        best_val = self._evaluate(sim, base_plan, seeds)
        chosen = _copy(base_plan)
        stop = _copy(base_plan)
        stop.promo_set = view.discount > 0
        stop.discount = np.zeros(n)
        stop.duration = np.zeros(n, dtype=np.int64)
        options = [(stop, None)]
        for d in self.discounts:
            cand = _copy(base_plan)
            depth = np.minimum(d, self._max_disc)
            cand.promo_set = depth > 0
            cand.discount = np.where(depth > 0, depth, 0.0)
            cand.duration = np.full(n, self.promo_days, dtype=np.int64)
            options.append((cand, depth))
        for cand, depth in options:
            if depth is not None and not (depth > 0).any():
                continue
            val = self._evaluate(sim, cand, seeds)
            better = val > best_val + self.min_gain
            if depth is not None:
                better &= depth > 0
            if better.any():
                best_val = np.where(better, val, best_val)
                chosen.promo_set = np.where(better, cand.promo_set, chosen.promo_set)
                chosen.discount = np.where(better, cand.discount, chosen.discount)
                chosen.duration = np.where(better, cand.duration, chosen.duration)

        # Stage 2: today's order, given the chosen promotions. Chosen per supplier (summed
        # over its SKUs) so the supplier's fixed order cost is charged exactly once.
        S = self.base.order_up_to(view) if hasattr(self.base, "order_up_to") else None
        position = view.on_hand + view.on_order - view.backlog
        order_options = [np.zeros(n)]
        if S is not None:
            order_options += [
                np.maximum(np.ceil(f * S - position), 0.0) for f in self.order_factors
            ]
        best_sup = self._per_supplier(self._evaluate(sim, chosen, seeds))
        base_qty = chosen.order_qty
        for qty in order_options:
            if np.array_equal(qty, base_qty):
                continue
            cand = _copy(chosen)
            cand.order_qty = qty
            val = self._per_supplier(self._evaluate(sim, cand, seeds))
            better = val > best_sup + self.min_gain
            if better.any():
                best_sup = np.where(better, val, best_sup)
                chosen.order_qty = np.where(better[self._supplier], qty, chosen.order_qty)
        return chosen


def _copy(p: PlanArrays) -> PlanArrays:
    return PlanArrays(
        order_qty=p.order_qty.copy(),
        promo_set=p.promo_set.copy(),
        discount=p.discount.copy(),
        duration=p.duration.copy(),
    )
