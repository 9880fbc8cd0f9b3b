"""What the API reads from the store, filtered to the shops the caller may see.

* :func:`list_decisions`: decisions (pending by default), **highest risk first, then the
  nearest deadline** (``expires_day``), then the oldest.
* :func:`get_decision`: one decision with its recorded answer and its execution.
* :func:`list_runs` / :func:`run_detail`: run history, KPIs (:func:`agent.runner.summarize_run`)
  and the per-day series the console charts.
* :func:`list_alerts`: drift alerts and anomalies from each recent run's latest sensing.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import func, select

from agent.cards import policy_line
from agent.store import Store
from agent.store.models import Action, Approval, DayOutcome, Execution, Run
from agent.web.auth import Principal
from agent.web.errors import NotFoundError

__all__ = [
    "get_decision",
    "list_alerts",
    "list_decisions",
    "list_runs",
    "run_detail",
    "run_shop",
]


def _visible(q: Any, who: Principal) -> Any:
    if who.role == "admin" or who.shops is None:
        return q
    return q.where(Run.shop_id.in_(sorted(who.shops)))


def _decision(a: Action, shop_id: str) -> dict[str, Any]:
    card = a.card or {}
    return {
        "action_id": a.id,
        "run_id": a.run_id,
        "shop_id": shop_id,
        "day": a.day,
        "sku": a.sku,
        "kind": a.kind,
        "status": a.status,
        "risk": float(a.risk),
        "expires_day": card.get("expires_day"),
        "summary": card.get("summary") or f"{a.kind} {a.sku}",
        # what the LM wrote beside the team's rule, worded once (agent.cards) for every client
        "policy": policy_line(card) if card.get("lm_decision") else None,
        "card": card,
    }


def run_shop(store: Store, run_id: str) -> str:
    """The shop of ``run_id``. Raises :class:`NotFoundError`."""
    with store.session() as s:
        shop = s.scalar(select(Run.shop_id).where(Run.id == run_id))
    if shop is None:
        raise NotFoundError(f"no run {run_id!r}")
    return shop


def list_decisions(
    store: Store,
    who: Principal,
    *,
    status: str | None = "pending",
    run_id: str | None = None,
    shop_id: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Decisions the caller may see (actions that carry a card), sorted as the module says."""
    with store.session() as s:
        q = _visible(
            select(Action, Run.shop_id)
            .join(Run, Run.id == Action.run_id)
            .where(Action.card.is_not(None)),
            who,
        )
        if status:
            q = q.where(Action.status == status)
        if run_id:
            q = q.where(Action.run_id == run_id)
        if shop_id:
            q = q.where(Run.shop_id == shop_id)
        rows = [_decision(a, shop) for a, shop in s.execute(q.order_by(Action.id))]
    rows.sort(key=lambda d: (-d["risk"], d["expires_day"] or 1 << 30, d["action_id"]))
    return rows[:limit]


def get_decision(store: Store, who: Principal, action_id: int) -> dict[str, Any]:
    """One decision with ``answer`` and ``execution`` (``None`` until there are any).

    Raises:
        NotFoundError: no such action, or one that never needed a person.
        ForbiddenError: the caller may not see its shop.
    """
    with store.session() as s:
        row = s.execute(
            select(Action, Run.shop_id)
            .join(Run, Run.id == Action.run_id)
            .where(Action.id == action_id)
        ).first()
        if row is None or row[0].card is None:
            raise NotFoundError(f"no decision #{action_id}")
        a, shop = row
        who.require_see(shop)
        out = _decision(a, shop)
        ap = s.scalar(select(Approval).where(Approval.action_id == action_id))
        ex = s.scalar(select(Execution).where(Execution.action_id == action_id))
    out["answer"] = (
        None
        if ap is None
        else {
            "decision": ap.decision,
            "by": ap.by,
            "reason": ap.reason,
            "edit": ap.edit,
            "at": ap.at.isoformat(timespec="seconds"),
        }
    )
    out["execution"] = (
        None
        if ex is None
        else {
            "applied_day": ex.applied_day,
            "params": ex.params,
            "executed_at": ex.executed_at.isoformat(timespec="seconds"),
        }
    )
    out["can_answer"] = a.status == "pending" and who.can_answer(shop)
    return out


def _run_item(r: Run, days: int, profit: float, pending: int) -> dict[str, Any]:
    return {
        "run_id": r.id,
        "shop_id": r.shop_id,
        "scenario": r.scenario,
        "policy": r.policy,
        "approval_mode": r.approval_mode,
        "status": r.status,
        "current_day": r.current_day,
        "days_closed": int(days),
        "profit": float(profit),
        "pending": int(pending),
        "created_at": r.created_at.isoformat(timespec="seconds"),
    }


