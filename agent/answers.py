"""Answering decisions: one transaction, re-checked at execution, nothing kept for later.

Every answer, from any process (the terminal chat, the web API, an inline approver of
``shopops run``), goes through :func:`apply_answer`:

1. the answer is validated first (:func:`agent.approvals.validate_answer`: strict numbers,
   no control characters, edits that fit the action's kind);
2. one transaction locks the run (:func:`agent.execute.lock_run`), re-reads each named
   action and refuses the whole answer with :class:`DecisionConflictError` (HTTP 409,
   naming the real status and who answered) if any is no longer pending: answered,
   expired, or superseded by a newer decision for the same SKU;
3. in the same transaction it records the answers, executes the accepted and edited lines
   on the shop's open day through :func:`agent.execute.execute_checked` (an answer is an
   intent: the hard rules decide what executes, with today's spend and pipeline), records
   the approval feedback events, and commits.

If anything fails, the transaction rolls back: nothing is recorded, nothing is kept to be
replayed later, the error goes to the person who answered, and every other decision can
still be answered. No lease or claim outlives its process: the run's lock is a database
transaction lock, released by the database the moment a process dies.

:func:`expire_due` closes unanswered decisions under the same lock, so an answer and an
expiry never both win. :func:`supersede_older` is called by ``check`` when a newer decision
for the same SKU and kind exists.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, select, update

from agent.approvals import parse_action_id, validate_answer
from agent.errors import ApprovalError
from agent.execute import ExecItem, ExecResult, execute_checked, lock_run
from agent.store.models import Action, Approval, FeedbackEvent
from tools.actions import line_summary

__all__ = [
    "AnswerResult",
    "DecisionConflictError",
    "DecisionResult",
    "apply_answer",
    "expire_due",
    "supersede_older",
]


class DecisionConflictError(ApprovalError):
    """The decision is no longer pending (answered, expired or superseded); nothing changed.

    Attributes:
        action_id: the contested action.
        by: who answered it (``None`` when nobody did: expired or superseded).
        status: its status now.
        superseded_by: the newer decision that replaced it, if any.
    """

    def __init__(
        self, action_id: int, by: str | None, status: str, superseded_by: int | None = None
    ) -> None:
        self.action_id, self.by, self.status = action_id, by, status
        self.superseded_by = superseded_by
        if status == "superseded":
            what = (
                f"was superseded by the newer decision #{superseded_by}"
                if superseded_by
                else "was superseded by a newer decision"
            )
        elif status == "expired":
            what = "expired before this answer arrived"
        elif status == "unknown":
            what = "is not a decision of this run"
        else:
            who = f" by {by}" if by else ""
            what = f"was already answered{who} (status {status})"
        super().__init__(f"decision #{action_id} {what}; nothing was changed")


@dataclasses.dataclass
class DecisionResult:
    """What one answered decision became."""

    action_id: int
    choice: str
    status: str
    by: str
    summary: str
    executed: dict[str, Any] | None = None
    applied_day: int | None = None
    notes: list[str] = dataclasses.field(default_factory=list)

    def sentence(self) -> str:
        """One line for the person who answered (chat, API reply, console)."""
        head = f"#{self.action_id} {self.choice} by {self.by}: "
        if self.status == "rejected":
            return head + f"rejected {self.summary}; nothing executes."
        if self.status == "executed":
            text = f"executed {line_summary(self.executed)} on day {self.applied_day}"
            if self.notes:
                text += " (the rules changed it: " + "; ".join(self.notes) + ")"
            return head + text + "."
        if self.status == "refused":
            return head + f"nothing executed: {'; '.join(self.notes)}."
        return head + f"{self.status}: {'; '.join(self.notes)}."

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "message": self.sentence()}


@dataclasses.dataclass
class AnswerResult:
    """The outcome of one answer: each decision's result."""

    run_id: str
    decisions: list[DecisionResult]

    def text(self) -> str:
        return "\n".join(d.sentence() for d in self.decisions)


