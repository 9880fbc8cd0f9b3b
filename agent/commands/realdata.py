"""Real shop data: ``shopops import``, ``shopops clean-report`` and ``shopops calibrate``.

All read a shop's history by a column mapping (``mappings/*.yaml`` or a file) from a data
folder given as ``--data`` (default ``../shared/data``: the data is never copied into the
repository). ``import`` writes the clean history and the quarantine into the store;
``calibrate --from DB`` reads the history back from there instead of the files. Heavy
imports stay inside the command bodies.
"""

from __future__ import annotations

import json as _json
from pathlib import Path
from typing import Annotated

import typer

_DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

MappingOpt = Annotated[
    str, typer.Option("--mapping", "-m", help="Mapping name (mappings/NAME.yaml) or file.")
]
DataOpt = Annotated[Path, typer.Option("--data", help="Folder the mapping's file paths are in.")]


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("import")(import_data)
    app.command("clean-report")(clean_report)
    app.command("calibrate")(calibrate)


def _import(mapping: str, data: Path):
    from rich.progress import Progress

    from online.ingest_real.mapping import load_mapping
    from online.ingest_real.pipeline import import_files

    m = load_mapping(mapping)
    with Progress(transient=True) as bar:
        task = bar.add_task("reading and cleaning", total=None)
        imp = import_files(m, data, progress=lambda k, n: bar.update(task, completed=k, total=n))
    return m, imp


def _data_exists(data: Path) -> None:
    from online.ingest_real.errors import ImportDataError

    if not data.is_dir():
        raise ImportDataError(
            str(data), "the data folder does not exist; pass --data with the folder holding "
            "the mapping's files"
        )


