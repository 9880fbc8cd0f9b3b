"""``shopops replay``: a scenario with the agent in the loop, or a recorded run re-simulated."""

from __future__ import annotations

import json as _json
from pathlib import Path
from typing import Annotated

import typer

from agent.defaults import DEFAULT_POLICY

#: KPIs of each re-simulated variant shown in the replay table (eval's definitions).
_TABLE_KPIS = (
    "profit",
    "revenue",
    "fill_rate",
    "stockout_rate",
    "lost_units",
    "waste_units",
    "avg_inventory_value",
    "promo_spend",
)


#: Where scenario replays are stored unless --db says otherwise (apart from the live store).
REPLAY_DB = "~/.shopops/replays.db"


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("replay")(replay)


def replay(
    scenario: Annotated[
        str | None, typer.Argument(help="Scenario to replay with the agent.")
    ] = None,
    policy: Annotated[str, typer.Option(help="Decision policy.")] = DEFAULT_POLICY,
    days: Annotated[int | None, typer.Option(help="Days (default: the whole horizon).")] = None,
    seed: Annotated[int, typer.Option(help="Episode seed (0-999 are report seeds).")] = 0,
    approval_mode: Annotated[str, typer.Option(help="auto | confirm | risky.")] = "risky",
    approver: Annotated[
        str, typer.Option(help="Scripted approver: scripted | accept | reject.")
    ] = "scripted",
    run_id: Annotated[
        str | None, typer.Option("--run", help="Re-simulate this recorded run instead.")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(help="Store URL or SQLite file (default: a SCENARIO replay writes to "
                     "~/.shopops/replays.db, never the live store; --run reads the live store)."),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Replay SCENARIO with the agent in the loop, then the evaluation report.

    Approvals are answered by a scripted approver. A scenario replay is kept apart from the
    live store (its own file, shop replay-<scenario>), so it never becomes the open run a
    later `shopops run` continues. With --run ID instead, re-simulate a recorded run's
    decisions (as executed, as proposed, the policy's raw plan, no action) for what-if
    analysis.
    """
    from agent.errors import AgentConfigError
    from agent.store import open_store

    if (scenario is None) == (run_id is None):
        raise AgentConfigError("replay: give a SCENARIO or --run ID (not both)")
    if scenario is not None:
        from agent.runner import run_simulated
        from envs.scenario import load_scenario

        n = days or load_scenario(scenario).horizon_days
        db = db or REPLAY_DB
        summary = run_simulated(
            scenario, n, approval_mode, approver, db, policy=policy, seed=seed,
            progress=not json, shop_id=f"replay-{Path(scenario).stem}",
        )
        run_id = summary.run_id
    store = open_store(db)
    try:
        report = replay_report(store, run_id)
    finally:
        store.close()
    if json:
        typer.echo(_json.dumps(report, default=float))
        return
    print_replay_report(report)
    if scenario is not None:
        typer.echo(f"stored in {db} (run {run_id}); `shopops replay --run {run_id} --db {db}` "
                   "re-simulates it")


def replay_report(store, run_id: str) -> dict:
    """KPIs of every variant of the run's decisions (eval's definitions)."""
    from agent.queries import summarize_run
    from agent.replay import VARIANTS, resimulate
    from envs.simulator import MarketSimulator
    from eval.kpis import KpiAccumulator

    summary = summarize_run(store, run_id)
    sim = MarketSimulator.from_scenario(summary.scenario, seed=summary.seed)
    out = {
        "run_id": run_id,
        "scenario": summary.scenario,
        "seed": summary.seed,
        "policy": summary.policy,
        "days": summary.days_closed,
        "recorded_profit": summary.profit,
        "variants": {},
    }
    for v in VARIANTS:
        acc = KpiAccumulator(sim.catalog.price, sim.catalog.unit_cost)
        for view, result in resimulate(store, run_id, v):
            acc.add(view, result)
        if summary.days_closed:
            k = acc.result()
            out["variants"][v] = {f: getattr(k, f) for f in (*_TABLE_KPIS, "ordered_units")}
    return out


def print_replay_report(report: dict) -> None:
    from rich.table import Table

    labels = {
        "recorded": "as executed (agent)",
        "proposed": "every allowed action, no asking",
        "policy": "policy alone, no rules",
        "none": "no action",
    }
    t = Table(
        title=f"Replay of run {report['run_id']}: {report['scenario']} seed "
        f"{report['seed']}, {report['policy']}, {report['days']} days"
    )
    t.add_column("decisions")
    cols = _TABLE_KPIS
    for c in cols:
        t.add_column(c.replace("_", " "), justify="right")
    for v, k in report["variants"].items():
        t.add_row(
            labels[v],
            *[
                f"{k[c]:.1%}" if c in ("fill_rate", "stockout_rate") else f"{k[c]:,.0f}"
                for c in cols
            ],
        )
    console = _console()
    console.print(t)
    rec = report["variants"].get("recorded", {}).get("profit")
    if rec is not None:
        same = abs(rec - report["recorded_profit"]) < 1e-6 * max(1.0, abs(rec))
        console.print(
            f"re-simulated profit {'matches' if same else 'DIFFERS from'} the "
            f"recorded run ({report['recorded_profit']:,.2f})"
        )


def _console():
    """A console; 140 columns when not a terminal (logs, CI) so tables stay readable."""
    from rich.console import Console

    c = Console(markup=False)
    return c if c.is_terminal else Console(width=140, markup=False)
