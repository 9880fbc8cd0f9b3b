"""Executing actions exactly once, each re-checked against the hard rules when it executes.

Whoever said yes (the risk score, a person, a scripted reviewer), what reaches the shop is
decided here, at execution time, against the shop's state *now*: the open day's morning view
plus every line already executed on that day (in any process), the money spent today and this
week, and the latest forecast. :func:`execute_checked` runs the lines through
:func:`tools.guardrails.apply_guardrails` together (budgets shared), executes what survives
(possibly clipped), records every clip or refusal as a rule event with ``at execution:`` in
its detail, and returns per action what happened, so the reply, the card and the console can
say it.

It runs inside the caller's transaction, which must hold the run's lock
(:func:`lock_run`): on SQLite every transaction is ``BEGIN IMMEDIATE``, on PostgreSQL the
run row is locked ``FOR UPDATE``. So two executions of one run never interleave, and a
process killed in the middle holds nothing: the database rolls its transaction back at once.

:func:`execute_ready` is the graph's ``act``: it executes the day's ``auto`` actions in
chunks, one transaction each. A crash before a chunk's commit loses its rows, so a resume
executes it again with the same keys (the backends are idempotent by key); a crash after
the commit finds the rows and executes nothing twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import insert, select, update

from agent.errors import RunNotFoundError
from agent.store.models import Action, Execution, RuleEvent, Run, utcnow
from envs.simulator import ShopView
from tools.actions import arrays_from_lines, lines_from_arrays
from tools.guardrails import RuleEvent as GuardEvent
from tools.guardrails import apply_guardrails

__all__ = [
    "ExecItem",
    "ExecResult",
    "ShopNow",
    "check_now",
    "execute_checked",
    "execute_ready",
    "lock_run",
    "sensed_forecast",
    "shop_now",
]


@dataclasses.dataclass(frozen=True)
class ExecItem:
    """One action to execute: its id, idempotency key and the line asked for."""

    action_id: int
    key: str
    line: dict[str, Any]


@dataclasses.dataclass
class ExecResult:
    """What happened to one :class:`ExecItem`.

    Attributes:
        action_id: the action.
        status: ``executed`` (possibly clipped), ``refused`` (a rule dropped it whole),
            ``expired`` (the shop closed first) or ``already`` (its key had executed).
        asked: the line that was asked for.
        executed: the line that reached the shop (``None`` unless executed).
        applied_day: the shop day it took effect.
        notes: what the rules did to it, one sentence each.
    """

    action_id: int
    status: str
    asked: dict[str, Any]
    executed: dict[str, Any] | None = None
    applied_day: int | None = None
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True when the rules clipped or refused what was asked."""
        return bool(self.notes)


def lock_run(s: Any, run_id: str) -> Run:
    """The run's row, locked for this transaction (see the module docstring)."""
    run = s.get(Run, run_id, with_for_update=True)
    if run is None:
        raise RunNotFoundError(f"no run {run_id!r}")
    return run


@dataclasses.dataclass
class ShopNow:
    """The shop as execution must see it: the morning view plus what executed since."""

    view: ShopView
    spent_today: float
    spent_this_week: float


def shop_now(s: Any, ctx: Any, day: int) -> ShopNow:
    """The open ``day``'s morning view with today's executed orders in its pipeline, and the
    purchase-order value executed today and earlier this shop week (one query)."""
    shop = ctx.shop
    view = shop.view()
    dow = int(view.dow)
    rows = s.execute(
        select(Execution.applied_day, Execution.sku, Execution.params).where(
            Execution.run_id == ctx.run_id,
            Execution.kind == "restock",
            Execution.applied_day >= day - dow,
            Execution.applied_day <= day,
        )
    ).all()
    on_order = np.array(view.on_order, dtype=float, copy=True)
    today = week = 0.0
    for d, sku, params in rows:
        pos = shop.sku_index.get(sku)
        if pos is None:
            continue
        qty = float(params.get("quantity", 0))
        if d == day:
            on_order[pos] += qty
            today += qty * float(view.unit_cost[pos])
        else:
            week += qty * float(view.unit_cost[pos])
    if any(d == day for d, _, _ in rows):
        view = dataclasses.replace(view, on_order=on_order)
    return ShopNow(view, today, week)


