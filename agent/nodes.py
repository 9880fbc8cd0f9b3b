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

import functools
import time
from collections.abc import Callable
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.runtime import Runtime
from sqlalchemy import delete, func, insert, select, update

from agent.answers import supersede_older
from agent.context import AgentContext
from agent.errors import RunStateError
from agent.execute import check_now, execute_ready, lock_run, shop_now
from agent.kb import attach_documents, day_directives, ingest_notices
from agent.routing import decide_routes, recent_answers, route_rows
from agent.state import DayState
from agent.store.models import Action, FeedbackEvent, PlanRecord, RuleEvent
from envs.plan import Plan, PlanArrays
from tools.actions import (
    idempotency_key,
    lines_from_arrays,
)
from tools.guardrails import RuleEvent as GuardEvent
from tools.knowledge import adjust_view
from tools.plan_text import parse_plan_text
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
    read = ingest_notices(ctx, day)  # the day's texts into the knowledge base, read
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
        + (f" {len(read)} new texts read into the knowledge base"
           f" ({sum(r['waiting'] for r in read)} readings wait for a person)." if read else "")
    )
    return {
        "sense_key": key,
        "messages": [HumanMessage(content=brief, name="sense", id=f"sense-{day}")],
        "counts": {
            "skus": len(view.sku_ids),
            "low_cover": low,
            "alerts": len(snap.alerts),
            "anomalies": len(snap.anomalies),
            "texts_read": len(read),
        },
    }


# ---------------------------------------------------------------------------- plan

@_timed("plan")
def plan(state: DayState, runtime: Runtime[AgentContext]) -> dict:
    """Ask the policy for the day's plan and record it (the ``plans`` row and blob)."""
    ctx = runtime.context
    run_id, day = state["run_id"], int(state["day"])
    policy = ctx.need_policy()
    shop = ctx.shop
    view = shop.view()
    kb = day_directives(ctx, view)
    if kb is not None:  # soft directives: delays and demand shifts the policy plans with
        view = adjust_view(view, *kb)
    out = policy.act(view, shop.sim)
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
        ctx.store.put_blob(run_id, "policy", policy, session=s)  # its state, for a resume
    n_r = sum(ln["kind"] == "restock" for ln in lines)
    msg = AIMessage(
        content=(
            f"Plan for day {day} by {ctx.policy_name}: {n_r} purchase orders, "
            f"{len(lines) - n_r} promotion changes (plan {plan_id}; its lines are checked, "
            "routed and executed by the next nodes, never by this message)."
        ),
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
    res = check_now(ctx, now, arrays, snap.mean_daily)
    lines = lines_from_arrays(res.arrays, shop.sku_ids)
    mark_forced(lines, res.events, now.view.discount, shop.sku_index)
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
        decided = s.scalar(
            select(func.count()).select_from(Action).where(
                Action.run_id == run_id, Action.day == day, Action.status != "checked"
            )
        )
        if decided:  # another process got here first and went on: never redo its day
            raise RunStateError(
                f"run {run_id} day {day} was already decided by another process; only one "
                "`shopops run` may drive a run at a time"
            )
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
    """Score each action's risk; the approval mode decides auto or pending (with a card).

    In ``risky`` mode a risky order's safe part executes and its excess waits; a proposal
    whose own what-if loses money is not put to a person; what a person rejected lately
    goes back to a person (:mod:`agent.routing` holds the rules)."""
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
    recent = recent_answers(store, run_id, day, {(a.kind, a.sku) for a in acts})
    routes = decide_routes(acts, shop, view, snap, ap, recent)
    with store.session() as s:
        pend_ids = [int(a.id) for a, p in zip(acts, routes.pending, strict=True) if p]
        rules_by_action: dict[int, list[dict]] = {}
        for r in s.execute(
            select(RuleEvent.action_id, RuleEvent.rule, RuleEvent.outcome, RuleEvent.detail)
            .where(RuleEvent.run_id == run_id, RuleEvent.day == day,
                   RuleEvent.action_id.in_(pend_ids))
        ) if pend_ids else ():
            rules_by_action.setdefault(int(r.action_id), []).append(
                {"rule": r.rule, "outcome": r.outcome, "detail": r.detail}
            )
        updates, excess_rows, refused_events = route_rows(
            routes, acts, run_id, day, view, snap, rules_by_action, recent, shop, ap
        )
        attach_documents(s, ctx, view, day, [u["card"] for u in updates if u["card"]]
                         + [r["card"] for r in excess_rows])
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
    n_auto = sum(u["status"] == "auto" for u in updates)
    n_r, n_s = sum(u["status"] == "refused" for u in updates), len(excess_rows)
    n_p = sum(u["status"] == "pending" for u in updates) + n_s
    whatif = routes.whatif
    text = (
        f"Risk for day {day} (mode {ap.mode}, threshold {ap.threshold}): "
        f"{n_auto} actions execute automatically, {n_p} wait for a person"
        + (f" ({n_s} of them only beyond a safe part that executes now)" if n_s else "")
        + (f"; {n_r} not proposed (their what-if loses money)" if n_r else "")
        + (f"; the plan's what-if over {whatif.horizon} days is {whatif.total:+.2f} versus "
           "no action" if whatif is not None else "")
        + "."
    )
    return {
        "messages": [AIMessage(content=text, name="route", id=f"route-{day}")],
        "counts": {"auto": n_auto, "pending": n_p, "split": n_s, "not_proposed": n_r},
    }


# ---------------------------------------------------------------------------- act
@_timed("act")
def act(state: DayState, runtime: Runtime[AgentContext]) -> dict:
    """Execute every automatic action once (idempotency key), re-checked by the rules."""
    ctx = runtime.context
    run_id, day = state["run_id"], int(state["day"])
    held = hold_stopped(ctx, day)
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
        + (f" {held} SKUs held off sale (knowledge base stop-sale)." if held else "")
    )
    return {
        "messages": [AIMessage(content=text, name="act", id=f"act-{day}")],
        "counts": {"status": counts},
    }


def hold_stopped(ctx: AgentContext, day: int) -> int:
    """How many SKUs a stop-sale directive takes off sale today. The hold itself is applied
    when the day closes (:func:`agent.runner.close_sim_day` reads the directives in force
    then, in the closing transaction): a rule, not a decision, so no approval and nothing
    a resumed day could repeat or lose."""
    kb = day_directives(ctx, ctx.shop.view())
    return 0 if kb is None else int(kb[0].stop_sale.sum())


def mark_forced(
    lines: list[dict[str, Any]], events: Any, running: Any, sku_index: Any
) -> None:
    """Mark the promotion lines the knowledge base's rules made or cut (a running discount
    ended or lowered to comply) with ``forced_by``: routing executes them without a person,
    since no answer may keep a forbidden discount running."""
    rules = {(e.sku, e.kind): e.rule for e in events if e.rule.startswith("kb.")}
    for ln in lines:
        rule = rules.get((ln["sku"], ln["kind"]))
        lowers = float(ln.get("discount", 0.0)) <= float(running[sku_index[ln["sku"]]]) + 1e-9
        if rule and ln["kind"] == "promotion" and lowers:
            ln["forced_by"] = rule


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
