"""The nodes of the daily graph (wiring in :mod:`agent.graph`).

Each node reads what it needs from the store, writes its results there, and returns a small
state update. Rule for re-runs: LangGraph re-runs a node from its start after a crash inside
it, so every node is safe to repeat: ``sense`` and ``plan`` overwrite their blobs and plan
row, ``check`` replaces the day's not-yet-decided actions (and supersedes older pending
decisions for the same SKU and kind), ``route`` recomputes from them, ``act`` is idempotent
by key and re-checks every line against the rules as it executes, ``learn`` records events
under unique keys. Nothing waits inside the graph: risky actions wait in the store as
pending decisions, answered from any process by :func:`agent.answers.apply_answer`.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.runtime import Runtime
from sqlalchemy import delete, func, insert, select, update

from agent.answers import supersede_older
from agent.context import AgentContext
from agent.execute import execute_ready, lock_run, shop_now
from agent.state import DayState
from agent.store.models import Action, FeedbackEvent, PlanRecord, RuleEvent
from envs.plan import Plan, PlanArrays
from tools.actions import (
    TOOL_FOR_KIND,
    arrays_from_lines,
    idempotency_key,
    line_summary,
    lines_from_arrays,
)
from tools.guardrails import RuleEvent as GuardEvent
from tools.guardrails import apply_guardrails
from tools.plan_text import parse_plan_text
from tools.risk import score_actions
from tools.signals import EmaSignals, SignalSnapshot

__all__ = ["act", "check", "learn", "plan", "route", "sense"]

_NodeFn = Callable[[DayState, Runtime[AgentContext]], dict]


def _timed(name: str) -> Callable[[_NodeFn], _NodeFn]:
    def deco(fn: _NodeFn) -> _NodeFn:
        @functools.wraps(fn)
        def wrapper(state: DayState, runtime: Runtime[AgentContext]) -> dict:
            t0 = time.perf_counter()
            out = fn(state, runtime)
            out["timings"] = {name: time.perf_counter() - t0}
            return out

        return wrapper

    return deco


def _status_counts(s: Any, run_id: str, day: int) -> dict[str, int]:
    rows = s.execute(
        select(Action.status, func.count())
        .where(Action.run_id == run_id, Action.day == day)
        .group_by(Action.status)
    ).all()
    return {st: int(n) for st, n in rows}


# ---------------------------------------------------------------------------- sense
@_timed("sense")
def sense(state: DayState, runtime: Runtime[AgentContext]) -> dict:
    """Read the shop and the signals: stock, pipeline, sales, forecast bands, alerts, events."""
    ctx = runtime.context
    run_id, day = state["run_id"], int(state["day"])
    view = ctx.shop.view()
    signals = ctx.signals or EmaSignals()
    snap = signals.snapshot(view, ctx.approval.whatif_horizon)
    events = ctx.shop.upcoming_events(30)
    key = f"sense:{day}"
    ctx.store.put_blob(run_id, key, {"snap": snap, "events": events})
    fc = snap.mean_daily
    low = int(((view.on_hand < fc * view.lead_time) & (fc > 0)).sum())
    ev = (
        "; ".join(
            f"{e['kind']} {e.get('category') or e.get('supplier')} in {e['in_days']}d"
            for e in events
        )
        or "none"
    )
    brief = (
        f"Day {day}: {len(view.sku_ids)} SKUs, {int(view.on_hand.sum())} units on hand, "
        f"{int(view.on_order.sum())} on order; {low} SKUs hold less than their lead time of "
        f"sales; forecast source {snap.source}; {len(snap.alerts)} drift alerts; "
        f"{len(snap.anomalies)} anomalies; upcoming events: {ev}."
    )
    return {
        "sense_key": key,
        "messages": [HumanMessage(content=brief, name="sense", id=f"sense-{day}")],
        "counts": {
            "skus": len(view.sku_ids),
            "low_cover": low,
            "alerts": len(snap.alerts),
            "anomalies": len(snap.anomalies),
        },
    }


# ---------------------------------------------------------------------------- plan
#: Keys of a proposed line that are records, not arguments of the tool that carries it out.
#: What a language-model policy read and wrote for a line (feedback training reads these).
_LM_KEYS = ("lm_prompt", "lm_decision", "lm_advice", "lm_basis")
_NOT_TOOL_ARGS = frozenset({"kind", *_LM_KEYS})


@_timed("plan")
def plan(state: DayState, runtime: Runtime[AgentContext]) -> dict:
    """Ask the policy for the day's plan; record it; carry it as tool calls in a message."""
    ctx = runtime.context
    run_id, day = state["run_id"], int(state["day"])
    policy = ctx.need_policy()
    shop = ctx.shop
    out = policy.act(shop.view(), shop.sim)
    raw_text: str | None = None
    parse_events: list[GuardEvent] = []
    if isinstance(out, str):
        raw_text = out
        arrays, parse_events = parse_plan_text(out, shop.sku_index)
    elif isinstance(out, Plan):
        known = Plan(
            restocks=[r for r in out.restocks if r.sku in shop.sku_index],
            promotions=[p for p in out.promotions if p.sku in shop.sku_index],
        )
        for item in [*out.restocks, *out.promotions]:
            if item.sku not in shop.sku_index:
                kind = "restock" if hasattr(item, "quantity") else "promotion"
                parse_events.append(
                    GuardEvent(
                        item.sku[:128],
                        kind,
                        "input.unknown_sku",
                        "dropped",
                        f"the shop has no SKU {item.sku!r}",
                        item.model_dump(),
                        None,
                    )
                )
        arrays = known.to_arrays(shop.sku_index)
    elif isinstance(out, PlanArrays):
        arrays = out
    else:
        arrays = PlanArrays.empty(len(shop.sku_ids))
        parse_events.append(
            GuardEvent(
                None,
                "plan",
                "input.invalid",
                "dropped",
                f"the policy returned a {type(out).__name__}, not a plan",
                {},
                None,
            )
        )
    lines = lines_from_arrays(arrays, shop.sku_ids)
    trace = policy.decision_trace() if hasattr(policy, "decision_trace") else {}
    for ln in lines:  # what a language-model policy read and wrote, for feedback training
        ln.update(trace.get(ln["sku"], {}))
    version = getattr(policy, "version", None)
    with ctx.store.session() as s:
        s.execute(delete(PlanRecord).where(PlanRecord.run_id == run_id, PlanRecord.day == day))
        rec = PlanRecord(
            run_id=run_id,
            day=day,
            policy=ctx.policy_name if version is None else f"{ctx.policy_name}@{version}"[:64],
            raw_text=raw_text,
            proposal={"lines": lines, "parse_events": [e.to_dict() for e in parse_events]},
        )
        s.add(rec)
        s.flush()
        plan_id = int(rec.id)
        ctx.store.put_blob(run_id, f"plan:{day}", arrays, session=s)
        # an unpicklable policy is rebuilt from the registry on resume
        with contextlib.suppress(Exception):
            ctx.store.put_blob(run_id, "policy", policy, session=s)
    n_r = sum(ln["kind"] == "restock" for ln in lines)
    msg = AIMessage(
        content=(
            f"Plan for day {day} by {ctx.policy_name}: {n_r} purchase orders, "
            f"{len(lines) - n_r} promotion changes (plan {plan_id})."
        ),
        tool_calls=[
            {
                "name": TOOL_FOR_KIND[ln["kind"]],
                "id": f"{ln['kind']}:{ln['sku']}:{day}",
                "args": {k: v for k, v in ln.items() if k not in _NOT_TOOL_ARGS},
            }
            for ln in lines
        ],
        name="plan",
        id=f"plan-{day}",
    )
    return {"plan_id": plan_id, "messages": [msg], "counts": {"proposed": len(lines)}}


