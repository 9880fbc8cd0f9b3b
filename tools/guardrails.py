"""Guardrails: repair (clip) or drop every part of a plan that breaks a hard rule.

:func:`apply_guardrails` takes the policy's :class:`~envs.plan.PlanArrays` and returns the
checked arrays plus one :class:`RuleEvent` per repair or refusal, naming its rule (ids in
:mod:`tools.rules`). It never raises on a bad plan: bad values are dropped with a reason.
Everything is vectorised over SKUs; only the budget and capacity cut-offs walk a sorted list.

Order of checks, per SKU line:

1. ``input.invalid``: non-finite or negative quantities, discounts outside ``[0, 1)``.
2. ``category.no_restock`` / ``category.no_promotions``: the category forbids the kind;
   then the knowledge base's hard directives (``kb.stop_sale``, ``kb.promotion_ban``,
   ``kb.discount_cap``, see :mod:`tools.knowledge`).
3. ``discount.cap``: clip to the smallest of the catalogue cap, the global and category cap.
4. ``promotion.duration``: clip to ``max_promotion_days``.
5. ``price.floor``: the discounted price may not fall below ``unit_cost x (1 + min_margin)``
   unless the SKU has units near expiry and ``allow_clearance_below_cost``; clip the discount
   to the floor, drop the promotion if no discount is left.
6. ``order.max_units`` then ``order.max_cover_days``: clip the quantity.
7. ``moq.minimum``: raise to the supplier's minimum order quantity (when ``enforce_moq``),
   or drop when the cover or unit limit sits below the minimum.
8. ``budget.cash``, ``budget.daily``, ``budget.weekly``: orders are funded most urgent first
   (fewest days of cover); the first one that does not fit is cut to what is left (dropped
   if that is under its minimum), the rest are dropped.
9. ``capacity.warehouse``: the same, for units on hand + on order + ordered.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from envs.directives import DirectiveArrays
from envs.plan import PlanArrays
from envs.simulator import ShopView
from tools.knowledge import enforce_directives
from tools.rules import RulesConfig

__all__ = ["GuardResult", "RuleEvent", "apply_guardrails"]


@dataclasses.dataclass
class RuleEvent:
    """One repair (``clipped``) or refusal (``dropped``) of one SKU line."""

    sku: str | None
    kind: str  # restock | promotion | plan
    rule: str
    outcome: str  # clipped | dropped
    detail: str
    before: dict[str, Any]
    after: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class GuardResult:
    """The checked plan and what was changed on the way."""

    arrays: PlanArrays
    events: list[RuleEvent]

    def by_rule(self) -> dict[str, int]:
        """Number of events per rule id."""
        out: dict[str, int] = {}
        for e in self.events:
            out[e.rule] = out.get(e.rule, 0) + 1
        return out


def _cat_values(
    rules: RulesConfig, names: Sequence[str], attr: str, default: float | None
) -> np.ndarray:
    vals = []
    for name in names:
        c = rules.categories.get(name)
        v = getattr(c, attr) if c is not None else None
        vals.append(default if v is None else v)
    return np.array([np.nan if v is None else float(v) for v in vals])


def apply_guardrails(
    arrays: PlanArrays,
    view: ShopView,
    rules: RulesConfig,
    category_names: Sequence[str],
    *,
    forecast: np.ndarray | None = None,
    spent_today: float = 0.0,
    spent_this_week: float = 0.0,
    shop_capacity: float | None = None,
    directives: DirectiveArrays | None = None,
) -> GuardResult:
    """Check ``arrays`` against ``rules`` for the shop seen in ``view``.

    Args:
        arrays: the proposed plan (not modified).
        view: this morning's view (stock, prices, costs, caps, minimum order quantities).
        rules: the shop's rules.
        category_names: names of the category indices in ``view.category``.
        forecast: expected daily sales per SKU; cover days and urgency use the larger of it
            and the 7- and 28-day sales averages.
        spent_today: purchase-order value already executed today (counts against budgets).
        spent_this_week: value executed this shop week before today.
        shop_capacity: the backend's own warehouse limit (the rules' value wins if smaller).
        directives: the knowledge base's directives in force today (hard ones enforced, see
            :mod:`tools.knowledge`); ``None``: no knowledge base.
    """
    n = len(view.sku_ids)
    sku_ids = view.sku_ids
    events: list[RuleEvent] = []
    qty = np.array(arrays.order_qty, dtype=float, copy=True)
    pset = np.array(arrays.promo_set, dtype=bool, copy=True)
    disc = np.array(arrays.discount, dtype=float, copy=True)
    dur = np.array(arrays.duration, dtype=np.int64, copy=True)
    if qty.shape != (n,) or pset.shape != (n,) or disc.shape != (n,) or dur.shape != (n,):
        events.append(
            RuleEvent(
                None,
                "plan",
                "input.invalid",
                "dropped",
                f"plan vectors must have shape ({n},); the whole plan was refused",
                {"shape": [list(np.shape(a)) for a in (qty, pset, disc, dur)]},
                None,
            )
        )
        return GuardResult(PlanArrays.empty(n), events)

    def rec(mask: np.ndarray, kind: str, rule: str, outcome: str, detail, before, after) -> None:
        for i in np.flatnonzero(mask).tolist():
            events.append(
                RuleEvent(
                    sku_ids[i],
                    kind,
                    rule,
                    outcome,
                    detail(i) if callable(detail) else detail,
                    before(i),
                    None if after is None else after(i),
                )
            )

    def promo(i: int, d: np.ndarray | None = None) -> dict[str, Any]:
        d = disc if d is None else d  # the current discounts unless given
        return {"discount": round(float(d[i]), 6), "duration_days": int(dur[i])}

    cat = np.asarray(view.category, dtype=np.int64)
    names = list(category_names)
    price = np.asarray(view.list_price, dtype=float)
    cost = np.asarray(view.unit_cost, dtype=float)
    moq = np.asarray(view.moq, dtype=float)

    # 1. invalid input
    bad_q = ~np.isfinite(qty) | (qty < 0)
    rec(
        bad_q,
        "restock",
        "input.invalid",
        "dropped",
        lambda i: f"order quantity {qty[i]!r} is not a finite number >= 0",
        lambda i: {"quantity": repr(float(qty[i]))},
        None,
    )
    qty[bad_q] = 0.0
    qty = np.ceil(qty)
    bad_d = pset & (~np.isfinite(disc) | (disc < 0) | (disc >= 1))
    rec(
        bad_d,
        "promotion",
        "input.invalid",
        "dropped",
        lambda i: f"discount {disc[i]!r} is outside [0, 1)",
        lambda i: {"discount": repr(float(disc[i]))},
        None,
    )
    pset &= ~bad_d
    disc = np.where(pset, disc, 0.0)
    dur = np.where(pset, np.maximum(dur, 1), 0)

    # 2. category permissions
    no_restock = np.array(
        [not rules.categories[c].allow_restock if c in rules.categories else False for c in names],
        dtype=bool,
    )[cat]
    no_promo = np.array(
        [
            not rules.categories[c].allow_promotions if c in rules.categories else False
            for c in names
        ],
        dtype=bool,
    )[cat]
    m = (qty > 0) & no_restock
    rec(
        m,
        "restock",
        "category.no_restock",
        "dropped",
        lambda i: f"category {names[cat[i]]!r} allows no purchase orders",
        lambda i: {"quantity": int(qty[i])},
        None,
    )
    qty[m] = 0.0
    m = pset & (disc > 0) & no_promo
    rec(
        m,
        "promotion",
        "category.no_promotions",
        "dropped",
        lambda i: f"category {names[cat[i]]!r} allows no promotions",
        lambda i: promo(i),
        None,
    )
    pset &= ~m
    if directives is not None:  # 2b. the knowledge base's hard directives
        enforce_directives(
            directives, qty, pset, disc, dur, rec,
            running=view.discount, promo_left=view.promo_left,
        )  # fmt: skip

    # 3. discount cap
    cat_cap = _cat_values(rules, names, "max_discount", None)[cat]
    cap = np.minimum(np.asarray(view.max_discount, dtype=float), rules.max_discount)
    cap = np.where(np.isnan(cat_cap), cap, np.minimum(cap, cat_cap))
    m = pset & (disc > cap + 1e-12)
    before_disc = disc.copy()
    disc = np.where(m, cap, disc)
    rec(
        m,
        "promotion",
        "discount.cap",
        "clipped",
        lambda i: f"discount {before_disc[i]:.0%} is above the cap {cap[i]:.0%}",
        lambda i: promo(i, before_disc),
        lambda i: promo(i),
    )

    # 4. duration
    m = pset & (dur > rules.max_promotion_days)
    before_dur = dur.copy()
    dur = np.where(m, rules.max_promotion_days, dur)
    rec(
        m,
        "promotion",
        "promotion.duration",
        "clipped",
        lambda i: (
            f"{int(before_dur[i])} days is longer than max_promotion_days "
            f"{rules.max_promotion_days}"
        ),
        lambda i: {"discount": float(disc[i]), "duration_days": int(before_dur[i])},
        lambda i: promo(i),
    )

    # 5. price floor
    cat_margin = _cat_values(rules, names, "min_margin", None)[cat]
    margin = np.where(np.isnan(cat_margin), rules.min_margin, cat_margin)
    floor_price = cost * (1.0 + margin)
    clearing = (np.asarray(view.expiring_soon, dtype=float) > 0) & rules.allow_clearance_below_cost
    max_floor_disc = np.clip(1.0 - floor_price / np.maximum(price, 1e-12), 0.0, None)
    m = pset & (disc > 0) & ~clearing & (disc > max_floor_disc + 1e-12)
    before_disc = disc.copy()
    keepable = max_floor_disc >= 0.005
    clip_m = m & keepable
    drop_m = m & ~keepable
    disc = np.where(clip_m, np.floor(max_floor_disc * 1000.0) / 1000.0, disc)
    rec(
        clip_m,
        "promotion",
        "price.floor",
        "clipped",
        lambda i: (
            f"price {price[i] * (1 - before_disc[i]):.2f} after {before_disc[i]:.0%} off "
            f"is under the floor {floor_price[i]:.2f} (unit cost {cost[i]:.2f})"
        ),
        lambda i: promo(i, before_disc),
        lambda i: promo(i),
    )
    rec(
        drop_m,
        "promotion",
        "price.floor",
        "dropped",
        lambda i: (
            f"any discount puts the price under the floor {floor_price[i]:.2f} "
            f"(list {price[i]:.2f}, unit cost {cost[i]:.2f})"
        ),
        lambda i: promo(i, before_disc),
        None,
    )
    pset &= ~drop_m
    disc = np.where(pset, disc, 0.0)
    dur = np.where(pset, dur, 0)

    # 6. order size limits
    fc = np.maximum(
        np.asarray(view.sales_ema7, dtype=float), np.asarray(view.sales_ema28, dtype=float)
    )
    if forecast is not None:  # a model's forecast may lift the limit, never cut it to zero
        fc = np.maximum(fc, np.asarray(forecast, dtype=float))
    fc = np.maximum(fc, 0.0)
    cat_units = _cat_values(rules, names, "max_units_per_order", rules.max_units_per_order)[cat]
    m = (qty > 0) & ~np.isnan(cat_units) & (qty > cat_units)
    before_q = qty.copy()
    qty = np.where(m, np.nan_to_num(cat_units), qty)
    rec(
        m,
        "restock",
        "order.max_units",
        "clipped",
        lambda i: f"{int(before_q[i])} units is above max_units_per_order {int(cat_units[i])}",
        lambda i: {"quantity": int(before_q[i])},
        lambda i: {"quantity": int(qty[i])},
    )
    position = np.asarray(view.on_hand, dtype=float) + np.asarray(view.on_order, dtype=float)
    cover_cap = np.floor(np.maximum(fc * rules.max_cover_days - position, 0.0))
    m = (qty > 0) & (qty > cover_cap) & (qty > moq)
    before_q = qty.copy()
    qty = np.where(m, np.maximum(cover_cap, 0.0), qty)

    def detail(i: int) -> str:
        return (
            f"{int(before_q[i])} units would lift stock beyond {rules.max_cover_days:g} days "
            f"of sales ({fc[i]:.2f}/day, {position[i]:.0f} already on hand or ordered)"
        )

    rec(
        m & (qty > 0),
        "restock",
        "order.max_cover_days",
        "clipped",
        detail,
        lambda i: {"quantity": int(before_q[i])},
        lambda i: {"quantity": int(qty[i])},
    )
    rec(
        m & (qty <= 0),
        "restock",
        "order.max_cover_days",
        "dropped",
        detail,
        lambda i: {"quantity": int(before_q[i])},
        None,
    )

    # 7. minimum order quantity
    if rules.enforce_moq:
        below = (qty > 0) & (qty < moq)
        limit = np.minimum(
            np.where(np.isnan(cat_units), np.inf, cat_units), np.maximum(cover_cap, moq)
        )
        raise_m = below & (moq <= limit)
        drop_m = below & ~raise_m
        before_q = qty.copy()
        qty = np.where(raise_m, moq, qty)
        qty = np.where(drop_m, 0.0, qty)
        rec(
            raise_m,
            "restock",
            "moq.minimum",
            "clipped",
            lambda i: (
                f"{int(before_q[i])} units is under the supplier minimum {int(moq[i])}; "
                "raised to it"
            ),
            lambda i: {"quantity": int(before_q[i])},
            lambda i: {"quantity": int(qty[i])},
        )
        rec(
            drop_m,
            "restock",
            "moq.minimum",
            "dropped",
            lambda i: f"the supplier minimum {int(moq[i])} is above this line's unit limit",
            lambda i: {"quantity": int(before_q[i])},
            None,
        )

    # 8. budgets: most urgent first
    urgency = position / np.maximum(fc, 1e-9)
    value_unit = cost
    limits: list[tuple[str, float]] = []
    if rules.cash is not None:
        limits.append(("budget.cash", rules.cash - spent_today))
    if rules.max_spend_per_day is not None:
        limits.append(("budget.daily", rules.max_spend_per_day - spent_today))
    if rules.max_spend_per_week is not None:
        limits.append(("budget.weekly", rules.max_spend_per_week - spent_this_week - spent_today))
    for rule, room in limits:
        qty = _fund(
            qty,
            qty * value_unit,
            value_unit,
            max(room, 0.0),
            urgency,
            moq,
            rule,
            "value {v:.2f} does not fit in what is left of the limit ({room:.2f})",
            sku_ids,
            events,
        )

    # 9. warehouse capacity (units)
    caps = [c for c in (rules.warehouse_capacity, shop_capacity) if c is not None]
    if caps:
        room = min(caps) - float(position.sum())
        qty = _fund(
            qty,
            qty.copy(),
            np.ones(n),
            max(room, 0.0),
            urgency,
            moq,
            "capacity.warehouse",
            "{v:.0f} units do not fit in the warehouse room left ({room:.0f} units)",
            sku_ids,
            events,
        )

    out = PlanArrays(order_qty=qty, promo_set=pset, discount=disc, duration=dur)
    return GuardResult(out, events)


def _fund(
    qty: np.ndarray,
    need: np.ndarray,
    per_unit: np.ndarray,
    room: float,
    urgency: np.ndarray,
    moq: np.ndarray,
    rule: str,
    template: str,
    sku_ids: Sequence[str],
    events: list[RuleEvent],
) -> np.ndarray:
    """Keep orders most urgent first while their cumulative ``need`` fits in ``room``."""
    idx = np.flatnonzero(qty > 0)
    if idx.size == 0 or float(need[idx].sum()) <= room + 1e-9:
        return qty
    qty = qty.copy()
    order = idx[np.argsort(urgency[idx], kind="stable")]
    cum = np.cumsum(need[order])
    fits = cum <= room + 1e-9
    first_out = int(np.argmin(fits)) if not fits.all() else len(order)
    left = room - (float(cum[first_out - 1]) if first_out > 0 else 0.0)
    for j, i in enumerate(order[first_out:].tolist()):
        before = int(qty[i])
        v = float(need[i])
        if j == 0 and per_unit[i] > 0:
            q = float(np.floor(left / per_unit[i] + 1e-9))
            if q >= max(moq[i], 1.0):
                qty[i] = q
                events.append(
                    RuleEvent(
                        sku_ids[i],
                        "restock",
                        rule,
                        "clipped",
                        template.format(v=v, room=left) + f"; cut to {int(q)}",
                        {"quantity": before},
                        {"quantity": int(q)},
                    )
                )
                continue
        qty[i] = 0.0
        events.append(
            RuleEvent(
                sku_ids[i],
                "restock",
                rule,
                "dropped",
                template.format(v=v, room=max(left, 0.0) if j == 0 else 0.0),
                {"quantity": before},
                None,
            )
        )
    return qty