def _conflict(s: Any, aid: int, status: str | None) -> DecisionConflictError:
    by = s.scalar(select(Approval.by).where(Approval.action_id == aid))
    sup = s.scalar(select(Action.superseded_by).where(Action.id == aid))
    return DecisionConflictError(aid, by, status or "unknown", sup)


def apply_answer(ctx: Any, answer: Mapping[str, Any]) -> AnswerResult:
    """Apply ``answer`` (see :mod:`agent.approvals`) to ``ctx``'s run, atomically.

    ``ctx`` is the run's :class:`~agent.context.AgentContext` (no policy needed).

    Raises:
        ApprovalError: the answer is malformed (names the field).
        DecisionConflictError: a named decision is no longer pending (nothing changed).
    """
    store, run_id = ctx.store, ctx.run_id
    ids = _ids(answer)
    with store.session() as s:
        run = lock_run(s, run_id)
        rows = {
            int(r.id): r
            for r in s.execute(
                select(
                    Action.id, Action.day, Action.sku, Action.kind, Action.params,
                    Action.status, Action.card, Action.risk, Action.idempotency_key,
                ).where(Action.id.in_(ids), Action.run_id == run_id)
            )
        }
        for aid in ids:
            if aid not in rows or rows[aid].status != "pending":
                raise _conflict(s, aid, rows[aid].status if aid in rows else None)
        cards = {aid: (r.card or {"action_id": aid, "kind": r.kind}) for aid, r in rows.items()}
        ans = validate_answer(answer, cards)
        now_day = int(run.current_day)
        results: dict[int, DecisionResult] = {}
        items: list[ExecItem] = []
        approvals, feedback = [], []
        for key, d in ans["decisions"].items():
            aid = int(key)
            r = rows[aid]
            line = {**dict(r.params), **d.get("edit", {})}
            results[aid] = DecisionResult(
                aid, d["choice"], "rejected", d["by"], line_summary(r.params)
            )
            if d["choice"] != "reject":
                items.append(ExecItem(aid, r.idempotency_key, line))
            approvals.append(
                {
                    "action_id": aid,
                    "run_id": run_id,
                    "day": int(r.day),
                    "decision": d["choice"],
                    "by": d["by"],
                    "edit": d.get("edit"),
                    "reason": d["reason"],
                    "decided_day": now_day,
                }
            )
            feedback.append(_approval_event(run_id, r, d))
        rejected = [
            {"id": int(k), "status": "rejected", "reason": d["reason"]}
            for k, d in ans["decisions"].items() if d["choice"] == "reject"
        ]
        if rejected:
            s.execute(update(Action), rejected)
        executed = execute_checked(
            s, ctx, run, items, origin_day={aid: int(r.day) for aid, r in rows.items()}
        )
        for ex in executed:
            _merge(results[ex.action_id], ex)
        s.execute(insert(Approval), approvals)
        _insert_new_events(s, feedback)
        _note_on_cards(s, rows, results)
    return AnswerResult(run_id, [results[a] for a in ids])


def _ids(answer: Mapping[str, Any]) -> list[int]:
    if not isinstance(answer, Mapping):
        raise ApprovalError(f"an answer must be a mapping, got {type(answer).__name__}")
    decisions = answer.get("decisions")
    if not isinstance(decisions, Mapping) or not decisions:
        raise ApprovalError("an answer needs 'decisions': {action_id: {choice: ...}}")
    return sorted({parse_action_id(k, "decisions") for k in decisions})


def _merge(res: DecisionResult, ex: ExecResult) -> None:
    res.status = "executed" if ex.status in ("executed", "already") else ex.status
    res.executed = ex.executed or (ex.asked if ex.status == "already" else None)
    res.applied_day = ex.applied_day
    res.notes = list(ex.notes)


