"""Writing an evaluation out: the terminal tables, CSV/Parquet files, plots and a Markdown report.

:func:`write_outputs` lays out ``out_dir`` as::

    runs.csv, runs.parquet   one row per (policy, scenario, seed): every KPI, split labels
    summary.csv              per (scenario, policy): mean and t-interval of each KPI
    paired.csv               per scenario: profit of each policy minus the baseline, paired
    meta.json                the request, seeds, split, timing and versions
    plots/profit_<scenario>.png, plots/trace_<scenario>.png
    report.md                all of the above in one readable page

:func:`print_tables` shows the percent-of-reference matrix and per-scenario profit in the
terminal (rich).
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

    from eval.harness import Evaluation

__all__ = ["compact", "format_interval", "pct_matrix", "print_tables", "write_outputs"]


def format_interval(mean: float, half: float, digits: int = 0, unit: str = "") -> str:
    """``"1,234 ± 56"`` (``"1,234"`` when the half-width is NaN, ``"n/a"`` for a NaN mean)."""
    if mean is None or math.isnan(mean):
        return "n/a"
    text = f"{mean:,.{digits}f}{unit}"
    if half is not None and not math.isnan(half):
        text += f" ± {half:,.{digits}f}{unit}"
    return text


def compact(x: float) -> str:
    """A short number for narrow tables: ``94.9k``, ``-1.23M``, ``512``, ``n/a`` for NaN."""
    if x is None or math.isnan(x):
        return "n/a"
    a = abs(x)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            v = x / div
            return f"{v:.3g}{suffix}" if abs(v) < 100 else f"{v:.0f}{suffix}"
    return f"{x:.3g}" if a < 100 else f"{x:.0f}"


def pct_matrix(evaluation: Evaluation, column: str) -> pd.DataFrame:
    """Policies x scenarios of ``"mean ± half"`` of a percent column (e.g. ``pct_of_bound``)."""
    import pandas as pd

    summary = evaluation.summary_frame()
    scenarios = list(dict.fromkeys(summary["scenario"]))
    table: dict[str, dict[str, str]] = {}
    for _, r in summary.iterrows():
        cell = format_interval(r[column], r[f"{column}_half"], 1)
        if r["n_seeds"] < len(evaluation.seeds):
            cell += f" (n={r['n_seeds']})"
        table.setdefault(r["policy"], {})[r["scenario"]] = cell
    return pd.DataFrame.from_dict(table, orient="index")[scenarios]


def _matrices(evaluation: Evaluation) -> list[tuple[str, str, str]]:
    """(column, title, explanation) of each percent matrix this evaluation can show."""
    cfg = evaluation.config
    out = []
    if evaluation.bounds:
        out.append((
            "pct_of_bound",
            "% of oracle bound",
            "Per seed, 100 x profit / the oracle's provable profit bound on that seed "
            "(`policies.oracle.profit_bound`: no policy can earn more), then the mean and "
            "interval over seeds.",
        ))
    if cfg.reference in cfg.policies:
        out.append((
            evaluation.pct_column,
            f"% of {cfg.reference} played profit",
            f"Per seed, 100 x profit / the profit {cfg.reference} actually made on that seed."
            + (" The oracle's play is a strong feasible plan, not an optimum: a policy can "
               "exceed 100% here, never in the bound table." if cfg.reference == "oracle"
               else ""),
        ))
    return out


def _split_line(evaluation: Evaluation) -> str:
    seeds = evaluation.seeds
    rng = f"{seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])
    label = {
        "test": "held-out test seeds",
        "train": "TRAINING seeds (allowed by --allow-train-seeds; not a fair report)",
        "mixed": "a MIX of training and held-out seeds (allowed by --allow-train-seeds)",
    }[evaluation.split]
    held = [s for s, h in evaluation.held_out.items() if h]
    held_txt = f"; held-out scenario(s): {', '.join(held)}" if held else ""
    cfg = evaluation.config
    capped = [
        f"{p} on the first {len(cfg.seeds_for(p))}"
        for p in cfg.policies if len(cfg.seeds_for(p)) < len(seeds)
    ]
    capped_txt = f" ({'; '.join(capped)})" if capped else ""
    return f"{len(seeds)} {label} ({rng}){capped_txt}{held_txt}"


def print_tables(evaluation: Evaluation, console: Console | None = None) -> None:
    """Print the percent-of-reference matrix and a per-scenario profit table."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    cfg = evaluation.config
    summary = evaluation.summary_frame()
    scenarios = list(dict.fromkeys(summary["scenario"]))

    matrices = _matrices(evaluation)
    for column, title, _ in matrices:
        t = Table(title=f"{title} (mean ± 95% CI; * held out)")
        t.add_column("policy")
        for s in scenarios:
            t.add_column(s + (" *" if evaluation.held_out.get(s) else ""), justify="right")
        for policy, row in pct_matrix(evaluation, column).iterrows():
            t.add_row(str(policy), *[str(row[s]) for s in scenarios])
        console.print(t)
    if not matrices:
        console.print(
            f"[yellow]percent of the oracle: not computed (no bound, and {cfg.reference} was "
            "not evaluated)[/yellow]"
        )

    for s in scenarios:
        rows = summary[summary["scenario"] == s]
        held = " (held out)" if evaluation.held_out.get(s) else ""
        t = Table(title=f"{s}{held}: mean ± 95% CI over seeds")
        t.add_column("policy")
        t.add_column("n", justify="right")
        pct_cols = evaluation.pct_columns
        for c in ("profit", *[_pct_label(c) for c in pct_cols], "fill", "stock-out", "waste",
                  "turns/yr", "promo spend"):
            t.add_column(c, justify="right")
        for _, r in rows.iterrows():
            t.add_row(
                r["policy"],
                str(r["n_seeds"]),
                f"{compact(r['profit'])} ± {compact(r['profit_half'])}",
                *[format_interval(r[c], r[f"{c}_half"], 1) for c in pct_cols],
                f"{100 * r['fill_rate']:.1f}%",
                f"{100 * r['stockout_rate']:.1f}%",
                compact(r["waste_units"]),
                f"{r['inventory_turns']:.1f}",
                compact(r["promo_spend"]),
            )
        console.print(t)
    cpu = sum(r.cpu_s for r in evaluation.runs)
    console.print(
        f"[dim]{_split_line(evaluation)}; {evaluation.elapsed_s:.1f} s wall, "
        f"{cpu:.0f} CPU-s in episodes[/dim]"
    )


