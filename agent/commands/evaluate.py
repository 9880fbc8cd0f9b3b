"""Evaluation commands: ``shopops eval`` (policies x scenarios x held-out seeds) and
``shopops bench eval`` (seconds per episode per policy, to size evaluations)."""

from __future__ import annotations

import json as _json
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("eval")(evaluate)
    bench.command("eval")(bench_eval)


def _split_csv(text: str | None) -> tuple[str, ...]:
    from agent.config_cli import parse_csv

    return () if text is None else parse_csv(text)


def _parse_policy_seeds(text: str) -> dict[str, int]:
    from eval.errors import EvalConfigError

    if text.strip().lower() in ("", "none"):
        return {}
    out: dict[str, int] = {}
    for part in _split_csv(text):
        name, eq, n = part.partition("=")
        if not eq or not n.strip().isdigit():
            raise EvalConfigError(
                f"--policy-seeds: expected NAME=N pairs like 'mpc=2'; got {part!r}"
            )
        out[name.strip()] = int(n)
    return out


def evaluate(
    policies: Annotated[
        str | None,
        typer.Option(help="Comma-separated policy names (default: do_nothing, naive, "
                     "base_stock, base_stock_tuned, mpc, oracle)."),
    ] = None,
    scenarios: Annotated[
        str | None,
        typer.Option(help="Comma-separated scenario names or YAML paths (default: the "
                     "evaluation set, including the held-out new_category)."),
    ] = None,
    seeds: Annotated[
        int | None, typer.Option(help="Episode seeds per scenario (default: 5).")
    ] = None,
    policy_seeds: Annotated[
        str | None,
        typer.Option(help="Slow policies on fewer seeds: NAME=N pairs, e.g. 'mpc=2'; "
                     "'none' (the default) runs every policy on every seed."),
    ] = None,
    seed_offset: Annotated[
        int, typer.Option(help="First episode seed. Seeds from 1000 up are training seeds.")
    ] = 0,
    allow_train_seeds: Annotated[
        bool, typer.Option(help="Allow reporting on training seeds (the output says so).")
    ] = False,
    jobs: Annotated[
        int | None, typer.Option(help="Worker processes (default: CPU count; 1 runs inline).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Output folder (default: runs/eval/<UTC timestamp>)."),
    ] = None,
    bound: Annotated[
        bool, typer.Option(help="Compute the oracle's profit bound per seed (% of bound).")
    ] = True,
    reference: Annotated[
        str, typer.Option(help="Policy whose profit counts as 100% (normally the oracle).")
    ] = "oracle",
    baseline: Annotated[
        str | None,
        typer.Option(help="Policy to take paired differences against (default: the oracle)."),
    ] = None,
    plot_sku: Annotated[
        str | None, typer.Option(help="SKU whose daily series are plotted (default: per scenario).")
    ] = None,
    plots: Annotated[bool, typer.Option(help="Write PNG plots.")] = True,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Run policies on scenarios over held-out seeds; print tables, write CSV/Parquet, a report.

    Every policy runs on the same seeds (common random numbers); differences are paired.

    Headline: percent of the oracle's provable profit bound, mean ± 95% CI over seeds.
    """
    from rich.console import Console

    from eval.harness import EvalConfig, output_dir, run_evaluation
    from eval.report import print_tables, write_outputs
    from eval.splits import check_report_seeds

    fields: dict[str, object] = {
        "seed_offset": seed_offset,
        "allow_train_seeds": allow_train_seeds,
        "bound": bound,
        "reference": reference,
        "baseline": baseline,
        "plot_sku": plot_sku,
    }
    if policies is not None:
        fields["policies"] = _split_csv(policies)
    if scenarios is not None:
        fields["scenarios"] = _split_csv(scenarios)
    if seeds is not None:
        fields["seeds"] = seeds
    if policy_seeds is not None:
        fields["policy_seeds"] = _parse_policy_seeds(policy_seeds)
    if jobs is not None:
        fields["jobs"] = jobs
    config = EvalConfig.build(**fields)
    check_report_seeds(config.seed_list, config.allow_train_seeds)  # before any output
    console = Console(markup=False)
    console.print(
        f"eval: {len(config.policies)} policies x {len(config.scenarios)} "
        f"scenarios x {config.seeds} seeds ({config.seed_offset}..."
        f"{config.seed_offset + config.seeds - 1}), {config.jobs} job(s)"
    )
    evaluation = run_evaluation(config, progress=not quiet)
    print_tables(evaluation, console)
    folder = output_dir(out)
    paths = write_outputs(evaluation, folder, plots=plots)
    console.print(f"wrote {paths['report']} (+ runs.csv, runs.parquet, summary.csv, plots/)")


def bench_eval(
    policies: Annotated[
        str | None, typer.Option(help="Comma-separated policies (default: the eval defaults).")
    ] = None,
    scenario: Annotated[str, typer.Option(help="Scenario to time.")] = "steady",
    seed: Annotated[int, typer.Option(help="Episode seed (a held-out one).")] = 0,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Seconds per episode of each policy on one scenario, in this process (one core).

    Use it to size ``shopops eval``: total ~ sum over policies of seconds x scenarios x
    seeds / jobs.
    """
    from eval.episode import run_episode
    from eval.harness import DEFAULT_POLICIES, EvalConfig

    names = _split_csv(policies) or DEFAULT_POLICIES
    EvalConfig.build(policies=names, scenarios=(scenario,))  # validates the names
    result: dict[str, float] = {}
    for name in names:
        res = run_episode(name, scenario, seed)
        result[name] = res.wall_s
    if json:
        typer.echo(_json.dumps({"scenario": scenario, "seed": seed, "seconds": result}))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"Seconds per episode, {scenario}, seed {seed} (one core)")
    t.add_column("policy")
    t.add_column("s / episode", justify="right")
    for name, s in result.items():
        t.add_row(name, f"{s:.2f}")
    Console(markup=False).print(t)