def _approval_event(run_id: str, r: Any, d: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "event_key": f"approval:{int(r.id)}",
        "run_id": run_id,
        "day": int(r.day),
        "kind": "approval",
        "sku": r.sku,
        "payload": {
            "action_id": int(r.id),
            "decision": d["choice"],
            "by": d["by"],
            "reason": d["reason"],
            "edit": d.get("edit"),
            "kind": r.kind,
            "risk": float(r.risk),
            "approved": d["choice"] in ("accept", "edit"),
        },
    }


def _insert_new_events(s: Any, events: list[dict[str, Any]]) -> None:
    if not events:
        return
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


def _note_on_cards(s: Any, rows: Mapping[int, Any], results: Mapping[int, DecisionResult]) -> None:
    """Write each decision's outcome onto its card (the console and ``show`` read it)."""
    upd = []
    for aid, res in results.items():
        card = dict(rows[aid].card or {})
        card["outcome"] = {
            "status": res.status,
            "executed": res.executed,
            "applied_day": res.applied_day,
            "notes": res.notes,
            "message": res.sentence(),
        }
        upd.append({"id": aid, "card": card})
    if upd:
        s.execute(update(Action), upd)


def expire_due(ctx: Any, close_day: int) -> list[dict[str, Any]]:
    """Expire the run's pending decisions whose deadline is the close of ``close_day``.

    Under the run's lock, so an answer that committed first keeps its result and one that
    comes after gets a 409 saying *expired*. Returns one item per expired decision:
    ``{"action_id", "day", "summary", "whatif"}`` (the card's what-if profit, if any).
    """
    deadline = int(ctx.approval.deadline_days)
    out: list[dict[str, Any]] = []
    with ctx.store.session() as s:
        lock_run(s, ctx.run_id)
        rows = s.execute(
            select(Action.id, Action.day, Action.sku, Action.kind, Action.params, Action.card,
                   Action.risk)
            .where(
                Action.run_id == ctx.run_id,
                Action.status == "pending",
                Action.day + deadline <= close_day,
            )
            .order_by(Action.id)
        ).all()
        if not rows:
            return out
        reason = f"no answer by the close of day {close_day}"
        s.execute(
            update(Action), [{"id": r.id, "status": "expired", "reason": reason} for r in rows]
        )
        s.execute(
            insert(Approval),
            [
                {
                    "action_id": r.id,
                    "run_id": ctx.run_id,
                    "day": int(r.day),
                    "decision": "expire",
                    "by": "system",
                    "edit": None,
                    "reason": reason,
                    "decided_day": close_day,
                }
                for r in rows
            ],
        )
        _insert_new_events(
            s,
            [
                _approval_event(ctx.run_id, r, {"choice": "expire", "by": "system",
                                                "reason": reason})
                for r in rows
            ],
        )
        for r in rows:
            eff = (r.card or {}).get("effect") or {}
            out.append(
                {
                    "action_id": int(r.id),
                    "day": int(r.day),
                    "summary": line_summary(r.params),
                    "whatif": eff.get("profit_delta"),
                }
            )
    return out


def supersede_older(s: Any, run_id: str, day: int, new_ids: Mapping[tuple[str, str], int]) -> int:
    """Mark pending decisions of earlier days superseded by the day's newer ones.

    ``new_ids`` maps ``(kind, sku)`` to the newest action for it. Runs in the caller's
    transaction. Returns how many were superseded.
    """
    if not new_ids:
        return 0
    skus = sorted({sku for _, sku in new_ids})
    old = s.execute(
        select(Action.id, Action.kind, Action.sku).where(
            Action.run_id == run_id,
            Action.status == "pending",
            Action.day < day,
            Action.sku.in_(skus),
        )
    ).all()
    upd = [
        {
            "id": r.id,
            "status": "superseded",
            "superseded_by": new_ids[(r.kind, r.sku)],
            "reason": f"superseded by #{new_ids[(r.kind, r.sku)]} of day {day}",
        }
        for r in old
        if (r.kind, r.sku) in new_ids
    ]
    if upd:
        s.execute(update(Action), upd)
    return len(upd)