def sensed_forecast(s: Any, ctx: Any, day: int) -> np.ndarray | None:
    """The day's sensed mean daily forecast (``None`` before the day was sensed)."""
    sensed = ctx.store.get_blob(ctx.run_id, f"sense:{day}", session=s)
    return None if not sensed else np.asarray(sensed["snap"].mean_daily, dtype=float)


def check_now(
    ctx: Any, now: ShopNow, arrays: Any, forecast: np.ndarray | None, session: Any = None
) -> Any:
    """``arrays`` through the hard rules against the shop ``now`` (spend so far, pipeline),
    ``forecast`` and the knowledge base's directives in force: the one call every caller
    makes. ``session``: the caller's open transaction, if any (the directives are read in it).
    """
    from agent.kb import day_directives

    shop = ctx.shop
    kb = day_directives(ctx, now.view, session=session)
    return apply_guardrails(
        arrays,
        now.view,
        ctx.rules,
        shop.category_names,
        forecast=forecast,
        spent_today=now.spent_today,
        spent_this_week=now.spent_this_week,
        shop_capacity=shop.warehouse_capacity,
        directives=None if kb is None else kb[0],
    )


def _unique_rounds(items: Sequence[ExecItem]) -> list[list[ExecItem]]:
    """Split ``items`` so no round holds two lines of the same SKU and kind."""
    rounds: list[list[ExecItem]] = []
    seen: list[set[tuple[str, str]]] = []
    for it in items:
        k = (it.line["kind"], it.line["sku"])
        for r, keys in zip(rounds, seen, strict=True):
            if k not in keys:
                r.append(it)
                keys.add(k)
                break
        else:
            rounds.append([it])
            seen.append({k})
    return rounds