# ---------------------------------------------------------------------------- check
@_timed("check")
def check(state: DayState, runtime: Runtime[AgentContext]) -> dict:
    """Apply the hard rules; store one action per surviving line and every rule event."""
    ctx = runtime.context
    run_id, day = state["run_id"], int(state["day"])
    shop, store = ctx.shop, ctx.store
    arrays: PlanArrays = store.get_blob(run_id, f"plan:{day}")
    sensed = store.get_blob(run_id, state["sense_key"])
    snap: SignalSnapshot = sensed["snap"]
    with store.session() as s:
        rec = s.get(PlanRecord, state["plan_id"])
        parse_events = [GuardEvent(**e) for e in rec.proposal.get("parse_events", [])]
        proposed = {(ln["kind"], ln["sku"]): ln for ln in rec.proposal.get("lines", [])}
        now = shop_now(s, ctx, day)  # today's executed orders count (late approvals)
    res = apply_guardrails(
        arrays,
        now.view,
        ctx.rules,
        shop.category_names,
        forecast=snap.mean_daily,
        spent_today=now.spent_today,
        spent_this_week=now.spent_this_week,
        shop_capacity=shop.warehouse_capacity,
    )
    lines = lines_from_arrays(res.arrays, shop.sku_ids)
    rows = [
        {
            "run_id": run_id,
            "plan_id": state["plan_id"],
            "day": day,
            "sku": ln["sku"],
            "kind": ln["kind"],
            "proposed": proposed.get((ln["kind"], ln["sku"]), ln),
            "params": ln,
            "status": "checked",
            "risk": 0.0,
            "risk_parts": {},
            "reason": "",
            "idempotency_key": idempotency_key(run_id, day, ln["sku"], ln["kind"]),
        }
        for ln in lines
    ]
    events = parse_events + res.events
    with store.session() as s:
        lock_run(s, run_id)
        s.execute(delete(RuleEvent).where(RuleEvent.run_id == run_id, RuleEvent.day == day))
        s.execute(delete(Action).where(Action.run_id == run_id, Action.day == day))
        ids: dict[tuple[str, str], int] = {}
        if rows:
            got = s.execute(
                insert(Action).returning(
                    Action.id, Action.kind, Action.sku, sort_by_parameter_order=True
                ),
                rows,
            ).all()
            ids = {(k, sku): int(i) for i, k, sku in got}
        superseded = supersede_older(s, run_id, day, ids)
        if events:
            s.execute(
                insert(RuleEvent),
                [
                    {
                        "run_id": run_id,
                        "day": day,
                        "action_id": ids.get((e.kind, e.sku or "")),
                        "sku": e.sku,
                        "kind": e.kind,
                        "rule": e.rule,
                        "outcome": e.outcome,
                        "detail": e.detail,
                        "before": e.before,
                        "after": e.after,
                    }
                    for e in events
                ],
            )
    by_rule = {}
    for e in events:
        by_rule[e.rule] = by_rule.get(e.rule, 0) + 1
    dropped = sum(e.outcome == "dropped" for e in events)
    text = (
        f"Rules for day {day}: {len(lines)} actions allowed; {len(events) - dropped} "
        f"repaired and {dropped} refused"
        + (": " + ", ".join(f"{k} x{v}" for k, v in sorted(by_rule.items())) if events else "")
        + (f"; {superseded} older pending decisions superseded" if superseded else "")
        + "."
    )
    return {
        "messages": [AIMessage(content=text, name="check", id=f"check-{day}")],
        "counts": {
            "allowed": len(lines),
            "repaired": len(events) - dropped,
            "refused": dropped,
            "superseded": superseded,
        },
    }


