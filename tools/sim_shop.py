"""The simulator backend: a :class:`~tools.shop.Shop` over a :class:`~envs.MarketSimulator`.

When does the simulated day advance? Executing an action line does **not** step the
simulator: it queues the line on the open day (``day``). :meth:`SimShop.close_day` then steps
the simulator once, with every line executed for that day, and opens the next day. The agent's
runner is the clock: it closes a day after that day's graph has executed what it could (actions
still waiting for a person do not hold the day; when approved later they are executed on the
day that is open then). Restocks of one SKU on one day add up; the last promotion line wins;
a ``hold`` line (``{"kind": "hold", "sku": ...}``) takes the SKU off sale for that day only
(the agent holds it again each day it must stay off sale), and holding twice is holding once.

Notices: :meth:`SimShop.notices_today` gives the texts arriving on the open day (text,
author, source), never the effects the simulated world applies.

Idempotency: ``execute`` remembers every key it has seen; a repeated key returns
``duplicate`` and changes nothing. With the store in the loop the store is the record (its
executions table is unique on the key) and :meth:`close_day` is given the day's executed lines
from it, so lines executed by another process (a late approval in ``shopops chat``) count.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from envs.plan import PlanArrays
from envs.scenario import ScenarioSpec
from envs.simulator import DayResult, MarketSimulator, ShopView
from tools.actions import arrays_from_lines
from tools.errors import ShopBackendError
from tools.shop import WhatIf

__all__ = ["SimShop", "sku_day_profit"]


def sku_day_profit(sim: MarketSimulator, result: DayResult) -> np.ndarray:
    """Each SKU's attributable profit of the day ``sim`` just stepped (``result``).

    Margin on the units sold at the day's price, less holding of the stock left at the close,
    lost-sale penalties, waste, the promotion's daily cost and the notices' fines and
    penalties. Costs shared by several SKUs (a purchase order's fixed cost, a promotion's
    start-up cost) are left out, so the SKUs' figures do not add up to the shop's profit.
    """
    c, costs = sim.catalog, sim.spec.costs
    return (
        result.sales * (result.price - c.unit_cost)
        - sim.state.on_hand * c.unit_cost * costs.holding_rate_per_day
        - result.lost * c.price * costs.lost_sale_penalty_rate
        - result.expired * (c.unit_cost + costs.waste_disposal_cost)
        - (result.discount > 0) * costs.promo_daily_cost
        - result.fines
    )


class SimShop:
    """A simulated shop. ``sim`` is the live simulator (policies receive it for forks).

    Args:
        sim: the simulator, at the open day.
        shop_id: the shop's name in the store.
    """

    def __init__(self, sim: MarketSimulator, shop_id: str = "sim") -> None:
        self.sim = sim
        self.shop_id = shop_id
        c = sim.catalog
        self.sku_ids: tuple[str, ...] = tuple(sim.sku_ids)
        self.sku_index: dict[str, int] = dict(sim.sku_index)
        self.category_names: tuple[str, ...] = tuple(c.category_names)
        self.supplier_names: tuple[str, ...] = tuple(c.supplier_names)
        self.warehouse_capacity: float | None = sim.spec.warehouse_capacity
        self._queue: list[dict[str, Any]] = []
        self._seen: set[str] = set()
        self._view_cache: tuple[int, ShopView] | None = None

    @classmethod
    def from_scenario(
        cls, scenario: str | Path | ScenarioSpec, seed: int = 0, shop_id: str = "sim"
    ) -> SimShop:
        """A fresh shop at day 0 of ``scenario`` with episode seed ``seed``."""
        return cls(MarketSimulator.from_scenario(scenario, seed=seed), shop_id)

    # ------------------------------------------------------------------ reading
    @property
    def day(self) -> int:
        return self.sim.day

    @property
    def done(self) -> bool:
        return self.sim.done

    @property
    def horizon_days(self) -> int:
        return int(self.sim.spec.horizon_days)

    def date_of(self, day: int) -> dt.date:
        """The calendar date of simulated day ``day`` (the scenario's start date + day)."""
        return self.sim.spec.start_date + dt.timedelta(days=int(day))

    def view(self) -> ShopView:
        """This morning's view (cached for the open day; arrays must not be modified)."""
        if self._view_cache is None or self._view_cache[0] != self.sim.day:
            self._view_cache = (self.sim.day, self.sim.view())
        return self._view_cache[1]

    def notices_today(self) -> list[dict[str, Any]]:
        """The texts arriving on the open day: ``{"day", "text", "author", "source"}`` each,
        in file order (what a shop's inbox shows; the true effects are not included)."""
        return [
            {"day": n.day, "text": n.text, "author": n.author, "source": n.source}
            for n in self.sim.notices_on(self.day)
        ]

    def supplier_of(self) -> np.ndarray:
        return np.asarray(self.sim.catalog.supplier)

    def upcoming_events(self, horizon: int) -> list[dict[str, Any]]:
        """Festivals (per category) and supplier disruptions starting within ``horizon`` days.

        Only what a merchant knows in advance: demand drifts are not announced.
        """
        sim, out = self.sim, []
        view = self.view()
        cat = np.asarray(view.category)
        dtf = np.asarray(view.days_to_festival)
        for ci, name in enumerate(self.category_names):
            sel = cat == ci
            if sel.any():
                d = float(dtf[sel].min())
                if d < horizon:
                    out.append({"kind": "festival", "category": name, "in_days": int(d)})
        extra = np.asarray(sim.calendar.extra_lead)
        t0 = min(sim.day, extra.shape[0] - 1)
        window = extra[t0 : t0 + horizon]
        for si, name in enumerate(self.supplier_names):
            hit = np.flatnonzero(window[:, si] > 0)
            if hit.size:
                out.append(
                    {
                        "kind": "disruption",
                        "supplier": name,
                        "in_days": int(hit[0]),
                        "extra_lead_days": int(window[hit[0], si]),
                    }
                )
        return out

    # ------------------------------------------------------------------ acting
    def execute(self, line: Mapping[str, Any], key: str) -> dict[str, Any]:
        """Queue ``line`` on the open day; a key seen before is a ``duplicate`` no-op.

        ``line`` is a restock, a promotion or a hold (``{"kind": "hold", "sku": ...}``).

        Raises:
            ShopBackendError: the simulation is past its horizon, or the SKU is unknown.
        """
        if key in self._seen:
            return {"key": key, "status": "duplicate", "applied_day": None}
        if self.done:
            raise ShopBackendError(
                f"the simulated shop is past its horizon (day {self.day}); nothing can execute"
            )
        if line.get("sku") not in self.sku_index:
            raise ShopBackendError(f"unknown SKU {line.get('sku')!r} in action line {dict(line)}")
        self._seen.add(key)
        self._queue.append(dict(line))
        return {"key": key, "status": "executed", "applied_day": self.day}

    def mark_seen(self, keys: Sequence[str]) -> None:
        """Record keys executed elsewhere (restoring from the store), so they stay no-ops."""
        self._seen.update(keys)

    def queued_lines(self) -> list[dict[str, Any]]:
        """Lines executed on the open day so far (this process)."""
        return list(self._queue)

    def close_day(self, lines: Sequence[Mapping[str, Any]] | None = None) -> DayResult:
        """Step the simulator once with the day's executed ``lines`` (default: the queue).

        Raises:
            ShopBackendError: the simulation is past its horizon.
        """
        if self.done:
            raise ShopBackendError(f"the simulated shop is past its horizon (day {self.day})")
        todo = self._queue if lines is None else lines
        arrays = arrays_from_lines([x for x in todo if x.get("kind") != "hold"], self.sku_index)
        for line in todo:
            pos = self.sku_index.get(line["sku"]) if line.get("kind") == "hold" else None
            if pos is not None:
                arrays.hold[pos] = True
        result = self.sim.step(arrays)
        self._queue = []
        self._view_cache = None
        return result

    # ------------------------------------------------------------------ what-if
    def default_seed(self, salt: int = 0) -> int:
        """A reproducible seed for what-if futures on the open day (never the real future)."""
        return zlib.crc32(f"whatif:{self.sim.seed}:{self.day}:{salt}".encode()) & 0x7FFFFFFF

    def what_if(
        self,
        arrays: PlanArrays,
        horizon: int = 14,
        seed: int | None = None,
        baseline: PlanArrays | None = None,
    ) -> WhatIf:
        """The plan today then nothing, versus ``baseline`` today (default: nothing at all)
        then nothing, for ``horizon`` days.

        Both runs are forks with the same fresh ``seed`` (a sampled future, not the realised
        one), so the difference isolates the plan's effect over the baseline.
        """
        sim = self.sim
        seed = self.default_seed() if seed is None else int(seed)
        h = max(1, min(int(horizon), sim.spec.horizon_days - sim.day))
        if sim.done:
            return WhatIf(0, seed, 0.0, 0.0, 0.0, np.zeros(sim.n))
        plan_p, plan_sku = self._rollout(sim.fork(seed=seed), arrays, h)
        base_p, base_sku = self._rollout(sim.fork(seed=seed), baseline, h)
        return WhatIf(h, seed, plan_p - base_p, plan_p, base_p, plan_sku - base_sku)

    @staticmethod
    def _rollout(
        fork: MarketSimulator, first: PlanArrays | None, days: int
    ) -> tuple[float, np.ndarray]:
        total = 0.0
        per_sku = np.zeros(fork.n)
        for k in range(days):
            if fork.done:
                break
            r = fork.step(first if k == 0 else None)
            total += r.profit
            per_sku += sku_day_profit(fork, r)
        return total, per_sku
