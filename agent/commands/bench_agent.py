"""``shopops bench agent``: wall time of one daily run for a 1,000-SKU shop, by node."""

from __future__ import annotations

import json as _json
from typing import Annotated

import typer


def register(app: typer.Typer, bench: typer.Typer) -> None:
    bench.command("agent")(bench_agent)


def bench_agent(
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    days: Annotated[int, typer.Option(help="Days timed (after the warm-up).")] = 5,
    warmup: Annotated[int, typer.Option(help="Days run first, untimed.")] = 2,
    skus: Annotated[int, typer.Option(help="Catalogue size.")] = 1000,
    policy: Annotated[str, typer.Option(help="Policy (registry name).")] = "base_stock",
    mode: Annotated[str, typer.Option(help="Approval mode: auto | confirm | risky.")] = "risky",
    kb_docs: Annotated[
        int, typer.Option(help="Active knowledge-base documents (a directive each) in force.")
    ] = 0,
) -> None:
    """One daily run (graph + close) of a 1,000-SKU shop: median seconds (target < 5 s)."""
    from agent.bench import run_agent_bench

    r = run_agent_bench(
        days=days, warmup=warmup, n_skus=skus, policy=policy, mode=mode, kb_docs=kb_docs
    )
    if json:
        typer.echo(_json.dumps(r))
        return
    from rich.console import Console
    from rich.table import Table

    key = next(k for k in r if k.startswith("daily_run_s_") and k != "daily_run_s_max")
    t = Table(
        title=f"Agent daily run, {r['n_skus']:,} SKUs, {r['policy']}, "
        f"{r['approval_mode']} mode ({r['actions_per_day']:.0f} actions/day)"
        + (f", {r['kb_docs']} knowledge-base documents" if r["kb_docs"] else "")
    )
    t.add_column("measure")
    t.add_column("seconds", justify="right")
    t.add_column("target", justify="right")
    t.add_row("daily run (median)", f"{r[key]:.3f}", "< 5")
    t.add_row("daily run (max)", f"{r['daily_run_s_max']:.3f}", "")
    for node, v in r["node_s"].items():
        t.add_row(f"  {node}", f"{v:.3f}", "")
    Console(markup=False).print(t)