def list_runs(store: Store, who: Principal, limit: int = 50) -> list[dict[str, Any]]:
    """The caller's runs, newest first, with days closed, profit and pending decisions."""
    with store.session() as s:
        runs = s.scalars(
            _visible(select(Run), who).order_by(Run.created_at.desc(), Run.id).limit(limit)
        ).all()
        ids = [r.id for r in runs]
        outs = dict(
            (rid, (n, p))
            for rid, n, p in s.execute(
                select(
                    DayOutcome.run_id, func.count(), func.coalesce(func.sum(DayOutcome.profit), 0)
                )
                .where(DayOutcome.run_id.in_(ids))
                .group_by(DayOutcome.run_id)
            )
        )
        pend = dict(
            s.execute(
                select(Action.run_id, func.count())
                .where(Action.run_id.in_(ids), Action.status == "pending")
                .group_by(Action.run_id)
            ).all()
        )
    return [_run_item(r, *outs.get(r.id, (0, 0.0)), pend.get(r.id, 0)) for r in runs]


def _finite(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def run_detail(store: Store, who: Principal, run_id: str) -> dict[str, Any]:
    """A run's KPIs, daily series and last 20 answers.

    Raises:
        NotFoundError / ForbiddenError.
    """
    from agent.queries import summarize_run

    who.require_see(run_shop(store, run_id))
    summ = summarize_run(store, run_id)
    with store.session() as s:
        run = s.get(Run, run_id)
        days = s.execute(
            select(DayOutcome.day, DayOutcome.profit, DayOutcome.totals)
            .where(DayOutcome.run_id == run_id)
            .order_by(DayOutcome.day)
        ).all()
        recent = s.execute(
            select(Approval, Action.sku, Action.kind)
            .join(Action, Action.id == Approval.action_id)
            .where(Approval.run_id == run_id)
            .order_by(Approval.id.desc())
            .limit(20)
        ).all()
        item = _run_item(run, len(days), summ.profit, summ.pending)
    series: dict[str, list[float | None]] = {
        k: [] for k in ("day", "profit", "fill_rate", "lost", "inventory", "ordered")
    }
    for d, p, t in days:
        dem = float(t.get("demand", 0.0))
        series["day"].append(float(d))
        series["profit"].append(_finite(p))
        series["fill_rate"].append(_finite(t.get("sales", 0.0)) / dem if dem > 0 else None)
        series["lost"].append(_finite(t.get("lost")))
        series["inventory"].append(_finite(t.get("inventory_units")))
        series["ordered"].append(_finite(t.get("ordered")))
    return {
        "run": item,
        "kpis": {k: _finite(v) for k, v in summ.kpis.items()},
        "statuses": summ.statuses,
        "decisions": summ.decisions,
        "series": series,
        "recent": [
            {
                "action_id": ap.action_id,
                "day": ap.day,
                "sku": sku,
                "kind": kind,
                "decision": ap.decision,
                "by": ap.by,
                "reason": ap.reason,
                "edit": ap.edit,
                "at": ap.at.isoformat(timespec="seconds"),
            }
            for ap, sku, kind in recent
        ],
    }


def _plain(x: Any) -> Any:
    """JSON-safe copy of an alert payload (numpy scalars, NaN, tuples)."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, bool | int | str) or x is None:
        return x
    if hasattr(x, "__float__"):
        return _finite(x)  # numpy scalars; NaN and inf become null
    return str(x)


def list_alerts(store: Store, who: Principal, runs: int = 10, limit: int = 100) -> list[dict]:
    """Drift alerts and anomalies of the caller's ``runs`` most recent runs, latest first."""
    out: list[dict[str, Any]] = []
    for r in list_runs(store, who, limit=runs):
        for day in (r["current_day"], r["current_day"] - 1):
            sensed = store.get_blob(r["run_id"], f"sense:{max(day, 0)}") or {}
            snap = sensed.get("snap")
            if snap is None:
                continue
            for kind, items in (("drift", snap.alerts), ("anomaly", snap.anomalies)):
                for a in list(items)[-limit:]:
                    d = _plain(dict(a))
                    out.append(
                        {
                            "kind": kind,
                            "run_id": r["run_id"],
                            "shop_id": r["shop_id"],
                            "day": int(d.get("day", max(day, 0))),
                            "sku": d.get("sku"),
                            "detail": d,
                        }
                    )
            break
    return out[:limit]
