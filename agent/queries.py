"""What the store says about runs: pending decisions and a run's summary (plain values).

Read-only queries shared by the clock (:mod:`agent.runner`), the real-shop runs
(:mod:`agent.real_run`), the CLI and the web API.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import func, select

from agent.errors import RunNotFoundError
from agent.store import Store
from agent.store.models import Action, Approval, DayOutcome, RuleEvent, Run

__all__ = [
    "KPI_FORMATS",
    "RunSummary",
    "count_pending",
    "format_kpi",
    "pending_cards",
    "pending_ids",
    "summarize_run",
]

#: How each run KPI is written for people (tables, reports): never in scientific notation.
KPI_FORMATS: dict[str, str] = {
    "days": "{:,.0f}",
    "profit": "{:,.0f}",
    "revenue": "{:,.0f}",
    "fill_rate": "{:.1%}",
    "lost_units": "{:,.0f}",
    "stockout_sku_days": "{:,.0f}",
    "waste_units": "{:,.0f}",
    "ordered_units": "{:,.0f}",
    "promo_cost": "{:,.0f}",
    "avg_inventory_units": "{:,.0f}",
}


def format_kpi(name: str, value: float | None) -> str:
    """``value`` as :data:`KPI_FORMATS` writes ``name`` (``-`` for a missing value)."""
    if value is None or value != value:
        return "-"
    return KPI_FORMATS.get(name, "{:,.2f}").format(value)


@dataclasses.dataclass
class RunSummary:
    """What a run did (plain values; ``to_dict`` for JSON).

    ``expired_whatif`` sums the what-if profit (from their cards) of the decisions that
    expired unanswered: what nobody answering was worth, by the agent's own estimate.
    """

    run_id: str
    shop_id: str
    scenario: str | None
    seed: int
    policy: str
    approval_mode: str
    start_day: int
    current_day: int
    days_closed: int
    profit: float
    kpis: dict[str, float]
    statuses: dict[str, int]
    decisions: dict[str, int]
    refusals: dict[str, int]
    pending: int
    expired_whatif: float = 0.0
    wall_s: float = 0.0
    node_s: dict[str, float] = dataclasses.field(default_factory=dict)
    db_url: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def count_pending(store: Store, run_id: str | None = None) -> int:
    """Actions waiting for a person (in one run or all)."""
    with store.session() as s:
        q = select(func.count()).select_from(Action).where(Action.status == "pending")
        if run_id:
            q = q.where(Action.run_id == run_id)
        return int(s.scalar(q) or 0)


def pending_ids(store: Store, run_id: str) -> list[int]:
    """The ids of the run's pending decisions, oldest first (no cards loaded)."""
    with store.session() as s:
        return [int(i) for i in s.scalars(
            select(Action.id).where(Action.run_id == run_id, Action.status == "pending")
            .order_by(Action.id))]


def pending_cards(
    store: Store, run_id: str | None = None, day: int | None = None
) -> list[dict[str, Any]]:
    """The decision cards of every pending action (of one run, one day), oldest first."""
    with store.session() as s:
        q = select(Action.card).where(Action.status == "pending").order_by(Action.id)
        if run_id:
            q = q.where(Action.run_id == run_id)
        if day is not None:
            q = q.where(Action.day == day)
        return [c for (c,) in s.execute(q) if c]


def summarize_run(store: Store, run_id: str) -> RunSummary:
    """The summary of a run from the store."""
    with store.session() as s:
        run = s.get(Run, run_id)
        if run is None:
            raise RunNotFoundError(f"no run {run_id!r} in {store.safe_url}")
        outs = s.execute(
            select(DayOutcome.profit, DayOutcome.breakdown, DayOutcome.totals).where(
                DayOutcome.run_id == run_id
            )
        ).all()
        statuses = dict(
            s.execute(
                select(Action.status, func.count())
                .where(Action.run_id == run_id)
                .group_by(Action.status)
            ).all()
        )
        decisions = dict(
            s.execute(
                select(Approval.decision, func.count())
                .where(Approval.run_id == run_id)
                .group_by(Approval.decision)
            ).all()
        )
        expired_cards = s.scalars(
            select(Action.card).where(Action.run_id == run_id, Action.status == "expired")
        ).all()
        expired_whatif = sum(
            float(((c or {}).get("effect") or {}).get("profit_delta") or 0.0)
            for c in expired_cards
        )
        refusals = dict(
            s.execute(
                select(RuleEvent.rule, func.count())
                .where(RuleEvent.run_id == run_id, RuleEvent.outcome == "dropped")
                .group_by(RuleEvent.rule)
            ).all()
        )
        profit = sum(p for p, _, _ in outs)
        tot: dict[str, float] = {}
        br: dict[str, float] = {}
        for _, b, t in outs:
            for k, v in t.items():
                tot[k] = tot.get(k, 0.0) + float(v)
            for k, v in b.items():
                br[k] = br.get(k, 0.0) + float(v)
        n_days = len(outs)
        demand = tot.get("demand", 0.0)
        kpis = {
            "days": float(n_days),
            "profit": profit,
            "revenue": br.get("revenue", 0.0),
            "fill_rate": tot.get("sales", 0.0) / demand if demand > 0 else float("nan"),
            "lost_units": tot.get("lost", 0.0),
            "waste_units": tot.get("expired", 0.0),
            "stockout_sku_days": tot.get("stockout_sku_days", 0.0),
            "ordered_units": tot.get("ordered", 0.0),
            "promo_cost": br.get("promotion", 0.0),
            "avg_inventory_units": tot.get("inventory_units", 0.0) / n_days if n_days else 0.0,
        }
        return RunSummary(
            run_id=run_id,
            shop_id=run.shop_id,
            scenario=run.scenario,
            seed=run.seed,
            policy=run.policy,
            approval_mode=run.approval_mode,
            start_day=run.start_day,
            current_day=run.current_day,
            days_closed=n_days,
            profit=profit,
            kpis=kpis,
            statuses={k: int(v) for k, v in statuses.items()},
            decisions={k: int(v) for k, v in decisions.items()},
            refusals={k: int(v) for k, v in refusals.items()},
            pending=int(statuses.get("pending", 0)),
            expired_whatif=round(expired_whatif, 2),
            db_url=store.safe_url,
        )
