"""The fitted twin as a scenario the simulator loads (``ScenarioSpec`` / YAML).

Every fitted series becomes one explicit SKU (:class:`~envs.scenario.SkuSpec`) in its
category. What the history cannot tell is set to documented assumptions, written into the
file's header: unit cost from ``assumed_margin``, one supplier with ``lead_time_days``, no
post-promotion dip, no promotion fatigue (``fatigue_days`` very large), no cannibalisation
or halo, discounts up to 90%. Promotion types (feature, display) become
``promo_lift_per_depth`` (see :mod:`envs.calibration.fit`).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import yaml

from envs.calibration.errors import CalibrationError
from envs.calibration.fit import FitResult
from envs.scenario import ScenarioSpec, parse_scenario

__all__ = ["build_scenario", "category_slug", "write_scenario"]

SUPPLIER = "supplier"
NO_FATIGUE_DAYS = 100000.0


def category_slug(name: str) -> str:
    """A scenario-friendly category name: ``"BAG SNACKS"`` -> ``"bag-snacks"``."""
    slug = re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-")
    return slug or "category"


def _sig(x: float, digits: int = 5) -> float:
    return float(f"{float(x):.{digits}g}")


def build_scenario(
    fit: FitResult,
    name: str,
    description: str = "",
    horizon_days: int | None = None,
    start_date: dt.date | None = None,
) -> ScenarioSpec:
    """The scenario of ``fit`` starting at ``start_date`` (default: the fit's ``t0``).

    Raises:
        CalibrationError: ``name`` is not a valid scenario name.
    """
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
        raise CalibrationError(
            f"scenario name {name!r}: use lower-case letters, digits, '-' and '_' "
            "(starting with a letter or digit)"
        )
    cfg = fit.config
    cats = fit.categories.set_index("category")
    categories: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for cat, g in fit.series.groupby("category", sort=True):
        slug = category_slug(cat)
        if slug in seen:
            slug = f"{slug}-{len(seen)}"
        seen[slug] = str(cat)
        row = cats.loc[cat]
        skus = []
        for r in g.itertuples(index=False):
            skus.append({
                "id": str(r.series),
                "price": _sig(r.list_price),
                "unit_cost": _sig(r.list_price * (1.0 - cfg.assumed_margin)),
                "base_demand": _sig(max(r.base_daily, 0.0)),
                "elasticity": _sig(min(r.elasticity, 0.0), 4),
                "trend": _sig(r.trend, 4),
                "yearly_amplitude": _sig(r.amplitude, 4),
                "yearly_peak_day": int(r.peak),
                "dispersion": _sig(r.dispersion, 4),
                "promo_lift_per_depth": _sig(r.lift, 4),
            })
        entry: dict[str, Any] = {
            "name": slug,
            "supplier": SUPPLIER,
            "skus": skus,
            "yearly_peak_day": int(row["peak_day"]),
            "dispersion": _sig(float(g["dispersion"].median()), 4),
            "promo_lift_per_depth": _sig(float(row["lift_per_depth"]), 4),
            "post_promo_dip": 0.0,
            "fatigue_days": NO_FATIGUE_DAYS,
            "cannibalisation": 0.0,
            "halo": 0.0,
            "max_discount": 0.9,
        }
        if fit.weekly_weights and str(cat) in fit.weekly_weights:
            entry["weekly"] = [float(x) for x in fit.weekly_weights[str(cat)]]
        categories.append(entry)
    if not categories:
        raise CalibrationError("the fit has no series; nothing to write")
    data = {
        "name": name,
        "description": description or f"Calibrated twin ({len(fit.series)} series)",
        "seed": 0,
        "horizon_days": int(horizon_days or cfg.horizon_days),
        "start_date": start_date or fit.t0,
        "demand_noise": "negbin",
        "initial_stock_days": 14.0,
        "discount_levels": [0.0, 0.1, 0.2, 0.3, 0.5],
        "categories": categories,
        "suppliers": [{"name": SUPPLIER, "lead_time_days": cfg.lead_time_days}],
    }
    return parse_scenario(data, f"<calibrated {name}>")


_HEADER = """\
# Calibrated by `shopops calibrate` from real sales history ({n} series, fitted {t0}).
# Fitted per SKU: base_demand (daily, at list price, at start_date), elasticity, trend,
# yearly_amplitude / yearly_peak_day (pooled per category), dispersion (daily NB shape),
# promo_lift_per_depth (promotion-type lifts expressed per unit of discount depth).
# Assumed (not in the history): unit_cost = price x (1 - {margin}); one supplier with a
# {lead}-day lead time; no post-promotion dip, fatigue, cannibalisation or halo.
# The fit report next to this file gives every estimate with its interval.
"""


def write_scenario(spec: ScenarioSpec, path: str | Path, fit: FitResult) -> Path:
    """Write ``spec`` as YAML with a header saying what was fitted and what assumed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = spec.model_dump(mode="json", exclude_none=True)
    header = _HEADER.format(
        n=len(fit.series), t0=fit.t0, margin=fit.config.assumed_margin,
        lead=fit.config.lead_time_days,
    )
    path.write_text(header + yaml.safe_dump(data, sort_keys=False, width=100), encoding="utf-8")
    return path
