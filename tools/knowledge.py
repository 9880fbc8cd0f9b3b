"""What the knowledge base's directives do to a day's decisions.

Hard directives are rules: :func:`enforce_directives` is called by
:func:`tools.guardrails.apply_guardrails` (so every path that checks a plan, the daily plan
and an approval executed later, enforces them, whoever proposed or approved the line):

* ``kb.stop_sale``: a SKU that may not be sold gets no purchase order and no promotion, and
  the agent takes it off sale for the day (:func:`hold_lines`);
* ``kb.promotion_ban``: no promotion (any discount) on the SKU;
* ``kb.discount_cap``: the discount is clipped to the cap (dropped if nothing is left).

Soft directives change what the planners see (:func:`adjust_view`): a supplier delay adds
its days to the lead time of orders placed today; a demand shift in force on the day an
order placed today would arrive scales the sales averages the planners extrapolate; a
stop-sale in force on that day makes them zero (stock ordered now could not be sold).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from envs.directives import DirectiveArrays, compile_directives
from envs.simulator import ShopView

__all__ = ["adjust_view", "directive_arrays", "enforce_directives", "hold_lines"]


def directive_arrays(
    directives: Sequence[Any],
    day: dt.date,
    view: ShopView,
    category_names: Sequence[str],
    supplier_names: Sequence[str],
    supplier_of: np.ndarray,
) -> tuple[DirectiveArrays, DirectiveArrays]:
    """The directives in force today, and those in force when an order placed today arrives.

    The second compiles demand shifts and stop-sales at ``day + lead time`` (the largest lead
    time over the shop, delays included), which is what a planner ordering today must see.
    """
    cats = [category_names[c] for c in np.asarray(view.category, dtype=np.int64)]
    sups = [supplier_names[s] for s in np.asarray(supplier_of, dtype=np.int64)]
    now = compile_directives(directives, day, view.sku_ids, cats, sups)
    lead = float(np.max(np.asarray(view.lead_time) + now.extra_lead_days, initial=0.0))
    arrival = day + dt.timedelta(days=round(lead))
    ahead = compile_directives(directives, arrival, view.sku_ids, cats, sups)
    return now, ahead


def adjust_view(view: ShopView, now: DirectiveArrays, ahead: DirectiveArrays) -> ShopView:
    """A copy of ``view`` with the soft directives applied (see the module docstring)."""
    factor = np.where(ahead.stop_sale, 0.0, np.maximum(now.demand_factor, ahead.demand_factor))
    if np.all(factor == 1.0) and not now.extra_lead_days.any():
        return view
    return dataclasses.replace(
        view,
        lead_time=np.asarray(view.lead_time, dtype=float) + now.extra_lead_days,
        sales_ema7=np.asarray(view.sales_ema7, dtype=float) * factor,
        sales_ema28=np.asarray(view.sales_ema28, dtype=float) * factor,
    )


def hold_lines(now: DirectiveArrays, sku_ids: Sequence[str]) -> list[dict[str, Any]]:
    """One ``hold`` line per SKU that may not be sold today."""
    return [
        {"kind": "hold", "sku": sku_ids[i], "reason": "kb.stop_sale"}
        for i in np.flatnonzero(now.stop_sale).tolist()
    ]


def enforce_directives(
    directives: DirectiveArrays,
    qty: np.ndarray,
    pset: np.ndarray,
    disc: np.ndarray,
    dur: np.ndarray,
    record: Callable[..., None],
    *,
    running: np.ndarray | None = None,
    promo_left: np.ndarray | None = None,
) -> None:
    """Apply the hard directives to the plan vectors in place, recording each change.

    ``record(mask, kind, rule, outcome, detail, before, after)`` is the guardrails' event
    recorder (see :func:`tools.guardrails.apply_guardrails`). ``running`` and ``promo_left``
    (this morning's discounts and days left) let a running promotion that a directive now
    forbids be ended (or cut to the cap) by a line of the rules' own, also where the plan's
    line for that SKU was dropped.
    """
    stop = directives.stop_sale
    m = stop & (qty > 0)
    record(
        m, "restock", "kb.stop_sale", "dropped",
        "the knowledge base stops the sale of this SKU (a recall or compliance rule)",
        lambda i: {"quantity": int(qty[i])}, None,
    )  # fmt: skip
    qty[m] = 0.0
    m = stop & pset & (disc > 0)
    record(
        m, "promotion", "kb.stop_sale", "dropped",
        "the knowledge base stops the sale of this SKU (a recall or compliance rule)",
        lambda i: {"discount": round(float(disc[i]), 6)}, None,
    )  # fmt: skip
    pset[m] = False
    m = directives.promotion_ban & pset & (disc > 0)
    record(
        m, "promotion", "kb.promotion_ban", "dropped",
        "the knowledge base bans promotions on this SKU",
        lambda i: {"discount": round(float(disc[i]), 6)}, None,
    )  # fmt: skip
    pset[m] = False
    cap = directives.discount_cap
    m = pset & (disc > cap + 1e-9)
    before = disc.copy()
    new = np.where(m, np.floor(np.minimum(disc, cap) * 1000 + 1e-9) / 1000, disc)
    gone = m & (new <= 0)
    record(
        m & ~gone, "promotion", "kb.discount_cap", "clipped",
        lambda i: f"the knowledge base caps this SKU's discount at {cap[i]:.0%}",
        lambda i: {"discount": round(float(before[i]), 6)},
        lambda i: {"discount": round(float(new[i]), 6)},
    )  # fmt: skip
    record(
        gone, "promotion", "kb.discount_cap", "dropped",
        "the knowledge base allows no discount on this SKU",
        lambda i: {"discount": round(float(before[i]), 6)}, None,
    )  # fmt: skip
    disc[:] = new
    pset[gone] = False
    disc[~pset] = 0.0
    dur[~pset] = 0
    if running is not None:
        running = np.asarray(running, dtype=float)
        left = np.asarray(promo_left if promo_left is not None else np.ones_like(running))
        banned = (directives.stop_sale | directives.promotion_ban) & ~pset & (running > 0)
        record(
            banned, "promotion", "kb.promotion_ban", "clipped",
            "a running promotion on a SKU the knowledge base now forbids to promote is ended",
            lambda i: {"discount": round(float(running[i]), 6)},
            lambda i: {"discount": 0.0, "duration_days": 1},
        )  # fmt: skip
        pset[banned] = True
        disc[banned] = 0.0
        dur[banned] = 1
        over = ~pset & (running > directives.discount_cap + 1e-9)
        capped = np.where(over, directives.discount_cap, 0.0)
        record(
            over, "promotion", "kb.discount_cap", "clipped",
            "a running promotion above the knowledge base's cap is cut to the cap",
            lambda i: {"discount": round(float(running[i]), 6)},
            lambda i: {"discount": round(float(capped[i]), 6)},
        )  # fmt: skip
        pset[over] = True
        disc[over] = capped[over]
        dur[over] = np.maximum(left[over], 1)
