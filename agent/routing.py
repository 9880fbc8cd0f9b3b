"""Routing helpers of the ``route`` node: who decides each action, and what a person sees.

* :func:`loses`: a proposal not worth a person's time (its own what-if loses money);
* :func:`safe_parts` and :func:`excess_whatif`: the part of a risky order that executes
  unattended, and the what-if of the excess that waits;
* :func:`excess_row`: the pending action for that excess; :func:`decision_card`: the card;
* :func:`recent_answers`: what people lately rejected or edited for a SKU, so the next
  decision for it shows that answer on its card, and a rejected one goes back to a person
  instead of executing unattended.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from envs.plan import PlanArrays
from tools.actions import arrays_from_lines, idempotency_key, line_summary
from tools.risk import score_actions

__all__ = [
    "LM_KEYS",
    "RECENT_DAYS",
    "Routes",
    "decide_routes",
    "decision_card",
    "excess_row",
    "excess_whatif",
    "loses",
    "recent_answers",
    "route_rows",
    "safe_parts",
]

#: How far back a person's rejection or edit of a SKU's action is carried to new decisions.
RECENT_DAYS = 7

#: What a language-model policy read and wrote for a line (feedback training reads these).
LM_KEYS = ("lm_prompt", "lm_decision", "lm_advice", "lm_basis")


def loses(kind: str, delta: float, need: float) -> bool:
    """A proposal not worth a person's time: its what-if loses money, and (for an order)
    the forecast needs nothing. An order the forecast needs is kept even when the short
    what-if horizon cannot see it sell."""
    return delta < -1e-9 and (kind == "promotion" or need <= 0)


def excess_whatif(shop, arrays, acts, pos, split, whatif) -> dict[int, float]:
    """Per split action, the what-if of its excess alone: the plan with the whole orders
    minus the plan with only their safe parts, on the same sampled future."""
    if whatif is None or not (split > 0).any():
        return {}
    safe = PlanArrays(
        order_qty=np.array(arrays.order_qty, dtype=float, copy=True),
        promo_set=arrays.promo_set,
        discount=arrays.discount,
        duration=arrays.duration,
    )
    rows = [i for i in range(len(acts)) if split[i] > 0]
    for i in rows:
        safe.order_qty[pos[i]] = split[i]
    beyond = shop.what_if(arrays, whatif.horizon, seed=whatif.seed, baseline=safe)
    return {i: round(float(beyond.per_sku[pos[i]]), 2) for i in rows}


def safe_parts(acts, pos, pending, arrays, risk, view, snap, ap) -> np.ndarray:
    """Per action, the part of a pending order that would not be risky on its own.

    Capped by the need at the forecast mean over lead time + review (at least one minimum
    order quantity when there is any need) and by the spend that scores under the
    threshold; 0 where no smaller order would pass (a drifting or anomalous SKU, no need).
    """
    out = np.zeros(len(acts))
    cand = np.zeros_like(arrays.order_qty)
    rows: list[int] = []
    moq = np.asarray(view.moq, dtype=float)
    cost = np.maximum(np.asarray(view.unit_cost, dtype=float), 1e-9)
    spend_cap = np.floor(ap.threshold * ap.spend_alert / max(ap.weights.spend, 1e-9) / cost - 1)
    for i, (a, p) in enumerate(zip(acts, pos, strict=True)):
        if not pending[i] or a.kind != "restock":
            continue
        need = float(risk["need"][p])
        if need <= 0:
            continue
        q = min(float(a.params["quantity"]), max(np.ceil(need), moq[p]), spend_cap[p])
        if moq[p] <= q < float(a.params["quantity"]):
            cand[p] = q
            rows.append(i)
    if not cand.any():
        return out
    zeros = np.zeros_like(arrays.promo_set)
    again = score_actions(cand, zeros, np.zeros_like(arrays.discount), view, snap, ap)
    for i in rows:
        p = pos[i]
        if again["restock"][p] < ap.threshold:
            out[i] = cand[p]
    return out


def excess_row(run_id: str, day: int, a: Any, safe: int, excess: int, card: dict,
                upd: dict) -> dict[str, Any]:
    """The pending action for the part of a risky order beyond its safe part."""
    line = {**a.params, "quantity": excess}
    why = dict(card["why"])
    why["on_order"] = float(why["on_order"]) + safe
    why["need_units"] = round(max(float(why["need_units"]) - safe, 0.0), 1)
    why["need_upper_units"] = round(max(float(why["need_upper_units"]) - safe, 0.0), 1)
    return {
        "run_id": run_id,
        "plan_id": None,
        "day": day,
        "sku": a.sku,
        "kind": "restock",
        "proposed": a.proposed or {},
        "params": line,
        "status": "pending",
        "risk": upd["risk"],
        "risk_parts": upd["risk_parts"],
        "reason": f"beyond the safe part x{safe} that executed automatically",
        "idempotency_key": idempotency_key(run_id, day, a.sku, "restock-excess"),
        "card": {
            **card,
            "summary": f"{line_summary(line)} beyond x{safe} already ordered",
            "line": line,
            "why": why,
            "safe_part": {"action_id": int(a.id), "quantity": safe},
        },
    }


def decision_card(
    run_id, day, a, p, score, parts, view, snap, risk, whatif, rules, deadline, unavailable=None
) -> dict:
    fc = float(snap.mean_daily[p])
    cover = float(risk["cover_days"][p])
    top = max(parts, key=parts.get) if parts else "none"
    proposed = a.proposed or {}
    card: dict[str, Any] = {
        "action_id": int(a.id),
        "run_id": run_id,
        "day": day,
        "sku": a.sku,
        "kind": a.kind,
        "summary": line_summary(a.params),
        "line": a.params,
        "proposed": {k: v for k, v in proposed.items() if k not in LM_KEYS},
        **{k: proposed[k] for k in LM_KEYS if k in proposed},
        "risk": {"score": round(score, 4), "top": top, "parts": parts},
        "why": {
            "forecast_per_day": round(fc, 3),
            "band": [round(float(snap.lower[p]), 1), round(float(snap.upper[p]), 1)],
            "band_days": int(snap.horizon),
            "on_hand": float(view.on_hand[p]),
            "on_order": float(view.on_order[p]),
            "cover_days": round(cover, 2) if np.isfinite(cover) else None,
            "lead_time": float(view.lead_time[p]),
            "need_units": round(float(risk["need"][p]), 1),
            "need_upper_units": round(float(risk["need_upper"][p]), 1),
            "moq": float(view.moq[p]),
            "value": round(float(risk["value"][p]), 2),
            "price": float(view.list_price[p]),
            "unit_cost": float(view.unit_cost[p]),
            "discount_cap": float(view.max_discount[p]),
            "drift": round(float(snap.drift[p]), 4),
            "anomaly": round(float(snap.anomaly[p]), 4),
        },
        "rules": rules,
        "expires_day": day + int(deadline),
        "choices": ["accept", "edit", "reject"],
    }
    if whatif is not None:
        card["effect"] = {
            "horizon_days": whatif.horizon,
            "seed": whatif.seed,
            "profit_delta": round(float(whatif.per_sku[p]), 2),
            "plan_profit_delta": round(float(whatif.total), 2),
        }
    elif unavailable:  # a shop that cannot simulate (a real shop without a twin) says why
        card["effect"] = {"unavailable": unavailable}
    return card


def recent_answers(
    store: Any, run_id: str, day: int, keys: set[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The latest rejection or edit by a person (not an expiry) of each ``(kind, sku)`` in
    ``keys``, decided within :data:`RECENT_DAYS` days before ``day``."""
    if not keys:
        return {}
    from sqlalchemy import select

    from agent.store.models import Action, Approval

    skus = sorted({sku for _, sku in keys})
    with store.session() as s:
        rows = s.execute(
            select(Action.kind, Action.sku, Action.day, Action.params, Approval.decision,
                   Approval.by, Approval.reason, Approval.edit)
            .join(Approval, Approval.action_id == Action.id)
            .where(Action.run_id == run_id, Action.sku.in_(skus),
                   Approval.decision.in_(("reject", "edit")), Approval.by != "system",
                   Action.day >= day - RECENT_DAYS, Action.day < day)
            .order_by(Approval.id)
        ).all()
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        if (r.kind, r.sku) in keys:
            out[(r.kind, r.sku)] = {
                "day": int(r.day), "decision": r.decision, "by": r.by, "reason": r.reason,
                "edit": r.edit, "asked": line_summary(r.params),
            }
    return out


