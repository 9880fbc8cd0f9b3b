"""``shopops demo``: the main job on the embedded defaults, end to end.

The agent runs a simulated shop for several weeks: each day it senses the shop, plans with the
configured policy, checks the plan against the rules, executes what is safe, sends risky
actions to an approver (here a scripted one, as a human would answer), and learns from the
outcome. Then the run is re-simulated under alternative decisions (every allowed action
without asking, the policy without rules, no action) on the same random demand, and a
Markdown report with a plot is written next to the run's database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agent.defaults import DEFAULT_POLICY


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    scenario: Annotated[str, typer.Option(help="Scenario name or YAML path.")] = "steady",
    days: Annotated[int, typer.Option(help="Simulated days the agent runs.")] = 28,
    seed: Annotated[int, typer.Option(help="Episode seed (0-999 are report seeds).")] = 0,
    policy: Annotated[str, typer.Option(help="The agent's decision policy.")] = DEFAULT_POLICY,
    approval_mode: Annotated[
        str, typer.Option(help="auto | confirm | risky (only risky actions wait).")
    ] = "risky",
    out: Annotated[
        Path, typer.Option(help="Folder for the demo's database and report.")
    ] = Path("runs/demo"),
) -> None:
    """Run the agent on a simulated shop for some weeks; print KPIs and write a report."""
    from agent.commands.replay import print_replay_report, replay_report
    from agent.commands.status import print_summary
    from agent.runner import run_simulated
    from agent.store import open_store

    out.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{(out / 'shopops.db').resolve()}"
    typer.echo(
        f"ShopOps demo: the agent runs '{scenario}' for {days} days with the {policy} policy; "
        f"approval mode '{approval_mode}', answered by a scripted approver."
    )
    summary = run_simulated(
        scenario,
        days,
        approval_mode,
        "scripted",
        db_url,
        policy=policy,
        seed=seed,
        progress=True,
    )
    print_summary(summary)
    store = open_store(db_url)
    try:
        report = replay_report(store, summary.run_id)
        daily = _daily_profit(store, summary.run_id)
    finally:
        store.close()
    print_replay_report(report)
    path = write_demo_report(out / summary.run_id, summary, report, daily)
    typer.echo(f"report: {path}")
    typer.echo(f"database: {db_url} (inspect with `shopops status --db {db_url}`)")


def _daily_profit(store, run_id: str) -> list[tuple[int, float]]:
    from sqlalchemy import select

    from agent.store.models import DayOutcome

    with store.session() as s:
        rows = s.execute(
            select(DayOutcome.day, DayOutcome.profit)
            .where(DayOutcome.run_id == run_id)
            .order_by(DayOutcome.day)
        ).all()
    return [(int(d), float(p)) for d, p in rows]


def write_demo_report(folder: Path, summary, report: dict, daily: list[tuple[int, float]]) -> Path:
    """Write ``report.md`` and ``daily_profit.png`` into ``folder``; return the report path."""
    import matplotlib

    from agent.queries import format_kpi

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 3.2))
    if daily:
        days, profit = zip(*daily, strict=True)
        ax.bar(days, profit, color="#3b7dd8")
    ax.set_xlabel("day")
    ax.set_ylabel("profit")
    ax.set_title(f"Daily profit, run {summary.run_id}")
    fig.tight_layout()
    fig.savefig(folder / "daily_profit.png", dpi=110)
    plt.close(fig)
    k = summary.kpis
    lines = [
        f"# ShopOps demo run {summary.run_id}",
        "",
        f"Scenario `{summary.scenario}`, seed {summary.seed}, policy `{summary.policy}`, "
        f"approval mode `{summary.approval_mode}`, days {summary.start_day}..."
        f"{summary.current_day - 1}.",
        "",
        "## KPIs",
        "",
        "| KPI | value |",
        "|---|---:|",
        *(f"| {name} | {format_kpi(name, value)} |" for name, value in k.items()
          if isinstance(value, float)),
        "",
        "## Decisions",
        "",
        "| decision | count |",
        "|---|---:|",
        *(f"| {name} | {n} |" for name, n in summary.decisions.items()),
        *(f"| refused/repaired: {rule} | {n} |" for rule, n in summary.refusals.items()),
        "",
        "## The same days under other decisions (same random demand)",
        "",
        "| decisions | profit | fill rate | lost units | waste units |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {name} | {v['profit']:,.0f} | {v['fill_rate']:.1%} | {v['lost_units']:,.0f} "
            f"| {v['waste_units']:,.0f} |"
            for name, v in report["variants"].items()
        ),
        "",
        "![daily profit](daily_profit.png)",
        "",
    ]
    path = folder / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