def _policy_list(policies: tuple[str, ...]) -> str:
    from policies.registry import ANTICIPATING

    return ", ".join(
        f"{p} (anticipating: reads the realised future)" if p in ANTICIPATING else p
        for p in policies
    )


def _pct_label(column: str) -> str:
    return "% bound" if column == "pct_of_bound" else "% " + column.removeprefix("pct_of_")


def _markdown_table(df: pd.DataFrame, index: bool = False) -> str:
    cols = ([df.index.name or ""] if index else []) + [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(["---"] * len(cols)) + "|"]
    for idx, row in df.iterrows():
        cells = ([str(idx)] if index else []) + [str(v) for v in row.to_list()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _cpu_per_policy(evaluation: Evaluation) -> dict[str, float]:
    """Mean CPU seconds per episode, per policy (for sizing evaluations)."""
    out: dict[str, list[float]] = {}
    for r in evaluation.runs:
        out.setdefault(r.policy, []).append(r.cpu_s)
    return {p: round(sum(v) / len(v), 3) for p, v in out.items()}


def _meta(evaluation: Evaluation) -> dict[str, Any]:
    import platform

    import numpy as np

    return {
        "config": evaluation.config.model_dump(mode="json"),
        "seeds": evaluation.seeds,
        "seed_split": evaluation.split,
        "scenarios": evaluation.scenario_names,
        "held_out_scenarios": [s for s, h in evaluation.held_out.items() if h],
        "plot_skus": evaluation.plot_skus,
        "baseline": evaluation.config.effective_baseline,
        "elapsed_s": round(evaluation.elapsed_s, 3),
        "episode_cpu_s": round(sum(r.cpu_s for r in evaluation.runs), 3),
        "cpu_s_per_episode": _cpu_per_policy(evaluation),
        "episodes": len(evaluation.runs),
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


def write_outputs(
    evaluation: Evaluation, out_dir: str | Path, plots: bool = True
) -> dict[str, Path]:
    """Write every output file under ``out_dir`` (created if needed); return them by role."""
    from eval.plots import plot_profit, plot_trace

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runs = evaluation.runs_frame()
    summary = evaluation.summary_frame()
    paired = evaluation.paired_frame()
    paths: dict[str, Path] = {
        "runs_csv": out / "runs.csv",
        "runs_parquet": out / "runs.parquet",
        "summary_csv": out / "summary.csv",
        "paired_csv": out / "paired.csv",
        "meta": out / "meta.json",
        "report": out / "report.md",
    }
    runs.to_csv(paths["runs_csv"], index=False)
    runs.to_parquet(paths["runs_parquet"], index=False)
    summary.to_csv(paths["summary_csv"], index=False)
    paired.to_csv(paths["paired_csv"], index=False)
    paths["meta"].write_text(json.dumps(_meta(evaluation), indent=2) + "\n", encoding="utf-8")

    scenarios = list(dict.fromkeys(summary["scenario"]))
    traces = evaluation.traces()
    plot_files: dict[str, tuple[Path | None, Path | None]] = {}
    for s in scenarios:
        profit_png = trace_png = None
        if plots:
            profit_png = plot_profit(
                summary, s, out / "plots" / f"profit_{s}.png", evaluation.config.reference
            )
            per_policy = {p: traces[(s, p)] for p in evaluation.config.policies if (s, p) in traces}
            if per_policy:
                sku = evaluation.plot_skus[s]
                trace_png = plot_trace(
                    per_policy, sku, f"{s}: SKU {sku}, seed {evaluation.seeds[0]}",
                    out / "plots" / f"trace_{s}.png",
                )
        plot_files[s] = (profit_png, trace_png)
        for kind, p in zip(("profit", "trace"), (profit_png, trace_png), strict=True):
            if p is not None:
                paths[f"{kind}_{s}"] = p
    paths["report"].write_text(
        _report_text(evaluation, summary, paired, plot_files, out), encoding="utf-8"
    )
    return paths


def _report_text(
    evaluation: Evaluation,
    summary: pd.DataFrame,
    paired: pd.DataFrame,
    plot_files: dict[str, tuple[Path | None, Path | None]],
    out: Path,
) -> str:
    import pandas as pd

    cfg = evaluation.config
    baseline = cfg.effective_baseline
    lines = [
        "# ShopOps evaluation",
        "",
        f"- Policies: {_policy_list(cfg.policies)}",
        f"- Scenarios: {', '.join(evaluation.held_out)}",
        f"- Seeds: {_split_line(evaluation)}",
        f"- Intervals: {cfg.confidence:.0%} Student-t over seeds; differences are paired "
        "(same seeds, common random numbers)",
        f"- {len(evaluation.runs)} episodes in {evaluation.elapsed_s:.1f} s wall with "
        f"{cfg.jobs} job(s), {sum(r.cpu_s for r in evaluation.runs):.0f} CPU-s in episodes; "
        f"commit {_git_commit() or 'unknown'}",
        "- CPU seconds per episode: "
        + ", ".join(f"{p} {v:.2f}" for p, v in _cpu_per_policy(evaluation).items()),
        "",
    ]
    for column, title, text in _matrices(evaluation):
        lines += [
            f"## {title}",
            "",
            text,
            "",
            _markdown_table(pct_matrix(evaluation, column).rename_axis("policy"), index=True),
            "",
        ]
    for s in dict.fromkeys(summary["scenario"]):
        rows = summary[summary["scenario"] == s]
        held = " (held out)" if evaluation.held_out.get(s) else ""
        table = pd.DataFrame({
            "policy": rows["policy"],
            "seeds": rows["n_seeds"],
            "profit": [format_interval(m, h) for m, h in zip(rows["profit"], rows["profit_half"],
                                                             strict=True)],
            **{
                _pct_label(c): [format_interval(m, h, 1, "%") for m, h in
                                zip(rows[c], rows[f"{c}_half"], strict=True)]
                for c in evaluation.pct_columns
            },
            "fill rate": [f"{100 * v:.1f}%" for v in rows["fill_rate"]],
            "stock-out SKU-days": [f"{100 * v:.1f}%" for v in rows["stockout_rate"]],
            "lost value": [f"{v:,.0f}" for v in rows["lost_value"]],
            "waste units": [f"{v:,.0f}" for v in rows["waste_units"]],
            "avg inventory (cost)": [f"{v:,.0f}" for v in rows["avg_inventory_value"]],
            "turns/yr": [f"{v:.1f}" for v in rows["inventory_turns"]],
            "promo spend": [f"{v:,.0f}" for v in rows["promo_spend"]],
        })
        lines += [f"## {s}{held}", "", _markdown_table(table), ""]
        diffs = paired[(paired["scenario"] == s) & (paired["policy_a"] != paired["policy_b"])]
        if len(diffs):
            dt = pd.DataFrame({
                "policy": diffs["policy_a"],
                f"profit - {baseline}": [format_interval(m, h) for m, h in
                                         zip(diffs["diff"], diffs["diff_half"], strict=True)],
                "seeds": diffs["n_seeds"],
                "better on seeds": [f"{100 * v:.0f}%" for v in diffs["a_better_share"]],
            })
            lines += [f"Paired differences against {baseline}:", "", _markdown_table(dt), ""]
        profit_png, trace_png = plot_files.get(s, (None, None))
        if profit_png is not None:
            lines += [f"![profit by policy, {s}]({profit_png.relative_to(out).as_posix()})", ""]
        if trace_png is not None:
            lines += [
                f"Daily series of SKU `{evaluation.plot_skus[s]}` on seed {evaluation.seeds[0]}:",
                "",
                f"![SKU trace, {s}]({trace_png.relative_to(out).as_posix()})",
                "",
            ]
    lines += [
        "## Definitions",
        "",
        "KPIs are defined in `eval/kpis.py`. Fill rate = units sold / units demanded; "
        "stock-out SKU-days = share of SKU-days with unserved demand; inventory turns = cost "
        "of goods sold / average inventory at cost, annualised; promo spend = promotion "
        "costs + discount given away (sales x list price x discount). `runs.csv` has every "
        "KPI of every run.",
        "",
    ]
    return "\n".join(lines)
