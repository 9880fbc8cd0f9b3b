"""PNG plots of an evaluation (matplotlib, Agg backend; imported only when plotting).

* :func:`plot_profit` — per scenario, mean profit by policy as bars with t-interval error
  bars (the reference policy's bar is hatched: it is a bound, not an achievable result).
* :func:`plot_trace` — for one SKU, its morning inventory, units ordered, price paid and
  units sold (with demand shaded) over the horizon, one line per policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from eval.episode import EpisodeTrace

__all__ = ["plot_profit", "plot_trace"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_profit(
    summary: pd.DataFrame, scenario: str, path: Path, reference: str | None = "oracle"
) -> Path:
    """Bar chart of mean episode profit per policy on ``scenario`` with interval error bars.

    ``summary`` is :meth:`eval.harness.Evaluation.summary_frame` (columns ``scenario``,
    ``policy``, ``profit``, ``profit_half``, ``n_seeds``). Returns ``path``.
    """
    plt = _pyplot()
    rows = summary[summary["scenario"] == scenario]
    policies = list(rows["policy"])
    means = rows["profit"].to_numpy(dtype=float)
    halves = np.nan_to_num(rows["profit_half"].to_numpy(dtype=float))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(policies) + 2), 3.6), dpi=110)
    colors = [f"C{i}" for i in range(len(policies))]
    bars = ax.bar(policies, means, yerr=halves, capsize=4, color=colors, edgecolor="black")
    for bar, name in zip(bars, policies, strict=True):
        if name == reference:
            bar.set_hatch("//")
            bar.set_alpha(0.6)
    ax.axhline(0.0, color="black", linewidth=0.8)
    n_lo, n_hi = (int(rows["n_seeds"].min()), int(rows["n_seeds"].max())) if len(rows) else (0, 0)
    n = str(n_hi) if n_lo == n_hi else f"{n_lo}-{n_hi}"
    ax.set_title(f"{scenario}: episode profit\n(mean, 95% CI over {n} seeds)", fontsize=10)
    ax.set_ylabel("profit")
    ax.tick_params(axis="x", rotation=20)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_trace(
    traces: Mapping[str, EpisodeTrace], sku: str, title: str, path: Path
) -> Path:
    """Inventory, orders, price and sales of ``sku`` over time, one line per policy.

    ``traces`` maps a policy name to its recorded :class:`~eval.episode.EpisodeTrace`
    (all of the same scenario and seed). Returns ``path``.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(4, 1, figsize=(10, 9), dpi=100, sharex=True)
    panels = (
        ("on_hand", "inventory (morning, units)"),
        ("ordered", "units ordered"),
        ("price", "price paid"),
        ("sales", "units sold (demand shaded)"),
    )
    demand_patch = None
    for i, (policy, trace) in enumerate(traces.items()):
        s = trace.series(sku)
        days = np.arange(trace.days)
        color = f"C{i}"
        for ax, (field, _) in zip(axes, panels, strict=True):
            if field == "ordered":
                hit = s[field] > 0
                ax.vlines(days[hit] + 0.1 * i, 0, s[field][hit], color=color, linewidth=1.2)
                ax.plot([], [], color=color, label=policy)
            elif field == "price":
                ax.step(days, s[field], where="post", color=color, linewidth=1.0, label=policy)
            else:
                ax.plot(days, s[field], color=color, linewidth=1.0, label=policy)
        if demand_patch is None:  # same seed: same demand for every policy (until promotions)
            demand_patch = axes[3].fill_between(
                days, s["demand"], color="0.85", zorder=0, label=f"demand ({policy})"
            )
    for ax, (_, label) in zip(axes, panels, strict=True):
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, ncol=min(4, len(traces)), loc="upper right")
    if demand_patch is not None:
        axes[3].legend(handles=[demand_patch], fontsize=7, loc="upper right")
    axes[-1].set_xlabel("day")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
