"""``shopops demo``: the main job on the embedded defaults, end to end, in about a minute."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    scenario: Annotated[str, typer.Option(help="Scenario name or YAML path.")] = "steady",
    seed: Annotated[int, typer.Option(help="Episode seed (held-out seeds start at 1000).")] = 1000,
    policies: Annotated[
        str, typer.Option(help="Comma-separated policies to compare.")
    ] = "do_nothing,naive,base_stock",
) -> None:
    """Simulate the scenario under each policy on the same demand draws; print a KPI table.

    Every policy sees the same random future (common random numbers), so differences in the
    table are the policies' doing.
    """
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from eval.episode import run_episode

    console = Console()
    if not console.is_terminal:  # logs and CI: do not squeeze the table to 80 columns
        console = Console(width=140)
    names = [p.strip() for p in policies.split(",") if p.strip()]
    results = []
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"simulating {scenario}", total=len(names))
        for name in names:
            results.append(run_episode(name, scenario, seed))
            bar.advance(task)
    table = Table(title=f"ShopOps demo: {scenario}, seed {seed}, {results[0].kpis.days} days")
    for col in (
        "policy",
        "profit",
        "revenue",
        "fill rate",
        "stock-out SKU-days",
        "lost units",
        "waste units",
        "avg inventory",
        "turns",
        "promo spend",
        "wall s",
    ):
        table.add_column(col, justify="left" if col == "policy" else "right")
    for r in results:
        k = r.kpis
        table.add_row(
            r.policy,
            f"{k.profit:,.0f}",
            f"{k.revenue:,.0f}",
            f"{k.fill_rate:.1%}",
            f"{k.stockout_sku_days:,}",
            f"{k.lost_units:,.0f}",
            f"{k.waste_units:,.0f}",
            f"{k.avg_inventory_units:,.0f}",
            f"{k.inventory_turns:.1f}",
            f"{k.promo_spend:,.0f}",
            f"{r.wall_s:.2f}",
        )
    console.print(table)
