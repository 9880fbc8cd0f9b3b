"""The fit report: estimates with intervals, goodness of fit, plots of simulated vs real.

:func:`write_report` writes into one folder:

* ``fit_report.md`` — headline figures (median elasticity and promotion log-lifts with 95%
  intervals, next to the reference regression), per-category estimates, goodness of fit,
  twin validation (WAPE, interval coverage) and what the simulator could not replay;
* ``fit_report.json`` — the same figures as JSON;
* ``series_estimates.csv`` — every series' fitted parameters (no sales rows);
* ``elasticity.png`` — the distribution of own-price elasticities;
* ``twin_skus.png`` — simulated (mean and interval) versus real weekly units for the six
  best-selling SKUs of the hold-out.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from envs.calibration.fit import ALL, PROMO_COLUMNS, FitResult
from envs.calibration.twin import TwinReport

__all__ = ["write_report"]


def _ci(pair: list[float]) -> str:
    return f"[{pair[0]:.3f}, {pair[1]:.3f}]"


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, float | np.floating):
        return None if not math.isfinite(float(obj)) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def write_report(
    fit: FitResult, out_dir: str | Path, twin: TwinReport | None = None, source: str = ""
) -> dict[str, Any]:
    """Write the report files into ``out_dir``; returns the JSON summary."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    h = fit.headline
    ser = fit.series
    summary: dict[str, Any] = {
        "source": source,
        "t0": str(fit.t0),
        "headline": h,
        "goodness_of_fit": {
            "median_r2_log": float(np.nanmedian(ser["r2"])),
            "median_in_sample_wape": float(np.nanmedian(ser["wape_in"])),
        },
        "categories": fit.categories.to_dict(orient="records"),
        "excluded": fit.excluded.to_dict(orient="records"),
        "twin": None if twin is None else twin.summary,
        "twin_by_category": None if twin is None else twin.by_category.to_dict(orient="records"),
        "config": fit.config.model_dump(mode="json"),
    }
    summary = _clean(summary)
    (out / "fit_report.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    ser.to_csv(out / "series_estimates.csv", index=False)
    _plot_elasticity(fit, out / "elasticity.png")
    if twin is not None:
        _plot_twin(twin, out / "twin_skus.png")
    (out / "fit_report.md").write_text(_markdown(fit, twin, source), encoding="utf-8")
    return summary


def _markdown(fit: FitResult, twin: TwinReport | None, source: str) -> str:
    h = fit.headline
    lines = [
        "# Calibration report",
        "",
        f"Source: `{source}`. Training data ends the day before {fit.t0}; "
        f"{h['n_series']} series fitted, {h['n_own_elasticity']} with their own price slope "
        f"({len(fit.excluded)} excluded, listed in fit_report.json).",
        "",
        "## Headline estimates (95% intervals)",
        "",
        "| estimate | model (Poisson, series slopes, pooled promotions) | same model, "
        "least squares on log units | reference regression | per-series regressions, median |",
        "|---|---|---|---|---|",
    ]
    ref = h.get("reference", {})
    per = h.get("per_series", {})
    log_ols = h.get("log_ols", {})

    def _per(name: str) -> str:
        if name not in per:
            return "n/a"
        return f"{per[name]:.3f} {_ci(per[f'{name}_ci95'])} ({per[f'{name}_n_series']} series)"

    lines.append(
        f"| median own-price elasticity | {h['median_elasticity']:.3f} "
        f"{_ci(h['median_elasticity_ci95'])} (bootstrap over series) | "
        + " | (medians of the series slopes: see the last column) | "
        + (f"{ref['elasticity']:.3f} {_ci(ref['elasticity_ci95'])}" if ref else "n/a")
        + f" | {_per('elasticity')} |"
    )
    for k in PROMO_COLUMNS:
        if not math.isfinite(h.get(f"{k}_log_lift", float("nan"))):
            continue
        r = (f"{ref[f'{k}_log_lift']:.3f} {_ci(ref[f'{k}_log_lift_ci95'])}"
             if f"{k}_log_lift" in ref else "n/a")
        lo = (f"{log_ols[f'{k}_log_lift']:.3f} {_ci(log_ols[f'{k}_log_lift_ci95'])}"
              if f"{k}_log_lift" in log_ols else "n/a")
        lines.append(
            f"| {k} log-lift | {h[f'{k}_log_lift']:.3f} {_ci(h[f'{k}_log_lift_ci95'])} | {lo} "
            f"| {r} "
            f"| {_per(f'{k}_log_lift')} |"
        )
    lines += [
        "",
        "The model fits the mean weekly units by Poisson pseudo-likelihood over each series' "
        "zero-filled span: an elasticity, level and trend per series, promotion lifts (on top "
        "of the price cut) and yearly seasonality pooled by category, standard errors "
        "clustered by series. The second column is the same model by least squares on log "
        "units of weeks with sales (shifts of mean log units, attenuated on small counts). The "
        "reference is one pooled within-series log-log regression with one elasticity for "
        "all: it credits the extra response of series more elastic than average to the "
        "promotion flags that come with their deepest cuts, so its lifts run high. The last "
        "column is the median of separate per-series log-log regressions, each coefficient "
        "taken only from series where its regressor varies.",
        f"Elasticity interquartile range across series: {_ci(h['elasticity_iqr'])}; median "
        f"after shrinkage {h['median_elasticity_shrunk']:.3f}.",
        "",
        "## Per category",
        "",
        "| category | series | own slopes | median elasticity | feature | display | "
        "amplitude | peak day | lift/depth |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in fit.categories.itertuples(index=False):
        if r.category == ALL:
            continue

        def f(v: float) -> str:
            return "n/a" if not math.isfinite(v) else f"{v:.3f}"

        lines.append(
            f"| {r.category} | {r.n_series} | {r.n_own} | {f(r.median_elasticity)} | "
            f"{f(r.b_feature)} ± {f(1.96 * r.se_feature)} | {f(r.b_display)} ± "
            f"{f(1.96 * r.se_display)} | {f(r.amplitude)} | {r.peak_day} | "
            f"{f(r.lift_per_depth)} |"
        )
    ser = fit.series
    lines += [
        "",
        "## Goodness of fit (training)",
        "",
        "- median R² per series (log units of weeks with sales vs log fitted mean): "
        f"{np.nanmedian(ser['r2']):.3f}",
        f"- median in-sample weekly WAPE per series: {np.nanmedian(ser['wape_in']):.3f}",
        f"- median weekly NB shape: {np.median(ser['dispersion_week']):.2f} "
        f"(daily {np.median(ser['dispersion']):.3f})",
    ]
    if twin is not None:
        s = twin.summary
        lines += [
            "",
            "## Twin validation (held-out final weeks)",
            "",
            f"{s['skus']} SKUs x {s['weeks']} weeks, {s['seeds']} simulated futures with the "
            "historical prices.",
            "",
            f"- WAPE at SKU-week level: **{s['wape']:.3f}** (simulated median: "
            f"{s['wape_median']:.3f}; naive mean of the last 13 weeks: "
            f"{s['wape_naive_last13']:.3f})",
            f"- coverage of the simulated {s['interval']:.0%} interval: **{s['coverage']:.3f}**",
            f"- bias (simulated / real - 1): {s['bias']:+.3f}",
            f"- SKU-weeks priced above list: {s['weeks_above_list_price']}; with "
            f"feature/display but no price cut: "
            f"{s['weeks_feature_or_display_without_discount']}. A plan cannot express them "
            "(it only discounts, and the scenario's lift comes with a discount); the replay "
            "carries the fitted model's factor for them through each SKU's demand level.",
        ]
        plain = s.get("discount_only")
        if plain:
            lines.append(
                f"- the discount-only replay (what a plan alone expresses): WAPE "
                f"{plain['wape']:.3f}, coverage {plain['coverage']:.3f}, bias "
                f"{plain['bias']:+.3f}"
            )
        lines += [
            "",
            "| category | SKUs | WAPE | coverage | bias |",
            "|---|---|---|---|---|",
        ]
        for r in twin.by_category.itertuples(index=False):
            lines.append(
                f"| {r.category} | {r.skus} | {r.wape:.3f} | {r.coverage:.3f} | {r.bias:+.3f} |"
            )
        lines += ["", "![simulated vs real](twin_skus.png)"]
    lines += ["", "![elasticities](elasticity.png)", ""]
    return "\n".join(lines)


def _plot_elasticity(fit: FitResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ser = fit.series
    raw = ser.loc[ser["own_slope"], "elasticity_raw"].to_numpy()
    fig, ax = plt.subplots(figsize=(7, 4))
    if raw.size:
        ax.hist(np.clip(raw, -8, 3), bins=60, alpha=0.6, label="own slope (raw)")
    ax.hist(ser["elasticity"], bins=60, alpha=0.6, label="used in the scenario (shrunk)")
    ax.axvline(fit.headline["median_elasticity"], color="k", ls="--", label="median (raw)")
    ax.set_xlabel("own-price elasticity")
    ax.set_ylabel("series")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_twin(twin: TwinReport, path: Path, k: int = 6) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = np.argsort(-twin.real.sum(axis=0))[:k]
    rows = math.ceil(len(top) / 2)
    fig, axes = plt.subplots(rows, 2, figsize=(11, 2.6 * rows), squeeze=False)
    x = np.arange(len(twin.weeks))
    for ax, j in zip(axes.ravel(), top, strict=False):
        ax.fill_between(x, twin.sim_lo[:, j], twin.sim_hi[:, j], alpha=0.3,
                        label="simulated interval")
        ax.plot(x, twin.sim_mean[:, j], label="simulated mean")
        ax.plot(x, twin.real[:, j], "k.-", label="real")
        ax.set_title(twin.sku_ids[j], fontsize=9)
        ax.set_xlabel(f"week from {twin.weeks[0]:%Y-%m-%d}")
    axes.ravel()[0].legend(fontsize=8)
    for ax in axes.ravel()[len(top):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
