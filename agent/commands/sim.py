"""Simulator commands: ``shopops scenarios`` and ``shopops bench sim``."""

from __future__ import annotations

import json as _json
from typing import Annotated

import typer


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("scenarios")(scenarios)
    bench.command("sim")(bench_sim)


def scenarios(
    paths: Annotated[
        list[str] | None, typer.Argument(help="Scenario files or names (default: all shipped).")
    ] = None,
) -> None:
    """List scenarios with a one-line summary; validate any files given."""
    from rich.console import Console
    from rich.table import Table

    from envs.scenario import load_scenario
    from scenarios import scenario_names

    table = Table(title="Scenarios", show_lines=False)
    for col in ("name", "held out", "summary"):
        table.add_column(col)
    for name in paths or scenario_names():
        spec = load_scenario(name)
        table.add_row(spec.name, "yes" if spec.held_out else "", spec.summary())
    Console(markup=False).print(table)


def bench_sim(
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    days: Annotated[int, typer.Option(help="Days simulated for the 10,000-SKU figure.")] = 365,
    steps_10: Annotated[int, typer.Option(help="Env steps timed for the 10-SKU figure.")] = 20000,
) -> None:
    """Simulator speed: env steps/s with 10 SKUs, SKU-days/s and fork cost with 10,000 SKUs.

    Runs on one core (BLAS threads pinned to 1). Peak memory is the resident-set high-water
    mark of a full 10,000-SKU episode measured in a fresh subprocess.
    """
    from envs.bench import run_sim_bench

    result = run_sim_bench(days=days, steps_10=steps_10, progress=not json)
    if json:
        typer.echo(_json.dumps(result))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title="Simulator benchmark (one core)")
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_column("target", justify="right")
    t.add_row(
        "env steps/s, 10 SKUs (gymnasium.make)", f"{result['steps_per_s_10']:,.0f}", ">= 10,000"
    )
    t.add_row("sim steps/s, 10 SKUs (core)", f"{result['sim_steps_per_s_10']:,.0f}", "")
    t.add_row("SKU-days/s, 10,000 SKUs", f"{result['sku_days_per_s_10k']:,.0f}", ">= 5,000,000")
    t.add_row("fork(), 10,000 SKUs", f"{result['fork_ms_10k']:.2f} ms", "")
    t.add_row(
        "peak memory, 365 days x 10,000 SKUs", f"{result['peak_mb_10k']:.0f} MB", "< 1,024 MB"
    )
    Console(markup=False).print(t)