def import_data(
    mapping: MappingOpt,
    data: DataOpt = _DEFAULT_DATA,
    db: Annotated[
        str | None,
        typer.Option(help="Store URL or SQLite file (default $SHOPOPS_DB or "
                     "~/.shopops/shopops.db)."),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Import a shop's history into the store: clean sales lines, prices, promotions, stock
    snapshots, receipts and products, and every quarantined line with its reason, file and
    row. Importing the same file again adds nothing. Days a real-shop run decided whose sales
    this import brings get their outcome recorded (once).
    """
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table
    from rich.text import Text

    from agent.real_run import record_outcomes_for_source
    from agent.store import open_store
    from agent.store.realdata_io import import_into_store
    from online.ingest_real.cleaning import RULES
    from online.ingest_real.mapping import load_mapping

    _data_exists(data)
    m = load_mapping(mapping)
    store = open_store(db)
    try:
        with Progress(transient=True, disable=json) as bar:
            task = bar.add_task(f"importing {m.name}", total=None)
            rep = import_into_store(
                store, m, data, progress=lambda k, n: bar.update(task, completed=k, total=n)
            )
        outcomes, not_opened = record_outcomes_for_source(store, m.name)
    finally:
        store.close()
    if json:
        typer.echo(_json.dumps({**rep.to_dict(), "db": store.safe_url,
                                "outcomes_recorded": outcomes, "outcomes_skipped": not_opened}))
        return
    console = Console(markup=False)
    t = Table(title=f"Import {m.name} into {store.safe_url}")
    for c in ("table", "file", "status", "rows read", "rows added", "quarantined"):
        t.add_column(c, justify="right" if c.startswith(("rows", "quar")) else "left")
    for r in rep.tables:
        t.add_row(r.table, r.file, r.status, f"{r.rows_in:,}", f"{r.rows_added:,}",
                  f"{r.quarantined:,}")
    console.print(t)
    q = Table(title="Cleaning rules (sales lines quarantined)")
    q.add_column("rule")
    q.add_column("lines", justify="right")
    for rule in RULES:
        q.add_row(rule, f"{rep.counts.get(rule, 0):,}")
    q.add_row(Text("lines in / kept", style="bold"),
              f"{rep.lines_in:,} / {rep.lines_clean:,}")
    console.print(q)
    for run_id, days in outcomes.items():
        console.print(f"run {run_id}: outcomes recorded for days {days} (sales now imported)")
    for run_id, why in not_opened.items():
        console.print(f"run {run_id}: outcomes not recorded now ({why}); the run's "
                      "next `shopops run` records them", style="yellow")


def clean_report(
    mapping: MappingOpt,
    data: DataOpt = _DEFAULT_DATA,
    quarantine_csv: Annotated[
        Path | None, typer.Option(help="Write the quarantined lines (file, row, reason) here.")
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Read and clean a shop's sales lines; print counts per cleaning rule and the calendar."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from online.ingest_real.cleaning import RULES

    _, imp = _import(mapping, data)
    summary = imp.cleaning.summary()
    cal = {k: v for k, v in imp.calendar.items() if k not in ("all_days", "closed_days_list")}
    if quarantine_csv is not None:
        imp.cleaning.quarantine.to_csv(quarantine_csv, index=False)
    if json:
        typer.echo(_json.dumps({"cleaning": summary, "calendar": cal}))
        return
    t = Table(title=f"Cleaning: {mapping}")
    t.add_column("rule")
    t.add_column("lines quarantined", justify="right")
    for r in RULES:
        t.add_row(r, f"{summary['by_rule'][r]:,}")
    t.add_row(Text("lines in / kept", style="bold"),
              f"{summary['lines_in']:,} / {summary['lines_clean']:,}")
    Console(markup=False).print(t)
    if cal:
        Console(markup=False).print(
            f"days {cal['days']}, open {cal['open_days']}, closed {cal['closed_days']} "
            f"(closed weekdays: {', '.join(cal['closed_weekdays']) or 'none'}; other closed "
            f"days: {len(cal['closed_other_days'])}); SKU-days with sales "
            f"{cal['sku_days_with_sales']:,}, zero-demand SKU-days on open days "
            f"{cal['zero_demand_sku_days']:,}"
        )


def _from_store(mapping: str, db: str):
    """The mapping, the canonical frames, open days and cleaning counts from a store."""
    import pandas as pd

    from agent.store import open_store
    from agent.store.realdata_io import read_frames, source_summary
    from online.ingest_real.mapping import load_mapping

    m = load_mapping(mapping)
    store = open_store(db)
    try:
        frames = read_frames(store, m.name)
        summary = source_summary(store, m.name)
    finally:
        store.close()
    open_days = None
    if m.grain != "week":  # a day with a clean sale was a trading day
        open_days = pd.DatetimeIndex(frames["sales"]["date"].dt.normalize().unique()).sort_values()
    cleaning = {"lines_clean": summary["rows"]["sales"],
                "quarantined": summary["rows"]["quarantine"],
                "by_rule": summary["quarantine_by_reason"]}
    return m, frames, open_days, cleaning


def calibrate(
    mapping: MappingOpt,
    out: Annotated[Path, typer.Option("--out", help="Scenario YAML to write.")],
    data: DataOpt = _DEFAULT_DATA,
    report_dir: Annotated[
        Path | None, typer.Option(help="Fit report folder (default: next to --out, NAME_fit/).")
    ] = None,
    top: Annotated[int | None, typer.Option(help="Keep the top N series by units.")] = None,
    holdout_weeks: Annotated[int, typer.Option(help="Final weeks held out to validate.")] = 26,
    seeds: Annotated[int, typer.Option(help="Simulated futures in the validation.")] = 100,
    horizon_days: Annotated[int, typer.Option(help="Horizon of the written scenario.")] = 365,
    refit: Annotated[
        bool, typer.Option(help="Refit on all weeks (hold-out included) for the written file.")
    ] = True,
    from_db: Annotated[
        str | None,
        typer.Option("--from", help="Read the history from this store (after `shopops "
                     "import`) instead of the files."),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Fit a simulator scenario (a digital twin) to a shop's history, validate it on held-out
    final weeks (WAPE, interval coverage) and write the scenario and a fit report.

    The validation fits on all but the final --holdout-weeks; with --refit (default) the
    written scenario is then refitted on the whole history and starts the day after it.
    """
    from rich.console import Console

    from envs.calibration.config import CalibrationConfig
    from envs.calibration.fit import fit_weekly
    from envs.calibration.panel import split_holdout
    from envs.calibration.report import write_report
    from envs.calibration.scenario_out import build_scenario, write_scenario
    from envs.calibration.twin import validate_twin
    from envs.scenario import load_scenario
    from online.ingest_real.panel import build_panel

    console = Console(stderr=json, markup=False)
    if from_db is None:
        m, imp = _import(mapping, data)
        t, open_days, cleaning = imp.tables, imp.open_days, imp.cleaning.summary()
        source = f"{m.name} @ {data}"
    else:
        m, t, open_days, cleaning = _from_store(mapping, from_db)
        source = f"{m.name} @ store {from_db}"
    weekly, weights = build_panel(
        m, t["sales"], t.get("prices"), t.get("promotions"), t.get("stock"), t.get("products"),
        top=top, open_days=open_days,
    )
    cfg = CalibrationConfig(holdout_weeks=holdout_weeks, seeds=seeds, horizon_days=horizon_days)
    name = out.stem.lower()
    out = out.expanduser()  # a quoted '~/...' still means the home folder
    report_dir = (report_dir or out.with_name(f"{out.stem}_fit")).expanduser()
    twin = None
    with console.status("fitting"):
        train, hold, t0 = split_holdout(weekly, holdout_weeks)
        fit = fit_weekly(train, t0, cfg, weights)
    if holdout_weeks > 0:
        from rich.progress import Progress

        with Progress(transient=True, console=console) as bar:
            task = bar.add_task("twin validation", total=seeds)
            twin = validate_twin(fit, train, hold,
                                 progress=lambda k, n: bar.update(task, completed=k))
    final = fit
    if refit and holdout_weeks > 0:
        with console.status("refitting on the whole history"):
            all_train, _, t_end = split_holdout(weekly, 0)
            final = fit_weekly(all_train, t_end, cfg, weights)
    spec = build_scenario(final, name, f"Calibrated from {m.name} ({len(final.series)} series)")
    write_scenario(spec, out, final)
    load_scenario(out)  # the file must load as written
    summary = write_report(fit, report_dir, twin, source=source)
    summary["scenario"] = str(out)
    summary["cleaning"] = cleaning
    if json:
        typer.echo(_json.dumps(summary))
        return
    h = fit.headline
    console.print(f"wrote {out} ({len(final.series)} SKUs) and the report in {report_dir}/")
    console.print(
        f"median elasticity {h['median_elasticity']:.3f} "
        f"[{h['median_elasticity_ci95'][0]:.3f}, {h['median_elasticity_ci95'][1]:.3f}]"
    )
    for k in ("feature", "display"):
        b = h.get(f"{k}_log_lift")
        if b is not None and b == b:
            lo, hi = h[f"{k}_log_lift_ci95"]
            console.print(f"{k} log-lift {b:.3f} [{lo:.3f}, {hi:.3f}]")
    if twin is not None:
        s = twin.summary
        console.print(
            f"twin on {s['weeks']} held-out weeks: WAPE {s['wape']:.3f} (naive "
            f"{s['wape_naive_last13']:.3f}), {s['interval']:.0%} coverage {s['coverage']:.3f}"
        )