# ---------------------------------------------------------------------------- route
@_timed("route")
def route(state: DayState, runtime: Runtime[AgentContext]) -> dict:
    """Score each action's risk; the approval mode decides auto or pending (with a card)."""
    ctx = runtime.context
    run_id, day = state["run_id"], int(state["day"])
    shop, store, ap = ctx.shop, ctx.store, ctx.approval
    snap: SignalSnapshot = store.get_blob(run_id, state["sense_key"])["snap"]
    with store.session() as s:
        view = shop_now(s, ctx, day).view  # today's executed orders are in the pipeline
        acts = s.execute(
            select(Action.id, Action.sku, Action.kind, Action.params, Action.proposed).where(
                Action.run_id == run_id, Action.day == day, Action.status == "checked"
            )
        ).all()
    if not acts:
        return {"counts": {"auto": 0, "pending": 0}}
    arrays = arrays_from_lines([a.params for a in acts], shop.sku_index)
    risk = score_actions(arrays.order_qty, arrays.promo_set, arrays.discount, view, snap, ap)
    pos = np.array([shop.sku_index[a.sku] for a in acts], dtype=np.int64)
    score = np.array([risk[a.kind][p] for a, p in zip(acts, pos, strict=True)])
    if ap.mode == "auto":
        pending = np.zeros(len(acts), dtype=bool)
    elif ap.mode == "confirm":
        pending = np.ones(len(acts), dtype=bool)
    else:
        pending = score >= ap.threshold
    whatif = shop.what_if(arrays, ap.whatif_horizon) if pending.any() else None
    part_names = {
        "restock": ("spend", "deviation", "drift", "anomaly"),
        "promotion": ("discount", "drift", "anomaly"),
    }
    refuse = np.zeros(len(acts), dtype=bool)
    split = np.zeros(len(acts), dtype=float)  # the safe part of a risky restock
    if whatif is not None:  # a proposal that loses money by its own what-if is not put
        for i, (a, p) in enumerate(zip(acts, pos, strict=True)):  # to a person
            refuse[i] = pending[i] and _loses(a.kind, float(whatif.per_sku[p]),
                                               float(risk["need"][p]))
    if ap.mode == "risky" and ap.execute_safe_part:
        split = _safe_parts(acts, pos, pending & ~refuse, arrays, risk, view, snap, ap)
    pend_ids = [int(a.id) for a, p in zip(acts, pending, strict=True) if p]
    with store.session() as s:
        rules_by_action: dict[int, list[dict]] = {}
        if pend_ids:
            for r in s.execute(
                select(
                    RuleEvent.action_id, RuleEvent.rule, RuleEvent.outcome, RuleEvent.detail
                ).where(
                    RuleEvent.run_id == run_id,
                    RuleEvent.day == day,
                    RuleEvent.action_id.in_(pend_ids),
                )
            ):
                rules_by_action.setdefault(int(r.action_id), []).append(
                    {"rule": r.rule, "outcome": r.outcome, "detail": r.detail}
                )
        updates, excess_rows, refused_events = [], [], []
        for i, (a, p, sc, is_p) in enumerate(zip(acts, pos, score, pending, strict=True)):
            parts = {k: round(float(risk[f"{a.kind}.{k}"][p]), 4) for k in part_names[a.kind]}
            upd: dict[str, Any] = {
                "id": a.id,
                "risk": round(float(sc), 4),
                "risk_parts": parts,
                "status": "pending" if is_p else "auto",
                "card": None,
            }
            if refuse[i]:
                delta = float(whatif.per_sku[p])
                detail = (
                    f"its own what-if loses {-delta:.2f} over {whatif.horizon} days versus no "
                    "action" + (" and the forecast needs no order" if a.kind == "restock" else "")
                )
                upd.update(status="refused", reason=f"not proposed: {detail}")
                refused_events.append({
                    "run_id": run_id, "day": day, "action_id": int(a.id), "sku": a.sku,
                    "kind": a.kind, "rule": "whatif.negative", "outcome": "dropped",
                    "detail": detail, "before": dict(a.params), "after": None,
                })
            elif is_p:
                card = _card(
                    run_id,
                    day,
                    a,
                    int(p),
                    float(sc),
                    parts,
                    view,
                    snap,
                    risk,
                    whatif,
                    rules_by_action.get(int(a.id), []),
                    ap.deadline_days,
                    getattr(shop, "whatif_unavailable", None) if whatif is None else None,
                )
                if split[i] > 0:  # the safe part executes now, the excess waits
                    safe = int(split[i])
                    excess = int(a.params["quantity"]) - safe
                    upd.update(status="auto", params={**a.params, "quantity": safe},
                               reason=f"the safe part of a risky order; x{excess} waits")
                    excess_rows.append(_excess_row(run_id, day, a, safe, excess, card, upd))
                else:
                    upd["card"] = card
            updates.append(upd)
        s.execute(update(Action), updates)
        if refused_events:
            s.execute(insert(RuleEvent), refused_events)
        if excess_rows:
            got = s.execute(
                insert(Action).returning(Action.id, sort_by_parameter_order=True), excess_rows
            ).all()
            s.execute(update(Action), [
                {"id": int(i), "card": {**row["card"], "action_id": int(i)}}
                for (i,), row in zip(got, excess_rows, strict=True)
            ])
    n_r = int(refuse.sum())
    n_s = int((split > 0).sum())
    n_p = int(pending.sum()) - n_r
    text = (
        f"Risk for day {day} (mode {ap.mode}, threshold {ap.threshold}): "
        f"{len(acts) - n_p - n_r} actions execute automatically, {n_p} wait for a person"
        + (f" ({n_s} of them only beyond a safe part that executes now)" if n_s else "")
        + (f"; {n_r} not proposed (their what-if loses money)" if n_r else "")
        + (
            f"; the plan's what-if over {whatif.horizon} days is {whatif.total:+.2f} versus "
            "no action"
            if whatif is not None
            else ""
        )
        + "."
    )
    return {
        "messages": [AIMessage(content=text, name="route", id=f"route-{day}")],
        "counts": {"auto": len(acts) - n_p - n_r + n_s, "pending": n_p, "split": n_s,
                   "not_proposed": n_r},
    }


