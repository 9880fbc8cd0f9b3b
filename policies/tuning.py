"""Tune the base-stock heuristic per category by coordinate search on training seeds.

:func:`tune_base_stock` starts from the default :class:`~policies.base_stock.BaseStockParams`
for every category and, pass after pass, for each category and each parameter in turn,
tries every value on that parameter's grid (:data:`GRID`) with everything else fixed, and
keeps the value with the highest mean episode profit over the training seeds (common
random numbers: every candidate sees the same futures). It stops after ``passes`` passes or
when a pass improves nothing. The result, with the seeds used and the profits before and
after, is written as JSON (``policies/tuned/<scenario>.json`` by default) and read back by
:class:`~policies.base_stock.TunedBaseStockPolicy`.

Training seeds must not overlap the seeds evaluations report on; the convention in this
repository is evaluation seeds below 1000 and training seeds from 1000 up
(:data:`DEFAULT_TRAIN_SEEDS`).

``scenario`` may also be several scenarios pooled (each category name is then tuned
across all of them; categories of the same name share parameters), which is how
``default.json`` (the fallback for held-out scenarios) is produced.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from envs.scenario import load_scenario
from policies.base_stock import BaseStockParams, BaseStockPolicy, tuned_path
from policies.errors import PolicyConfigError
from policies.rollout import rollout

__all__ = ["DEFAULT_TRAIN_SEEDS", "GRID", "tune_base_stock"]

#: Seeds used for tuning unless told otherwise (evaluations use seeds below 1000).
DEFAULT_TRAIN_SEEDS: tuple[int, ...] = (1000, 1001, 1002, 1003)

#: The values coordinate search tries for each parameter.
GRID: dict[str, tuple[Any, ...]] = {
    "review_days": (1, 2, 3, 4, 5, 7, 10, 14, 21, 28),
    "service_level": (None, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999),
    "can_order": (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
    "recent_weight": (0.0, 0.25, 0.5, 0.75, 1.0),
    "overstock_days": (None, 20.0, 30.0, 45.0, 60.0, 90.0, 150.0),
    "markdown_depth": (0.05, 0.1, 0.2, 0.3),
    "markdown_days": (3, 7, 14),
    "clearance_depth": (0.0, 0.1, 0.2, 0.3, 0.5),
}


def _score(
    scenarios: Sequence[str],
    seeds: Sequence[int],
    default: BaseStockParams,
    per_category: dict[str, BaseStockParams],
) -> float:
    policy = BaseStockPolicy(per_category=per_category, default=default)
    total = 0.0
    for sc in scenarios:
        for seed in seeds:
            total += rollout(policy, sc, seed).profit
    return total / (len(scenarios) * len(seeds))


def tune_base_stock(
    scenarios: str | Sequence[str],
    seeds: Sequence[int] = DEFAULT_TRAIN_SEEDS,
    passes: int = 2,
    out: str | Path | None = None,
    shared: bool = False,
    allow_held_out: bool = False,
    progress: Callable[[str], None] | None = None,
    grid: dict[str, Sequence[Any]] | None = None,
) -> dict[str, Any]:
    """Coordinate search over :data:`GRID`; write and return the tuned-parameters record.

    Args:
        scenarios: one scenario name or several (pooled).
        seeds: training seeds (each candidate is scored on all of them).
        passes: maximum passes over all (category, parameter) pairs.
        out: output JSON path (default ``policies/tuned/<scenario>.json``; required when
            pooling several scenarios).
        shared: tune one parameter set for every category (written as ``default``)
            instead of one per category.
        allow_held_out: permit tuning on a scenario marked ``held_out`` (normally refused:
            held-out scenarios are for transfer tests).
        progress: called with a short status line after each candidate.
        grid: the values to try per parameter (default :data:`GRID`); a smaller grid
            searches faster.

    Raises:
        PolicyConfigError: no seeds, a held-out scenario, or no output path for a pool.
    """
    names = [scenarios] if isinstance(scenarios, str) else list(scenarios)
    if not names:
        raise PolicyConfigError("scenarios: give at least one scenario to tune on")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise PolicyConfigError("seeds: give at least one training seed")
    if passes < 1:
        raise PolicyConfigError(f"passes: must be at least 1; got {passes}")
    grid = {k: tuple(v) for k, v in (GRID if grid is None else grid).items()}
    unknown = sorted(set(grid) - set(BaseStockParams.model_fields))
    if unknown:
        raise PolicyConfigError(
            f"grid: unknown parameters {unknown}; valid: {', '.join(BaseStockParams.model_fields)}"
        )
    specs = [load_scenario(n) for n in names]
    for spec in specs:
        if spec.held_out and not allow_held_out:
            raise PolicyConfigError(
                f"scenario {spec.name!r} is held out for transfer tests; tuning on it would "
                "leak it (pass allow_held_out=True / --allow-held-out to do it anyway)"
            )
    if out is None:
        if len(names) > 1:
            raise PolicyConfigError("out: give an output path when pooling several scenarios")
        out = tuned_path(specs[0].name)
    categories: list[str] = []
    for spec in specs:
        for c in spec.categories:
            if c.name not in categories:
                categories.append(c.name)
    perishable = {c.name for spec in specs for c in spec.categories if c.shelf_life_days}

    default = BaseStockParams()
    per_cat: dict[str, BaseStockParams] = {} if shared else dict.fromkeys(categories, default)
    groups = ["*"] if shared else categories
    baseline = _score(names, seeds, default, {})
    best = baseline
    evaluations = 1
    for p in range(passes):
        improved = False
        for group in groups:
            for field, values in grid.items():
                scope = set(categories) if shared else {group}
                if field == "clearance_depth" and not perishable & scope:
                    continue
                current = default if group == "*" else per_cat[group]
                for value in values:
                    if getattr(current, field) == value:
                        continue
                    cand = BaseStockParams.parse(
                        {**current.model_dump(), field: value}, f"grid.{field}"
                    )
                    d, pc = (cand, per_cat) if group == "*" else (default, {**per_cat, group: cand})
                    score = _score(names, seeds, d, pc)
                    evaluations += 1
                    if score > best + 1e-6:
                        best, current, improved = score, cand, True
                        if group == "*":
                            default = cand
                        else:
                            per_cat[group] = cand
                    if progress:
                        progress(
                            f"pass {p + 1} {group}.{field}={value}: {score:,.0f} (best {best:,.0f})"
                        )
        if not improved:
            break

    record = {
        "scenario": names[0] if len(names) == 1 else names,
        "seeds": seeds,
        "objective": "mean episode profit over the seeds",
        "profit_default_params": round(baseline, 2),
        "profit_tuned": round(best, 2),
        "evaluations": evaluations,
        "passes": passes,
        "grid": {k: list(v) for k, v in grid.items()},
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": (
            f"shopops train base-stock --scenario {','.join(names)} "
            f"--seeds {','.join(map(str, seeds))} --passes {passes}"
            + (" --shared" if shared else "")
            + (f" --out {out}" if len(names) > 1 else "")
        ),
        "default": default.model_dump(),
        "per_category": {k: v.model_dump() for k, v in per_cat.items()},
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record
