"""Online-signal commands: ``shopops online evaluate``, ``shopops online ingest`` and
``shopops bench online``."""

from __future__ import annotations

import json as _json
from pathlib import Path
from typing import Annotated

import typer

_DEFAULT_SCENARIOS = "steady,festival,disruption,drift,fresh,new_category,classic"


def register(app: typer.Typer, bench: typer.Typer) -> None:
    online = typer.Typer(
        help="Online demand signals (River): accuracy, ingestion.", no_args_is_help=True
    )
    online.command("evaluate")(evaluate)
    online.command("ingest")(ingest)
    app.add_typer(online, name="online")
    bench.command("online")(bench_online)


def evaluate(
    scenarios: Annotated[
        str, typer.Option(help="Comma-separated scenario names ('' to skip simulated shops).")
    ] = _DEFAULT_SCENARIOS,
    seed: Annotated[int, typer.Option(help="Episode seed.")] = 1,
    horizon: Annotated[int, typer.Option(help="Score forecasts this many days ahead.")] = 1,
    real_data: Annotated[
        Path | None,
        typer.Option(help="Also evaluate on real history in this folder (../shared/data)."),
    ] = None,
    series: Annotated[
        int, typer.Option(help="Real data: series sampled per dataset (time grows with it).")
    ] = 60,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Forecast accuracy and drift detection on simulated shops (and real history).

    Simulated shops: WAPE and MASE of one-day-ahead forecasts against seasonal-naive and
    the true noise-free mean, 10-90% band coverage, drift detection delay and false alarms
    against the scenario's scheduled changes. Real data: progressive evaluation
    (predict, then learn) against seasonal-naive and AutoETS refit on a rolling window.
    """
    from rich.console import Console
    from rich.progress import Progress

    from online.evaluation import evaluate_scenario

    names = [s.strip() for s in scenarios.split(",") if s.strip()]
    console = Console(stderr=True, quiet=json, markup=False)
    results = []
    with Progress(console=console, transient=True) as bar:
        for name in names:
            task = bar.add_task(f"scenario {name}", total=None)
            res = evaluate_scenario(
                name,
                seed=seed,
                horizon=horizon,
                progress=lambda d, t, task=task: bar.update(task, completed=d, total=t),
            )
            results.append(res)
            bar.remove_task(task)
    real = None
    if real_data is not None:
        from online.realdata import evaluate_real_data

        real = evaluate_real_data(real_data, n_series=series, console=console)
    if json:
        typer.echo(
            _json.dumps(
                {"scenarios": [r.to_dict() for r in results], "real_data": real}, default=float
            )
        )
        return
    out = Console(markup=False)
    if results:
        out.print(_scenario_table(results))
        out.print(_drift_table(results))
    if real is not None:
        from online.realdata import real_data_table

        out.print(real_data_table(real))


def _scenario_table(results):
    from rich.table import Table
    from rich.text import Text

    t = Table(title=f"Forecast accuracy, {results[0].horizon}-day ahead (simulated shops)")
    for col in (
        "scenario",
        "SKUs",
        "days",
        "WAPE hub",
        "WAPE s-naive",
        "WAPE true mean",
        "MASE hub",
        "MASE s-naive",
        "MASE true mean",
        "80% band cover",
        "beats naive",
    ):
        t.add_column(col, justify="left" if col == "scenario" else "right")
    for r in results:
        t.add_row(
            r.scenario,
            str(r.n_skus),
            str(r.days),
            f"{r.wape['hub']:.3f}",
            f"{r.wape['seasonal_naive']:.3f}",
            f"{r.wape['true_mean']:.3f}",
            f"{r.mase['hub']:.3f}",
            f"{r.mase['seasonal_naive']:.3f}",
            f"{r.mase['true_mean']:.3f}",
            f"{r.coverage:.1%}",
            "yes" if r.beats_naive else Text("NO", style="red"),
        )
    return t


def _drift_table(results):
    from rich.table import Table

    t = Table(title="Drift detection (Page-Hinkley on forecast residuals, per SKU)")
    for col in (
        "scenario",
        "true changes",
        "detected",
        "median delay (days)",
        "false alarms",
        "per 1,000 SKU-days",
        "launch alerts",
    ):
        t.add_column(col, justify="left" if col == "scenario" else "right")
    for r in results:
        d = r.drift
        t.add_row(
            r.scenario,
            str(d.changes),
            f"{d.detected}" + (f" ({d.detection_rate:.0%})" if d.changes else ""),
            "-" if not d.delays else f"{d.median_delay:.1f}",
            str(d.false_alarms),
            f"{d.false_alarms_per_1000:.2f}",
            str(d.lifecycle_alerts),
        )
    return t


def ingest(
    path: Annotated[Path, typer.Argument(help="A .csv, .parquet or .jsonl file of events.")],
    kind: Annotated[
        str | None, typer.Option(help="Event kind of every row (when no 'kind' column).")
    ] = "sale",
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="field=column (repeatable), e.g. --map sku=StockCode."),
    ] = None,
    day_origin: Annotated[
        str | None, typer.Option(help="Date of period 0 when 'timestamp' gives the day.")
    ] = None,
    period_days: Annotated[int, typer.Option(help="Days per period (7: weekly).")] = 1,
    checkpoint: Annotated[
        Path | None, typer.Option(help="Hub checkpoint to update (created if missing).")
    ] = None,
    close: Annotated[bool, typer.Option(help="Close the last period after ingesting.")] = False,
    show: Annotated[int, typer.Option(help="Rejections to list.")] = 10,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Feed a file of events into a signal hub (a checkpoint) and report what happened."""
    from rich.console import Console
    from rich.table import Table

    from online.hub import SignalHub
    from online.ingest import ingest_file, parse_mapping

    mapping = parse_mapping(map_ or [])
    hub = SignalHub.load(checkpoint) if checkpoint and checkpoint.exists() else SignalHub()
    console = Console(stderr=True, quiet=json, markup=False)
    report = ingest_file(
        hub,
        path,
        mapping=mapping,
        kind=kind,
        day_origin=day_origin,
        period_days=period_days,
        console=console,
    )
    if close and hub.open_day is not None:
        hub.update([], close_through=hub.open_day)
    if checkpoint:
        hub.save(checkpoint)
    if json:
        typer.echo(_json.dumps(report.to_dict()))
        return
    t = Table(title=f"Ingested {path.name}")
    t.add_column("measure")
    t.add_column("value", justify="right")
    for k, v in (
        ("rows", report.rows),
        ("accepted", report.accepted),
        ("duplicates", report.duplicates),
        ("rejected", len(report.rejected)),
        ("flagged order lines", report.anomalies),
        ("drift alerts", report.alerts),
        ("SKUs in hub", hub.n_skus),
    ):
        t.add_row(k, f"{v:,}")
    Console(markup=False).print(t)
    if report.rejected:
        r = Table(title=f"Rejected rows (first {min(show, len(report.rejected))})")
        for col in ("row", "event id", "field", "reason"):
            r.add_column(col)
        for x in report.rejected[:show]:
            r.add_row(str(x.index), x.event_id or "", x.field, x.reason)
        Console(markup=False).print(r)


def bench_online(
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    skus: Annotated[int, typer.Option(help="SKUs of the timed stream.")] = 1000,
    days: Annotated[int, typer.Option(help="Days of the timed stream (first 7 warm up).")] = 35,
    mem_days: Annotated[
        int, typer.Option(help="Days fed to the 10,000-SKU memory run (0: skip).")
    ] = 30,
) -> None:
    """Signal-hub speed (events/s, forecast + drift + anomaly) and memory for 10,000 SKUs."""
    from rich.console import Console

    from online.bench import run_online_bench

    console = Console(stderr=True, quiet=json, markup=False)
    with console.status("benchmarking the signal hub") as status:
        result = run_online_bench(
            n_skus=skus, days=days, mem_days=mem_days, progress=lambda m: status.update(m)
        )
    if json:
        typer.echo(_json.dumps(result))
        return
    from rich.table import Table

    t = Table(title="Signal hub benchmark (one process, one core)")
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_column("target", justify="right")
    t.add_row(
        f"events/s, {result['n_skus']:,} SKUs, typed events",
        f"{result['events_per_s']:,.0f}",
        ">= 20,000",
    )
    t.add_row(
        "events/s, from plain dicts (validation included)",
        f"{result['events_per_s_from_dicts']:,.0f}",
        "",
    )
    t.add_row("SKU-days learnt/s", f"{result['sku_days_per_s']:,.0f}", "")
    t.add_row("events per SKU-day in the stream", f"{result['events_per_sku_day']:.1f}", "")
    t.add_row("forecast(sku, 7) latency", f"{result['forecast_ms']:.2f} ms", "")
    mem = result.get("memory_10k")
    if mem:
        t.add_row(f"hub checkpoint, {mem['n_skus']:,} SKUs", f"{mem['checkpoint_mb']:.1f} MB", "")
        t.add_row(
            "peak RSS, 10,000 SKUs (sim + events + hub)",
            f"{mem['peak_rss_mb']:.0f} MB",
            "< 1,024 MB",
        )
    Console(markup=False).print(t)