def execute_checked(
    s: Any, ctx: Any, run: Run, items: Sequence[ExecItem], *, origin_day: dict[int, int]
) -> list[ExecResult]:
    """Re-check ``items`` against the rules now, execute what survives, record everything.

    Runs in the caller's transaction, which holds ``run``'s lock (:func:`lock_run`); sets
    each action's status (``executed`` / ``refused`` / ``expired``) and params, inserts
    its ``executions`` row and the rule events. ``origin_day`` maps each action to the day
    it was decided on (rule events are filed under it).
    """
    shop = ctx.shop
    applied_day = int(run.current_day)
    out: list[ExecResult] = []
    if run.horizon_days is not None and applied_day >= run.horizon_days:
        reason = f"the shop closed at day {run.horizon_days} before execution"
        for it in items:
            out.append(ExecResult(it.action_id, "expired", it.line, notes=[reason]))
        if items:
            s.execute(
                update(Action),
                [{"id": it.action_id, "status": "expired", "reason": reason} for it in items],
            )
        return out
    keys = [it.key for it in items]
    done = set(
        s.scalars(select(Execution.idempotency_key).where(Execution.idempotency_key.in_(keys)))
    )
    fresh = [it for it in items if it.key not in done]
    for it in items:
        if it.key in done:
            out.append(ExecResult(it.action_id, "already", it.line, applied_day=applied_day))
    if done:
        s.execute(
            update(Action),
            [{"id": it.action_id, "status": "executed"} for it in items if it.key in done],
        )
    in_session = getattr(shop, "execute_in_session", None)
    forecast = sensed_forecast(s, ctx, applied_day) if fresh else None
    for batch in _unique_rounds(fresh):
        now = shop_now(s, ctx, applied_day)
        lines = arrays_from_lines([it.line for it in batch], shop.sku_index)
        res = check_now(ctx, now, lines, forecast, session=s)
        allowed = {
            (ln["kind"], ln["sku"]): ln for ln in lines_from_arrays(res.arrays, shop.sku_ids)
        }
        events: dict[tuple[str, str], list[GuardEvent]] = {}
        for e in res.events:
            events.setdefault((e.kind, e.sku or ""), []).append(e)
        exec_rows, status_rows, rule_rows = [], [], []
        stamp = utcnow()
        for it in batch:
            k = (it.line["kind"], it.line["sku"])
            evs = events.get(k, [])
            notes = [f"{e.rule} {e.outcome} it: {e.detail}" for e in evs]
            rule_rows += [
                {
                    "run_id": ctx.run_id,
                    "day": origin_day.get(it.action_id, applied_day),
                    "action_id": it.action_id,
                    "sku": e.sku,
                    "kind": e.kind,
                    "rule": e.rule,
                    "outcome": e.outcome,
                    "detail": f"at execution on day {applied_day}: {e.detail}",
                    "before": e.before,
                    "after": e.after,
                }
                for e in evs
            ]
            line = allowed.get(k)
            if line is None:
                why = "; ".join(notes) or "the rules allowed nothing"
                out.append(ExecResult(it.action_id, "refused", it.line, notes=notes or [why]))
                status_rows.append(
                    {"id": it.action_id, "status": "refused", "reason": f"refused: {why}"[:2000]}
                )
                continue
            line = {**it.line, **line}
            if in_session is not None:  # a store-backed shop writes in this transaction
                in_session(s, line, it.key)
            else:
                shop.execute(line, it.key)
            exec_rows.append(
                {
                    "idempotency_key": it.key,
                    "action_id": it.action_id,
                    "run_id": ctx.run_id,
                    "day": origin_day.get(it.action_id, applied_day),
                    "applied_day": applied_day,
                    "sku": line["sku"],
                    "kind": line["kind"],
                    "params": line,
                    "executed_at": stamp,
                }
            )
            upd: dict[str, Any] = {"id": it.action_id, "status": "executed", "params": line}
            if notes:
                upd["reason"] = ("executed as clipped: " + "; ".join(notes))[:2000]
            status_rows.append(upd)
            out.append(
                ExecResult(it.action_id, "executed", it.line, line, applied_day, notes=notes)
            )
        if exec_rows:
            s.execute(insert(Execution), exec_rows)
        if status_rows:
            s.execute(update(Action), status_rows)
        if rule_rows:
            s.execute(insert(RuleEvent), rule_rows)
        s.flush()
    return out


def execute_ready(ctx: Any, day: int, chunk: int = 500) -> dict[str, Any]:
    """Execute every ``auto`` action of ``day`` (the graph's ``act``); returns counts.

    ``{"executed": n, "already": n, "expired": n, "refused": n, "clipped": n,
    "applied_day": d}``.
    """
    counts: dict[str, Any] = {
        "executed": 0, "already": 0, "expired": 0, "refused": 0, "clipped": 0, "applied_day": None
    }
    chunk = max(1, int(chunk))
    store, run_id = ctx.store, ctx.run_id
    while True:
        with store.session() as s:
            run = lock_run(s, run_id)
            rows = s.execute(
                select(Action.id, Action.params, Action.idempotency_key)
                .where(Action.run_id == run_id, Action.day == day, Action.status == "auto")
                .order_by(Action.id)
                .limit(chunk)
            ).all()
            if not rows:
                return counts
            counts["applied_day"] = int(run.current_day)
            items = [ExecItem(int(r.id), r.idempotency_key, dict(r.params)) for r in rows]
            origin = {i.action_id: day for i in items}
            for r in execute_checked(s, ctx, run, items, origin_day=origin):
                counts[r.status] += 1
                counts["clipped"] += int(r.status == "executed" and r.changed)
