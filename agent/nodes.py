"""The nodes of the daily graph (wiring in :mod:`agent.graph`).

Each node reads what it needs from the store, writes its results there, and returns a small
state update. Rule for re-runs: LangGraph re-runs a node from its start after a crash inside
it and after every ``interrupt()`` resume, so every node is safe to repeat: ``sense`` and
``plan`` overwrite their blobs and plan row, ``check`` replaces the day's not-yet-decided
actions, ``route`` recomputes from them, ``approve`` reads before it interrupts and only
decides actions still ``pending``, ``act`` is idempotent by key, ``learn`` records events
under unique keys.
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
from langgraph.types import interrupt
from sqlalchemy import delete, func, insert, select, update

from agent.approvals import validate_answer
from agent.context import AgentContext
from agent.errors import ApprovalError
from agent.execute import execute_ready
from agent.state import DayState, thread_id
from agent.store.models import (
    Action,
    Approval,
    Execution,
    FeedbackEvent,
    PlanRecord,
    RuleEvent,
    Run,
)
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

__all__ = ["act", "after_act", "approve", "check", "learn", "plan", "route", "sense"]

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
def _spent(
    s: Any, run_id: str, day: int, dow: int, unit_cost: np.ndarray, sku_index: dict[str, int]
) -> tuple[float, float]:
    rows = s.execute(
        select(Execution.applied_day, Execution.sku, Execution.params).where(
            Execution.run_id == run_id,
            Execution.kind == "restock",
            Execution.applied_day >= day - dow,
            Execution.applied_day <= day,
        )
    ).all()
    today = week = 0.0
    for d, sku, params in rows:
        v = float(params.get("quantity", 0)) * float(unit_cost[sku_index[sku]])
        if d == day:
            today += v
        else:
            week += v
    return today, week


@_timed("check")
def check(state: DayState, runtime: Runtime[AgentContext]) -> dict:
    """Apply the hard rules; store one action per surviving line and every rule event."""
    ctx = runtime.context
    run_id, day = state["run_id"], int(state["day"])
    shop, store = ctx.shop, ctx.store
    view = shop.view()
    arrays: PlanArrays = store.get_blob(run_id, f"plan:{day}")
    sensed = store.get_blob(run_id, state["sense_key"])
    snap: SignalSnapshot = sensed["snap"]
    with store.session() as s:
        rec = s.get(PlanRecord, state["plan_id"])
        parse_events = [GuardEvent(**e) for e in rec.proposal.get("parse_events", [])]
        proposed = {(ln["kind"], ln["sku"]): ln for ln in rec.proposal.get("lines", [])}
        today, week = _spent(s, run_id, day, int(view.dow), view.unit_cost, shop.sku_index)
    res = apply_guardrails(
        arrays,
        view,
        ctx.rules,
        shop.category_names,
        forecast=snap.mean_daily,
        spent_today=today,
        spent_this_week=week,
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
        + "."
    )
    return {
        "messages": [AIMessage(content=text, name="check", id=f"check-{day}")],
        "counts": {"allowed": len(lines), "repaired": len(events) - dropped, "refused": dropped},
    }


# ---------------------------------------------------------------------------- route
@_timed("route")
def route(state: DayState, runtime: Runtime[AgentContext]) -> dict:
    """Score each action's risk; the approval mode decides auto or pending (with a card)."""
    ctx = runtime.context
    run_id, day = state["run_id"], int(state["day"])
    shop, store, ap = ctx.shop, ctx.store, ctx.approval
    view = shop.view()
    snap: SignalSnapshot = store.get_blob(run_id, state["sense_key"])["snap"]
    with store.session() as s:
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
        updates = []
        for a, p, sc, is_p in zip(acts, pos, score, pending, strict=True):
            parts = {k: round(float(risk[f"{a.kind}.{k}"][p]), 4) for k in part_names[a.kind]}
            upd: dict[str, Any] = {
                "id": a.id,
                "risk": round(float(sc), 4),
                "risk_parts": parts,
                "status": "pending" if is_p else "auto",
                "card": None,
            }
            if is_p:
                upd["card"] = _card(
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
            updates.append(upd)
        s.execute(update(Action), updates)
    n_p = int(pending.sum())
    text = (
        f"Risk for day {day} (mode {ap.mode}, threshold {ap.threshold}): {len(acts) - n_p} "
        f"actions execute automatically, {n_p} wait for a person"
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
        "counts": {"auto": len(acts) - n_p, "pending": n_p},
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
    """Execute every approved or automatic action once, with its idempotency key."""
    ctx = runtime.context
    run_id, day = state["run_id"], int(state["day"])
    res = execute_ready(ctx.store, ctx.shop, run_id, day, chunk=ctx.exec_chunk)
    with ctx.store.session() as s:
        counts = _status_counts(s, run_id, day)
    text = (
        f"Executed {res['executed']} actions of day {day}"
        + (f" on shop day {res['applied_day']}" if res["applied_day"] is not None else "")
        + (f" ({res['already']} were already executed)" if res["already"] else "")
        + (f"; {res['expired']} expired (shop closed)" if res["expired"] else "")
        + f"; statuses now {counts}."
    )
    n = int(state.get("rounds", 0))
    return {
        "messages": [AIMessage(content=text, name="act", id=f"act-{day}-{n}")],
        "counts": {"status": counts},
    }


def after_act(state: DayState, runtime: Runtime[AgentContext]) -> str:
    """``approve`` while actions of the day still wait for a person, else ``learn``."""
    ctx = runtime.context
    with ctx.store.session() as s:
        n = s.scalar(
            select(func.count())
            .select_from(Action)
            .where(
                Action.run_id == state["run_id"],
                Action.day == int(state["day"]),
                Action.status == "pending",
            )
        )
    return "approve" if n else "learn"


# ---------------------------------------------------------------------------- approve
def approve(state: DayState, runtime: Runtime[AgentContext]) -> dict:
    """One interrupt with the cards of every pending action; record each answered one."""
    ctx = runtime.context
    run_id, day = state["run_id"], int(state["day"])
    with ctx.store.session() as s:
        rows = s.execute(
            select(Action.id, Action.kind, Action.card)
            .where(Action.run_id == run_id, Action.day == day, Action.status == "pending")
            .order_by(Action.id)
        ).all()
    if not rows:
        return {}
    cards = {int(r.id): (r.card or {"action_id": int(r.id), "kind": r.kind}) for r in rows}
    payload = {
        "type": "approval",
        "run_id": run_id,
        "day": day,
        "thread_id": thread_id(run_id, day),
        "expires_day": day + ctx.approval.deadline_days,
        "cards": list(cards.values()),
    }
    answer = interrupt(payload)
    t0 = time.perf_counter()
    rounds = int(state.get("rounds", 0)) + 1
    try:
        ans = validate_answer(answer, cards)
    except ApprovalError as exc:
        return {
            "rounds": rounds,
            "messages": [
                AIMessage(
                    content=f"Answer for day {day} refused, nothing decided: {exc}",
                    name="approve",
                    id=f"approve-{day}-{rounds}",
                )
            ],
        }
    done = record_decisions(ctx, run_id, day, ans)
    text = (
        f"Decisions for day {day}: "
        + (", ".join(f"{k} {v}" for k, v in done.items()) or "none")
        + "."
    )
    return {
        "rounds": rounds,
        "timings": {"approve": time.perf_counter() - t0},
        "messages": [AIMessage(content=text, name="approve", id=f"approve-{day}-{rounds}")],
    }


def record_decisions(ctx: AgentContext, run_id: str, day: int, ans: dict) -> dict[str, int]:
    """Apply a validated answer to the store (only to actions still ``pending``).

    All edits of the answer go through the rules together (one vectorised check, budgets
    shared), and every row is written in bulk: a day with a thousand answers stays fast.
    """
    shop = ctx.shop
    status_of = {"accept": "approved", "reject": "rejected", "expire": "expired", "edit": "edited"}
    done: dict[str, int] = {}
    with ctx.store.session() as s:
        run = s.get(Run, run_id)
        now_day = int(run.current_day)
        pending = {
            int(r.id): r
            for r in s.execute(
                select(Action.id, Action.sku, Action.kind, Action.params).where(
                    Action.run_id == run_id, Action.day == day, Action.status == "pending"
                )
            )
        }
        if ans.get("expire"):
            items = {
                str(i): {"choice": "expire", "by": "system", "reason": ans["reason"]}
                for i in pending
            }
        else:
            items = ans["decisions"]
        chosen = {int(k): d for k, d in items.items() if int(k) in pending}
        edits = {
            aid: {**pending[aid].params, **d["edit"]}
            for aid, d in chosen.items()
            if d["choice"] == "edit"
        }
        checked: dict[tuple[str, str], dict] = {}
        events_by_line: dict[tuple[str, str], list[GuardEvent]] = {}
        if edits:
            view = shop.view()
            today, week = _spent(s, run_id, now_day, int(view.dow), view.unit_cost, shop.sku_index)
            res = apply_guardrails(
                arrays_from_lines(edits.values(), shop.sku_index),
                view,
                ctx.rules,
                shop.category_names,
                spent_today=today,
                spent_this_week=week,
                shop_capacity=shop.warehouse_capacity,
            )
            checked = {
                (ln["kind"], ln["sku"]): ln for ln in lines_from_arrays(res.arrays, shop.sku_ids)
            }
            for e in res.events:
                events_by_line.setdefault((e.kind, e.sku or ""), []).append(e)
        updates, approvals, rule_rows = [], [], []
        for aid, d in chosen.items():
            status = status_of[d["choice"]]
            upd: dict[str, Any] = {"id": aid, "reason": d.get("reason", "")}
            if status == "edited":
                key = (pending[aid].kind, pending[aid].sku)
                evs = events_by_line.get(key, [])
                rule_rows += [
                    {
                        "run_id": run_id,
                        "day": day,
                        "action_id": aid,
                        "sku": e.sku,
                        "kind": e.kind,
                        "rule": e.rule,
                        "outcome": e.outcome,
                        "detail": "edit: " + e.detail,
                        "before": e.before,
                        "after": e.after,
                    }
                    for e in evs
                ]
                if key in checked:
                    upd["params"] = checked[key]
                else:
                    status = "rejected"
                    upd["reason"] = "edit refused by " + ", ".join(e.rule for e in evs)
            upd["status"] = status
            updates.append(upd)
            approvals.append(
                {
                    "action_id": aid,
                    "run_id": run_id,
                    "day": day,
                    "decision": d["choice"],
                    "by": d.get("by", "unknown"),
                    "edit": d.get("edit"),
                    "reason": d.get("reason", ""),
                    "decided_day": now_day,
                }
            )
            done[status] = done.get(status, 0) + 1
        if updates:
            s.execute(update(Action), updates)
            s.execute(insert(Approval), approvals)
        if rule_rows:
            s.execute(insert(RuleEvent), rule_rows)
    return done


# ---------------------------------------------------------------------------- learn
@_timed("learn")
def learn(state: DayState, runtime: Runtime[AgentContext]) -> dict:
    """Record the day's approval decisions and a decision summary as feedback events.

    The signals learn from these at the next day close (the runner owns the signals, so two
    processes never update them at once); the day's sales outcome is learnt at its close.
    """
    ctx = runtime.context
    run_id, day = state["run_id"], int(state["day"])
    with ctx.store.session() as s:
        decisions = s.execute(
            select(
                Approval.action_id,
                Approval.decision,
                Approval.by,
                Approval.reason,
                Approval.edit,
                Action.sku,
                Action.kind,
                Action.risk,
            )
            .join(Action, Action.id == Approval.action_id)
            .where(Approval.run_id == run_id, Approval.day == day)
        ).all()
        counts = _status_counts(s, run_id, day)
        events = [
            {
                "event_key": f"approval:{d.action_id}",
                "run_id": run_id,
                "day": day,
                "kind": "approval",
                "sku": d.sku,
                "payload": {
                    "action_id": int(d.action_id),
                    "decision": d.decision,
                    "by": d.by,
                    "reason": d.reason,
                    "edit": d.edit,
                    "kind": d.kind,
                    "risk": float(d.risk),
                    "approved": d.decision in ("accept", "edit"),
                },
            }
            for d in decisions
        ]
        events.append(
            {
                "event_key": f"decisions:{run_id}:{day}",
                "run_id": run_id,
                "day": day,
                "kind": "decisions",
                "sku": None,
                "payload": {"status": counts},
            }
        )
        have = set(
            s.scalars(
                select(FeedbackEvent.event_key).where(
                    FeedbackEvent.event_key.in_([e["event_key"] for e in events])
                )
            )
        )
        new = [e for e in events if e["event_key"] not in have]
        if new:
            s.execute(insert(FeedbackEvent), new)
    text = (
        f"Recorded {len(decisions)} approval decisions for day {day} as feedback; "
        f"final statuses {counts}."
    )
    return {
        "messages": [AIMessage(content=text, name="learn", id=f"learn-{day}")],
        "counts": {"status": counts},
    }