_PARTS = {
    "restock": ("spend", "deviation", "drift", "anomaly"),
    "promotion": ("discount", "drift", "anomaly"),
}


@dataclasses.dataclass
class Routes:
    """What ``route`` decided for a day's checked actions (arrays in the actions' order).

    Attributes:
        pos: each action's SKU position.
        risk: :func:`tools.risk.score_actions` of the plan; ``score`` each action's score.
        pending: waits for a person; ``refuse``: not proposed (its own what-if loses);
        split: the safe part that executes now (0: none); ``excess_delta``: the what-if of
        the excess alone, by action index; ``whatif``: the plan's what-if (``None`` when
        nothing waits or the shop cannot simulate).
    """

    pos: np.ndarray
    risk: dict[str, np.ndarray]
    score: np.ndarray
    pending: np.ndarray
    refuse: np.ndarray
    split: np.ndarray
    excess_delta: dict[int, float]
    whatif: Any


def decide_routes(acts, shop, view, snap, ap, recent) -> Routes:
    """Who decides each action: the rules of the module docstring, vectorised."""
    arrays = arrays_from_lines([a.params for a in acts], shop.sku_index)
    risk = score_actions(arrays.order_qty, arrays.promo_set, arrays.discount, view, snap, ap)
    pos = np.array([shop.sku_index[a.sku] for a in acts], dtype=np.int64)
    score = np.array([risk[a.kind][p] for a, p in zip(acts, pos, strict=True)])
    rejected = np.array(
        [recent.get((a.kind, a.sku), {}).get("decision") == "reject" for a in acts], dtype=bool
    )
    if ap.mode == "auto":
        pending = np.zeros(len(acts), dtype=bool)
    elif ap.mode == "confirm":
        pending = np.ones(len(acts), dtype=bool)
    else:  # risky; and what a person rejected lately goes back to a person, never auto
        pending = (score >= ap.threshold) | rejected
    # Lines the knowledge base's rules made (ending or lowering a forbidden discount) never
    # wait: no answer may keep a forbidden discount running.
    pending &= ~np.array([bool(a.params.get("forced_by")) for a in acts], dtype=bool)
    whatif = shop.what_if(arrays, ap.whatif_horizon) if pending.any() else None
    refuse = np.zeros(len(acts), dtype=bool)
    if whatif is not None:
        for i, (a, p) in enumerate(zip(acts, pos, strict=True)):
            refuse[i] = pending[i] and loses(a.kind, float(whatif.per_sku[p]),
                                               float(risk["need"][p]))
    split = np.zeros(len(acts), dtype=float)
    if ap.mode == "risky" and ap.execute_safe_part:
        split = safe_parts(acts, pos, pending & ~refuse & ~rejected, arrays, risk, view, snap,
                           ap)
    delta = excess_whatif(shop, arrays, acts, pos, split, whatif)
    return Routes(pos, risk, score, pending, refuse, split, delta, whatif)


