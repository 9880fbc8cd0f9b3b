"""``shopops status``: runs, pending approvals, last actions, alerts."""

from __future__ import annotations

import json as _json
from typing import Annotated, Any

import typer


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("status")(status)


def print_summary(summary: Any, console: Any = None) -> None:
    """A run summary as rich tables: KPIs, then decisions and refusals."""
    from rich.table import Table

    from agent.queries import KPI_FORMATS, format_kpi

    console = console or _console()
    k = summary.kpis
    t = Table(
        title=f"Run {summary.run_id}: {summary.scenario} / {summary.policy} / "
        f"{summary.approval_mode} (days {summary.start_day}..{summary.current_day - 1})"
    )
    t.add_column("KPI")
    t.add_column("value", justify="right")
    for name in KPI_FORMATS:
        if name != "days":
            t.add_row(name.replace("_", " "), format_kpi(name, k.get(name)))
    console.print(t)
    d = Table(title="Actions and decisions")
    d.add_column("what")
    d.add_column("count", justify="right")
    for st, n in sorted(summary.statuses.items()):
        d.add_row(f"actions {st}", str(n))
    for st, n in sorted(summary.decisions.items()):
        d.add_row(f"decisions {st}", str(n))
    for rule, n in sorted(summary.refusals.items()):
        d.add_row(f"refused by {rule}", str(n))
    console.print(d)
    expired = int(summary.statuses.get("expired", 0))
    if expired:
        console.print(
            f"WARNING: {expired} decisions expired with nobody answering; they did not execute "
            f"(their what-if, by their cards: {summary.expired_whatif:+,.2f}). Answer with "
            "`shopops chat`, or run with --approver scripted; risky orders still executed "
            "their safe part.",
            style="bold red",
        )
    extra = f"; answer {summary.pending} pending with `shopops chat`" if summary.pending else ""
    console.print(f"store: {summary.db_url}; wall {summary.wall_s:.1f} s{extra}")


def status(
    db: Annotated[str | None, typer.Option(help="Store URL or SQLite file.")] = None,
    limit: Annotated[int, typer.Option(help="Rows per table.")] = 10,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show runs, pending approvals, the last executed actions and recent alerts."""
    from rich.table import Table
    from sqlalchemy import func, select

    from agent.cards import card_brief
    from agent.queries import pending_cards
    from agent.store import open_store
    from agent.store.models import DayOutcome, Execution, RuleEvent, Run
    from tools.actions import line_summary

    store = open_store(db)
    try:
        with store.session() as s:
            runs = s.execute(
                select(
                    Run.id,
                    Run.shop_id,
                    Run.scenario,
                    Run.policy,
                    Run.approval_mode,
                    Run.current_day,
                    Run.status,
                    func.coalesce(func.sum(DayOutcome.profit), 0),
                )
                .outerjoin(DayOutcome, DayOutcome.run_id == Run.id)
                .group_by(Run.id)
                .order_by(Run.created_at.desc())
                .limit(limit)
            ).all()
            execs = s.scalars(select(Execution).order_by(Execution.id.desc()).limit(limit)).all()
            refusals = s.execute(
                select(
                    RuleEvent.run_id, RuleEvent.day, RuleEvent.sku, RuleEvent.rule, RuleEvent.detail
                )
                .where(RuleEvent.outcome == "dropped")
                .order_by(RuleEvent.id.desc())
                .limit(limit)
            ).all()
            latest = runs[0] if runs else None
        cards = pending_cards(store)
        alerts: list[dict] = []
        if latest is not None:
            sensed = store.get_blob(latest[0], f"sense:{max(latest[5] - 1, 0)}") or {}
            snap = sensed.get("snap")
            if snap is not None:
                alerts = list(snap.alerts)[-limit:] + list(snap.anomalies)[-limit:]
    finally:
        store.close()
    if json:
        typer.echo(
            _json.dumps(
                {
                    "runs": [
                        dict(
                            zip(
                                (
                                    "id",
                                    "shop",
                                    "scenario",
                                    "policy",
                                    "mode",
                                    "day",
                                    "status",
                                    "profit",
                                ),
                                r,
                                strict=True,
                            )
                        )
                        for r in runs
                    ],
                    "pending": [c["action_id"] for c in cards],
                    "executed": [
                        {"run": e.run_id, "day": e.day, "applied_day": e.applied_day, **e.params}
                        for e in execs
                    ],
                    "refusals": [
                        dict(zip(("run", "day", "sku", "rule", "detail"), r, strict=True))
                        for r in refusals
                    ],
                    "alerts": alerts,
                },
                default=str,
            )
        )
        return
    console = _console()
    t = Table(title="Runs")
    for col in ("run", "shop", "scenario", "policy", "mode", "open day", "status", "profit"):
        t.add_column(col, justify="right" if col in ("open day", "profit") else "left")
    for r in runs:
        t.add_row(r[0], r[1], str(r[2]), r[3], r[4], str(r[5]), r[6], f"{float(r[7]):,.0f}")
    console.print(t if runs else "No runs yet: start one with `shopops run`.")
    console.print(f"{len(cards)} pending approvals", style="bold")
    for c in cards[:limit]:
        console.print("  " + card_brief(c))
    e = Table(title="Last executed actions")
    for col in ("run", "day", "applied", "action"):
        e.add_column(col)
    for x in execs:
        e.add_row(x.run_id, str(x.day), str(x.applied_day), line_summary(x.params))
    if execs:
        console.print(e)
    if refusals:
        r = Table(title="Last refusals by the rules")
        for col in ("run", "day", "sku", "rule", "detail"):
            r.add_column(col)
        for row in refusals:
            r.add_row(row[0], str(row[1]), str(row[2]), row[3], row[4])
        console.print(r)
    console.print(
        f"{len(alerts)} recent drift alerts / anomalies"
        + (": " + "; ".join(str(a.get("sku")) for a in alerts) if alerts else "")
    )


def _console():
    """A console; 140 columns when not a terminal (logs, CI) so tables stay readable."""
    from rich.console import Console

    c = Console(markup=False)  # product names, reasons and rule details are never markup
    return c if c.is_terminal else Console(width=140, markup=False)
