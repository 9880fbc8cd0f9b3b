"""Events from the simulator: what a shop's systems would have recorded on a simulated day.

:func:`events_from_day` turns a :class:`~envs.simulator.DayResult` (and the simulator,
read through its public view after the step) into typed events:

* one :class:`~online.events.SaleEvent` per SKU with sales (or, with ``max_line_units``,
  the day's sales split into order lines of 1..``max_line_units`` units, as an order
  feed would show them);
* a :class:`~online.events.PromotionChange` when a SKU's discount in force changes;
* a :class:`~online.events.Receipt` per SKU with units received (next morning's delivery,
  recorded on the next day);
* a :class:`~online.events.StockCount` per SKU whose day ended with zero stock (this is
  what marks the day's sales as censored) or, with ``stock_counts="all"``, for every SKU.

Event ids are ``"{prefix}{kind}:{day}:{sku}[:{line}]"``: deterministic, so replaying a day
produces the same ids. :func:`register_from_sim` declares the catalogue to a hub and
:func:`festivals_from_sim` reads the scenario's festival windows for the hub config.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np

from online.events import Event, PromotionChange, Receipt, SaleEvent, StockCount
from online.features import FestivalWindow

if TYPE_CHECKING:
    from envs.simulator import DayResult, MarketSimulator
    from online.hub import SignalHub

__all__ = ["events_from_day", "festivals_from_sim", "register_from_sim"]


def events_from_day(
    result: DayResult,
    sim: MarketSimulator,
    *,
    max_line_units: int | None = None,
    stock_counts: Literal["stockouts", "all", "none"] = "stockouts",
    prev_discount: np.ndarray | None = None,
    prefix: str = "",
) -> list[Event]:
    """Events recorded on simulated day ``result.day`` (call right after ``sim.step``).

    Args:
        result: the day's result.
        sim: the simulator, already stepped past ``result.day``.
        max_line_units: split each SKU's sales into order lines of at most this many units
            (seeded by the day, so deterministic); None gives one line per SKU.
        stock_counts: which end-of-day stock counts to emit.
        prev_discount: the discount in force the day before (to emit only changes); None
            emits a promotion event for every SKU with a discount and on the first day.
        prefix: prepended to every event id (to keep several runs apart).
    """
    day = int(result.day)
    ids = sim.sku_ids
    cats = sim.catalog.category_names
    cat_of = sim.catalog.category
    out: list[Event] = []
    disc = result.discount
    changed = (
        np.flatnonzero(disc > 0) if prev_discount is None else np.flatnonzero(disc != prev_discount)
    )
    for i in changed.tolist():
        out.append(
            PromotionChange(
                event_id=f"{prefix}promotion:{day}:{ids[i]}",
                sku=ids[i],
                day=day,
                category=cats[cat_of[i]],
                discount=float(disc[i]),
                duration_days=None,
            )
        )
    sold = np.flatnonzero(result.sales > 0)
    price = result.price
    if max_line_units is None:
        for i in sold.tolist():
            out.append(
                SaleEvent(
                    event_id=f"{prefix}sale:{day}:{ids[i]}",
                    sku=ids[i],
                    day=day,
                    category=cats[cat_of[i]],
                    quantity=float(result.sales[i]),
                    unit_price=float(price[i]),
                )
            )
    else:
        rng = np.random.default_rng([day, 7919])
        for i in sold.tolist():
            total = int(result.sales[i])
            sizes = rng.integers(1, max_line_units + 1, size=total)
            ends = np.minimum(np.cumsum(sizes), total)
            lines = np.diff(ends[: int(np.searchsorted(ends, total)) + 1], prepend=0)
            for k, q in enumerate(lines.tolist()):
                out.append(
                    SaleEvent(
                        event_id=f"{prefix}sale:{day}:{ids[i]}:{k}",
                        sku=ids[i],
                        day=day,
                        category=cats[cat_of[i]],
                        quantity=float(q),
                        unit_price=float(price[i]),
                    )
                )
    if stock_counts != "none":
        end_stock = sim.view().on_hand - result.receipts
        which = np.arange(sim.n) if stock_counts == "all" else np.flatnonzero(end_stock <= 0)
        for i in which.tolist():
            out.append(
                StockCount(
                    event_id=f"{prefix}stock:{day}:{ids[i]}",
                    sku=ids[i],
                    day=day,
                    category=cats[cat_of[i]],
                    on_hand=float(max(end_stock[i], 0.0)),
                )
            )
    for i in np.flatnonzero(result.receipts > 0).tolist():
        out.append(
            Receipt(
                event_id=f"{prefix}receipt:{day + 1}:{ids[i]}",
                sku=ids[i],
                day=day + 1,
                category=cats[cat_of[i]],
                quantity=float(result.receipts[i]),
            )
        )
    return out


def register_from_sim(hub: SignalHub, sim: MarketSimulator, launched_only: bool = True) -> int:
    """Declare the simulator's catalogue (ids, categories, list prices) to ``hub``.

    With ``launched_only`` (default) SKUs not yet on sale are left out: they register
    themselves with their first sale (and start from their category's level).
    """
    c = sim.catalog
    keep = np.flatnonzero(c.launch_day <= sim.day) if launched_only else np.arange(sim.n)
    return hub.register_skus(
        [c.sku_ids[i] for i in keep],
        [c.category_names[c.category[i]] for i in keep],
        c.price[keep].tolist(),
    )


def festivals_from_sim(sim: MarketSimulator) -> tuple[FestivalWindow, ...]:
    """The scenario's festival surges as hub festival windows (known ahead in a real shop)."""
    from envs.scenario import FestivalEvent

    out = []
    for ev in sim.spec.events:
        if isinstance(ev, FestivalEvent):
            out.append(
                FestivalWindow(
                    name=ev.name,
                    start_day=ev.day,
                    end_day=ev.day + ev.duration - 1,
                    categories=tuple(ev.categories) if ev.categories else None,
                )
            )
    return tuple(out)