def route_rows(routes: Routes, acts, run_id, day, view, snap, rules_by_action, recent, shop,
               ap) -> tuple[list[dict], list[dict], list[dict]]:
    """The rows ``route`` writes: action updates, the excess actions to insert, and the
    ``whatif.negative`` rule events."""
    updates, excess_rows, events = [], [], []
    whatif, risk = routes.whatif, routes.risk
    for i, a in enumerate(acts):
        p, sc, is_p = int(routes.pos[i]), float(routes.score[i]), bool(routes.pending[i])
        parts = {k: round(float(risk[f"{a.kind}.{k}"][p]), 4) for k in _PARTS[a.kind]}
        upd: dict[str, Any] = {"id": a.id, "risk": round(sc, 4), "risk_parts": parts,
                               "status": "pending" if is_p else "auto", "card": None}
        updates.append(upd)
        if routes.refuse[i]:
            delta = float(whatif.per_sku[p])
            detail = (f"its own what-if loses {-delta:.2f} over {whatif.horizon} days versus "
                      "no action" + (" and the forecast needs no order"
                                     if a.kind == "restock" else ""))
            upd.update(status="refused", reason=f"not proposed: {detail}")
            events.append(_refusal(run_id, day, a, detail, "dropped", None))
            continue
        if not is_p:
            continue
        card = decision_card(
            run_id, day, a, p, sc, parts, view, snap, risk, whatif,
            rules_by_action.get(int(a.id), []), ap.deadline_days,
            getattr(shop, "whatif_unavailable", None) if whatif is None else None,
        )
        if (a.kind, a.sku) in recent:  # what people said about this SKU lately
            card["previous_answer"] = recent[(a.kind, a.sku)]
        if routes.split[i] <= 0:
            upd["card"] = card
            continue
        safe = int(routes.split[i])  # the safe part executes now, the excess waits
        excess = int(a.params["quantity"]) - safe
        upd.update(status="auto", params={**a.params, "quantity": safe},
                   reason=f"the safe part of a risky order; x{excess} waits")
        row = excess_row(run_id, day, a, safe, excess, card, upd)
        delta = routes.excess_delta.get(i)
        if delta is not None:  # the excess's own effect, beyond the safe part
            row["card"]["effect"] = {**card["effect"], "profit_delta": delta}
        if delta is not None and loses("restock", delta, float(row["card"]["why"]["need_units"])):
            detail = (f"the excess x{excess} beyond the safe part x{safe} loses {-delta:.2f} "
                      f"over {whatif.horizon} days by its own what-if and the forecast needs "
                      "no more")
            upd["reason"] = f"the safe part of a risky order; not proposed: {detail}"
            events.append(_refusal(run_id, day, a, detail, "clipped", upd["params"]))
        else:
            excess_rows.append(row)
    return updates, excess_rows, events


def _refusal(run_id, day, a, detail, outcome, after) -> dict[str, Any]:
    return {"run_id": run_id, "day": day, "action_id": int(a.id), "sku": a.sku,
            "kind": a.kind, "rule": "whatif.negative", "outcome": outcome, "detail": detail,
            "before": dict(a.params), "after": after}