def _loses(kind: str, delta: float, need: float) -> bool:
    """A proposal not worth a person's time: its what-if loses money, and (for an order)
    the forecast needs nothing. An order the forecast needs is kept even when the short
    what-if horizon cannot see it sell."""
    return delta < -1e-9 and (kind == "promotion" or need <= 0)


def _safe_parts(acts, pos, pending, arrays, risk, view, snap, ap) -> np.ndarray:
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


def _excess_row(run_id: str, day: int, a: Any, safe: int, excess: int, card: dict,
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


def _card(
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
        "proposed": {k: v for k, v in proposed.items() if k not in _LM_KEYS},
        **{k: proposed[k] for k in _LM_KEYS if k in proposed},
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


# ---------------------------------------------------------------------------- act
@_timed("act")
def act(state: DayState, runtime: Runtime[AgentContext]) -> dict:
    """Execute every automatic action once (idempotency key), re-checked by the rules."""
    ctx = runtime.context
    run_id, day = state["run_id"], int(state["day"])
    res = execute_ready(ctx, day, chunk=ctx.exec_chunk)
    with ctx.store.session() as s:
        counts = _status_counts(s, run_id, day)
    text = (
        f"Executed {res['executed']} actions of day {day}"
        + (f" on shop day {res['applied_day']}" if res["applied_day"] is not None else "")
        + (f" ({res['already']} were already executed)" if res["already"] else "")
        + (f"; {res['expired']} expired (shop closed)" if res["expired"] else "")
        + (f"; {res['clipped']} clipped and {res['refused']} refused by the rules at execution"
           if res["clipped"] or res["refused"] else "")
        + f"; statuses now {counts}."
    )
    return {
        "messages": [AIMessage(content=text, name="act", id=f"act-{day}")],
        "counts": {"status": counts},
    }


# ---------------------------------------------------------------------------- learn
@_timed("learn")
def learn(state: DayState, runtime: Runtime[AgentContext]) -> dict:
    """Record the day's decision summary (statuses) as a feedback event.

    Answers record their own ``approval`` events when they are applied
    (:mod:`agent.answers`); the signals learn from the store's events at the next day close
    (the runner owns the signals, so two processes never update them at once).
    """
    ctx = runtime.context
    run_id, day = state["run_id"], int(state["day"])
    with ctx.store.session() as s:
        counts = _status_counts(s, run_id, day)
        key = f"decisions:{run_id}:{day}"
        if s.scalar(select(FeedbackEvent.id).where(FeedbackEvent.event_key == key)) is None:
            s.execute(
                insert(FeedbackEvent),
                [{"event_key": key, "run_id": run_id, "day": day, "kind": "decisions",
                  "sku": None, "payload": {"status": counts}}],
            )
    text = f"Day {day} decided; statuses {counts}."
    return {
        "messages": [AIMessage(content=text, name="learn", id=f"learn-{day}")],
        "counts": {"status": counts},
    }
