"""The naive reorder rule: once a week, buy back what sold last week.

This is how a small shop without an inventory system restocks: every Monday (day-of-week 0)
it orders, per SKU, the units it sold over the previous seven days, and it never runs a
promotion. It keeps the inventory position roughly where it started (it replaces what
left the shelf), so it neither learns trends nor recovers from a stock-out, and a SKU that
has not sold yet (a launch with no opening stock) is never ordered. Its only memory is the
running weekly sales total it builds from ``view.last_sales``.
"""

from __future__ import annotations

import numpy as np

from envs.plan import PlanArrays
from envs.simulator import MarketSimulator, ShopView

__all__ = ["NaiveReorder"]


class NaiveReorder:
    """Order last week's unit sales every ``order_dow`` (0 = Monday); never promote.

    Args:
        order_dow: the weekday on which orders go out (0 = Monday ... 6 = Sunday).
    """

    name = "naive"

    def __init__(self, order_dow: int = 0) -> None:
        from policies.errors import PolicyConfigError

        if not isinstance(order_dow, int) or not 0 <= order_dow <= 6:
            raise PolicyConfigError(
                f"order_dow: must be a weekday number 0 (Monday) to 6 (Sunday); got {order_dow!r}"
            )
        self.order_dow = order_dow
        self._week_sales = np.zeros(0)

    def reset(self, sim: MarketSimulator) -> None:
        self._week_sales = np.zeros(sim.n)

    def act(self, view: ShopView, sim: MarketSimulator) -> PlanArrays:
        n = len(view.sku_ids)
        if self._week_sales.shape != (n,):
            self._week_sales = np.zeros(n)
        if view.day > 0:
            self._week_sales += view.last_sales
        plan = PlanArrays.empty(n)
        if view.dow == self.order_dow and view.day > 0:
            plan.order_qty = np.ceil(self._week_sales)
            self._week_sales = np.zeros(n)
        return plan
