"""Aggregation over seeds: means with t-intervals, paired differences, percent of a reference.

All comparisons are *paired*: every policy runs on the same seeds (common random numbers),
so the difference between two policies is computed seed by seed and its interval is a
t-interval of those per-seed differences, which is far tighter than comparing two
independent means. A policy compared with itself gives differences of exactly 0.

Functions take and return pandas DataFrames (pandas is imported inside them); the runs
table has one row per ``(policy, scenario, seed)`` with the columns of
:meth:`eval.episode.EpisodeResult.row`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from eval.errors import EvalConfigError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Interval",
    "paired_differences",
    "percent_of_reference",
    "summarise",
    "t_interval",
]


@dataclasses.dataclass(frozen=True)
class Interval:
    """A mean and its two-sided t confidence interval over ``n`` values.

    ``half`` is NaN with fewer than two values (no spread to estimate) and 0 when every
    value is identical.
    """

    mean: float
    low: float
    high: float
    half: float
    n: int


def t_interval(values: Sequence[float] | np.ndarray, level: float = 0.95) -> Interval:
    """The mean of ``values`` with its Student-t confidence interval at ``level``.

    NaN values are ignored (a KPI undefined on some seed, e.g. a fill rate without demand).

    Raises:
        EvalConfigError: ``level`` is not strictly between 0 and 1.
    """
    if not 0.0 < level < 1.0:
        raise EvalConfigError(f"confidence level must be between 0 and 1 (e.g. 0.95); got {level}")
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, math.nan, n)
    sd = float(x.std(ddof=1))
    if sd == 0.0:
        return Interval(mean, mean, mean, 0.0, n)
    from scipy import stats

    half = float(stats.t.ppf(0.5 + level / 2.0, n - 1) * sd / math.sqrt(n))
    return Interval(mean, mean - half, mean + half, half, n)


def _require(runs: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in runs.columns]
    if missing:
        raise EvalConfigError(
            f"runs table lacks column(s) {missing}; it has {list(runs.columns)}"
        )


def percent_of_reference(
    runs: pd.DataFrame,
    reference: str | None = "oracle",
    bounds: Mapping[tuple[str, int], float] | None = None,
) -> pd.Series:
    """Per run, 100 x profit / the reference profit on the same scenario and seed.

    The reference is the profit of policy ``reference`` in ``runs`` or, for a
    ``(scenario, seed)`` present in ``bounds`` (e.g. the oracle's profit bound), that value,
    which takes precedence. Runs without a reference, or whose reference is not positive (a
    percentage of a loss means nothing), get NaN.

    Returns:
        A float Series aligned with ``runs``, named ``pct_of_<reference>``, or
        ``pct_of_bound`` when ``reference`` is ``None``.
    """
    import pandas as pd

    _require(runs, ("policy", "scenario", "seed", "profit"))
    ref_map: dict[tuple[str, int], float] = {}
    if reference is not None:
        ref = runs.loc[runs["policy"] == reference].set_index(["scenario", "seed"])["profit"]
        if ref.index.has_duplicates:
            raise EvalConfigError(
                f"the reference policy {reference!r} has several runs for one scenario and seed"
            )
        ref_map = {(str(s), int(seed)): float(v) for (s, seed), v in ref.items()}
    if bounds:
        ref_map.update({(s, int(seed)): float(v) for (s, seed), v in bounds.items()})
    keys = list(zip(runs["scenario"], runs["seed"].astype(int), strict=True))
    denom = np.array([ref_map.get(k, math.nan) for k in keys], dtype=float)
    profit = runs["profit"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(denom > 0, 100.0 * (profit / denom), math.nan)
    name = "pct_of_bound" if reference is None else f"pct_of_{reference}"
    return pd.Series(pct, index=runs.index, name=name)


def summarise(
    runs: pd.DataFrame,
    metrics: Sequence[str],
    level: float = 0.95,
) -> pd.DataFrame:
    """Per ``(scenario, policy)``: mean, interval bounds, half-width and count of each metric.

    Columns are ``scenario, policy, n_seeds`` then, per metric ``m``: ``m``, ``m_low``,
    ``m_high``, ``m_half``. Rows are grouped by scenario; scenarios and policies keep the
    order of their first appearance in ``runs``.
    """
    import pandas as pd

    _require(runs, ("policy", "scenario", "seed", *metrics))
    scen_order = {s: i for i, s in enumerate(dict.fromkeys(runs["scenario"]))}
    pol_order = {p: i for i, p in enumerate(dict.fromkeys(runs["policy"]))}
    groups = sorted(
        runs.groupby(["scenario", "policy"], sort=False),
        key=lambda kv: (scen_order[kv[0][0]], pol_order[kv[0][1]]),
    )
    rows = []
    for (scenario, policy), g in groups:
        row: dict[str, object] = {
            "scenario": scenario, "policy": policy, "n_seeds": int(g["seed"].nunique())
        }
        for m in metrics:
            iv = t_interval(g[m].to_numpy(dtype=float), level)
            row.update({m: iv.mean, f"{m}_low": iv.low, f"{m}_high": iv.high, f"{m}_half": iv.half})
        rows.append(row)
    return pd.DataFrame(rows)


def paired_differences(
    runs: pd.DataFrame,
    metric: str = "profit",
    baseline: str | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Per scenario, ``policy - baseline`` on ``metric``, paired on the seeds both ran.

    With ``baseline=None`` every ordered pair of distinct policies is compared
    (``policy_a - policy_b``); otherwise each policy (the baseline included, giving exact
    zeros) is compared with ``baseline``.

    Returns:
        Columns ``scenario, policy_a, policy_b, n_seeds, diff, diff_low, diff_high,
        diff_half, a_better_share`` (the share of seeds on which ``a`` did strictly better).

    Raises:
        EvalConfigError: ``baseline`` is not among the runs' policies.
    """
    import pandas as pd

    _require(runs, ("policy", "scenario", "seed", metric))
    policies = list(dict.fromkeys(runs["policy"]))
    if baseline is not None and baseline not in policies:
        raise EvalConfigError(
            f"baseline {baseline!r} is not among the evaluated policies: {', '.join(policies)}"
        )
    rows = []
    for scenario, g in runs.groupby("scenario", sort=False):
        wide = g.pivot_table(index="seed", columns="policy", values=metric, aggfunc="first")
        present = [p for p in policies if p in wide.columns]
        if baseline is None:
            pairs = [(a, b) for a in present for b in present if a != b]
        else:
            pairs = [(a, baseline) for a in present if baseline in wide.columns]
        for a, b in pairs:
            both = wide[[a, b]].dropna() if a != b else wide[[a]].dropna()
            d = (both[a] - both[b]).to_numpy(dtype=float)
            iv = t_interval(d, level)
            rows.append({
                "scenario": scenario,
                "policy_a": a,
                "policy_b": b,
                "n_seeds": iv.n,
                "diff": iv.mean,
                "diff_low": iv.low,
                "diff_high": iv.high,
                "diff_half": iv.half,
                "a_better_share": float((d > 0).mean()) if d.size else math.nan,
            })
    return pd.DataFrame(
        rows,
        columns=[
            "scenario", "policy_a", "policy_b", "n_seeds", "diff", "diff_low", "diff_high",
            "diff_half", "a_better_share",
        ],
    )
