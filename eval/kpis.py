"""Key performance indicators of one episode, computed from its days.

A run's KPIs are accumulated day by day from the morning's :class:`~envs.simulator.ShopView`
(inventory at the start of the day) and the day's :class:`~envs.simulator.DayResult`, so a
10,000-SKU year needs no stored history. Definitions (sums run over days and SKUs):

=========================  =================================================================
KPI                        definition
=========================  =================================================================
``profit``                 sum of daily profit (revenue minus every cost term)
``revenue``                sum of sales x price paid (after discount)
``cost_<term>``            each of :data:`envs.COST_TERMS` summed over days
``gross_margin``           (revenue - cogs) / revenue; NaN without revenue
``demand_units``           units customers asked for (new demand, not re-counted backorders)
``sales_units``            units sold (including backorders served late)
``fill_rate``              sales_units / demand_units (the unit service level); NaN without
                           demand
``stockout_sku_days``      SKU-days on which some demand (new or waiting) went unserved
``stockout_rate``          stockout_sku_days / (days x SKUs)
``lost_units``             units of demand lost (0 with backorders)
``lost_value``             lost units x the price they would have paid (revenue forgone;
                           the goodwill penalty is ``cost_lost_sales``)
``backorder_unit_days``    units waiting at the end of each day, summed (backorder scenarios)
``waste_units``            perishable units expired
``waste_value``            their cost (unit cost plus disposal) = ``cost_waste``
``avg_inventory_units``    mean over days of the units on hand at the start of the day
``avg_inventory_value``    the same valued at unit cost
``inventory_turns``        cogs / avg_inventory_value, annualised (x 365 / days); NaN when
                           no stock was ever held
``promo_cost``             the promotion cost term (set-up and per promoted SKU-day)
``promo_discount_value``   discount given away: sales x list price x discount
``promo_spend``            promo_cost + promo_discount_value
``promo_sku_days``         SKU-days on promotion (discount > 0)
``ordered_units``          units ordered (after minimum order quantities and budget caps)
``order_lines``            SKU-days with an order placed
``refused_units``          deliveries refused for lack of warehouse room
=========================  =================================================================

Percent of the oracle's profit is not a per-run KPI: it needs the oracle's run on the same
scenario and seed, and is computed by :func:`eval.stats.percent_of_reference`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

import numpy as np

from envs.simulator import COST_TERMS, DayResult, ShopView
from eval.errors import KpiError

__all__ = ["KPI_FIELDS", "KpiAccumulator", "Kpis", "compute_kpis"]


@dataclasses.dataclass(frozen=True)
class Kpis:
    """The KPIs of one episode (see the module docstring for each definition)."""

    days: int
    n_skus: int
    profit: float
    revenue: float
    costs: dict[str, float]
    gross_margin: float
    demand_units: float
    sales_units: float
    fill_rate: float
    stockout_sku_days: int
    stockout_rate: float
    lost_units: float
    lost_value: float
    backorder_unit_days: float
    waste_units: float
    waste_value: float
    avg_inventory_units: float
    avg_inventory_value: float
    inventory_turns: float
    promo_cost: float
    promo_discount_value: float
    promo_spend: float
    promo_sku_days: int
    ordered_units: float
    order_lines: int
    refused_units: float

    def as_dict(self) -> dict[str, float | int]:
        """A flat mapping (cost terms as ``cost_<term>``), in :data:`KPI_FIELDS` order."""
        out: dict[str, float | int] = {}
        for f in dataclasses.fields(self):
            if f.name == "costs":
                out.update({f"cost_{k}": v for k, v in self.costs.items()})
            else:
                out[f.name] = getattr(self, f.name)
        return out


#: Column names of :meth:`Kpis.as_dict`, in order.
KPI_FIELDS: tuple[str, ...] = tuple(
    name
    for f in dataclasses.fields(Kpis)
    for name in ([f"cost_{t}" for t in COST_TERMS] if f.name == "costs" else [f.name])
)


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


class KpiAccumulator:
    """Accumulates KPIs day by day: call :meth:`add` once per simulated day, then :meth:`result`.

    Args:
        list_price: per-SKU list price (``sim.catalog.price``), for the discount given away.
        unit_cost: per-SKU unit cost (``sim.catalog.unit_cost``), for inventory value.
    """

    def __init__(self, list_price: np.ndarray, unit_cost: np.ndarray) -> None:
        self._list_price = np.asarray(list_price, dtype=float)
        self._unit_cost = np.asarray(unit_cost, dtype=float)
        self._n = self._list_price.size
        self._days = 0
        self._sums = dict.fromkeys(
            (
                "profit", "revenue", "demand", "sales", "lost", "lost_value", "backlog",
                "expired", "inv_units", "inv_value", "discount_value", "ordered", "refused",
            ),
            0.0,
        )
        self._costs = dict.fromkeys(COST_TERMS, 0.0)
        self._stockouts = 0
        self._promo_days = 0
        self._order_lines = 0

    def add(self, view: ShopView, result: DayResult) -> None:
        """Add one day: ``view`` is that morning's view, ``result`` what ``step`` returned.

        Raises:
            KpiError: the arrays do not have one entry per SKU, or the view and result
                are of different days.
        """
        if view.day != result.day:
            raise KpiError(f"view is of day {view.day} but result of day {result.day}")
        if view.on_hand.shape != (self._n,) or result.sales.shape != (self._n,):
            raise KpiError(
                f"expected arrays over {self._n} SKUs; got on_hand {view.on_hand.shape}, "
                f"sales {result.sales.shape}"
            )
        s = self._sums
        self._days += 1
        s["profit"] += result.profit
        s["revenue"] += result.breakdown["revenue"]
        for term in COST_TERMS:
            self._costs[term] += result.breakdown[term]
        s["demand"] += float(result.demand.sum())
        s["sales"] += float(result.sales.sum())
        s["lost"] += float(result.lost.sum())
        s["lost_value"] += float(result.lost @ result.price)
        wanted = result.demand + view.backlog
        unserved = wanted - result.sales
        s["backlog"] += float(unserved.sum()) - float(result.lost.sum())
        self._stockouts += int(np.count_nonzero(unserved > 1e-9))
        s["expired"] += float(result.expired.sum())
        s["inv_units"] += float(view.on_hand.sum())
        s["inv_value"] += float(view.on_hand @ self._unit_cost)
        discounted = result.discount > 0
        self._promo_days += int(np.count_nonzero(discounted))
        s["discount_value"] += float(result.sales @ (self._list_price * result.discount))
        s["ordered"] += float(result.ordered.sum())
        self._order_lines += int(np.count_nonzero(result.ordered > 0))
        s["refused"] += float(result.refused.sum())

    def result(self) -> Kpis:
        """The KPIs of the days added so far.

        Raises:
            KpiError: no day was added.
        """
        if self._days == 0:
            raise KpiError("no days were added; run at least one day before asking for KPIs")
        s, c, d = self._sums, self._costs, self._days
        avg_value = s["inv_value"] / d
        turns = _ratio(c["cogs"] * 365.0 / d, avg_value)
        return Kpis(
            days=d,
            n_skus=self._n,
            profit=s["profit"],
            revenue=s["revenue"],
            costs=dict(c),
            gross_margin=_ratio(s["revenue"] - c["cogs"], s["revenue"]),
            demand_units=s["demand"],
            sales_units=s["sales"],
            fill_rate=_ratio(s["sales"], s["demand"]),
            stockout_sku_days=self._stockouts,
            stockout_rate=self._stockouts / (d * self._n) if self._n else math.nan,
            lost_units=s["lost"],
            lost_value=s["lost_value"],
            backorder_unit_days=s["backlog"],
            waste_units=s["expired"],
            waste_value=c["waste"],
            avg_inventory_units=s["inv_units"] / d,
            avg_inventory_value=avg_value,
            inventory_turns=turns,
            promo_cost=c["promotion"],
            promo_discount_value=s["discount_value"],
            promo_spend=c["promotion"] + s["discount_value"],
            promo_sku_days=self._promo_days,
            ordered_units=s["ordered"],
            order_lines=self._order_lines,
            refused_units=s["refused"],
        )


def compute_kpis(
    days: Iterable[tuple[ShopView, DayResult]], list_price: np.ndarray, unit_cost: np.ndarray
) -> Kpis:
    """The KPIs of a recorded sequence of ``(morning view, day result)`` pairs.

    Raises:
        KpiError: the sequence is empty or its arrays do not match the catalogue.
    """
    acc = KpiAccumulator(list_price, unit_cost)
    for view, result in days:
        acc.add(view, result)
    return acc.result()
