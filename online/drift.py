"""Drift detection on forecast residuals: one River detector per SKU and one per category.

The forecaster hands over, per SKU-period, the Pearson residual of the observation against
its slow reference forecast (``(y - ref) / sd``, roughly zero-mean and unit-variance while
nothing changes). Residuals are clipped to ``+-clip`` (one outlier is no drift).

**Per SKU**: each SKU's residual stream feeds its own River detector (Page-Hinkley by
default, or ADWIN). This catches changes of one SKU, but a slow seller gives too little
evidence per period to see even a large change quickly.

**Per category** (``category=True``): changes are often shared (a category's demand jumps,
shoppers of a category get more price sensitive). Each period the residuals of the
category's eligible SKUs are pooled into one standardised statistic::

    z_c = mean(r_i) * sqrt(min(n_c, category_pool_cap))     (clipped to +-clip)

which is ``sum(r_i) / sqrt(n_c)`` (unit variance under no change) for categories of up to
``category_pool_cap`` SKUs; beyond the cap the statistic stops sharpening, so a tiny bias
shared by thousands of SKUs is not called a drift. ``z_c`` feeds a River Page-Hinkley
(``category_delta``, ``category_threshold``). When it fires in direction ``d`` (up or down),
the category's SKUs whose own *recent residual* (an exponentially weighted mean of their
residuals, rate ``recent_rate``) lies at least ``category_agree`` on the side of ``d`` are
reported: a change in one SKU (caught by its own detector, then adapted) does not flag its
siblings. The hub also drops SKUs whose own size estimate is below ``min_size`` or on the
other side.

Limits, measured on unit-Gaussian residuals: with the defaults a category detector raises a
false alarm about once per 950 periods, and then flags most of its SKUs. When only part of
a category changes, the alarm is partly made of its members' noise, so unchanged slow
sellers whose noise leaned the same way are flagged too (about a third of them when half
of an 8-SKU category drops by 0.8 sd); ``category_agree`` > 0 trades recall for fewer.

Eligible SKUs: past their first ``grace_periods`` periods (the reference is still forming)
and not within ``cooldown_periods`` after an alert of their own; the same rules gate
per-SKU alerts. The hub turns both kinds of detection into
:class:`~online.signals.DriftAlert` (``detector`` says ``"category"`` for pooled ones) and
tells the forecaster to adapt.

Category pooling needs a whole period of residuals at once, so it runs in the vectorised
path (:meth:`DriftMonitor.update_categories`); ``learn_one`` is the per-SKU detector only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CategoryDrift", "DriftConfig", "DriftMonitor"]


class DriftConfig(BaseModel):
    """Settings of :class:`DriftMonitor`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    detector: Literal["adwin", "page_hinkley"] = Field(
        default="page_hinkley", description="River detector run on each SKU's residuals."
    )
    adwin_delta: float = Field(default=0.002, gt=0, lt=1, description="ADWIN confidence.")
    ph_delta: float = Field(default=0.5, ge=0, description="Page-Hinkley tolerated drift.")
    ph_threshold: float = Field(default=5.0, gt=0, description="Page-Hinkley alarm level.")
    min_instances: int = Field(
        default=30, ge=1, description="Residuals a fresh detector sees before it may fire."
    )
    clip: float = Field(
        default=3.0, gt=0, description="Residuals are clipped to +-clip (one outlier is no drift)."
    )
    grace_periods: int = Field(default=21, ge=0, description="No alerts this early in a SKU.")
    cooldown_periods: int = Field(default=7, ge=0, description="No alerts right after one.")
    min_size: float = Field(
        default=0.15, ge=0, description="Ignore changes of the level smaller than this fraction."
    )
    category: bool = Field(
        default=True, description="Also pool residuals per category (see the module docstring)."
    )
    category_delta: float = Field(
        default=0.5, ge=0, description="Page-Hinkley tolerated drift of the pooled statistic."
    )
    category_threshold: float = Field(
        default=6.0, gt=0, description="Page-Hinkley alarm level of the pooled statistic."
    )
    category_min_instances: int = Field(
        default=14, ge=1, description="Pooled periods a fresh category detector sees first."
    )
    category_pool_cap: int = Field(
        default=30,
        ge=1,
        description="SKUs of evidence pooled at most (larger categories: mean residual * sqrt).",
    )
    recent_rate: float = Field(
        default=0.15, gt=0, le=1, description="Rate of each SKU's recent residual (its EWMA)."
    )
    category_agree: float = Field(
        default=0.0,
        ge=0,
        description="A SKU joins a category alarm if its recent residual is this far on its side.",
    )


@dataclasses.dataclass(frozen=True)
class CategoryDrift:
    """A category detector fired: the category, the direction, and the SKUs that share it.

    ``direction`` is +1 (demand up) or -1 (down); ``skus`` are the indices of the category's
    eligible SKUs whose recent residual agrees (possibly none).
    """

    category: int
    direction: int
    skus: np.ndarray


class DriftMonitor:
    """Per-SKU and per-category River drift detectors fed with standardised residuals.

    >>> m = DriftMonitor(DriftConfig(grace_periods=0))
    >>> fired = [m.learn_one({"sku": "a", "day": t}, 0.0 if t < 60 else 3.0) for t in range(90)]
    >>> 60 <= fired.index(True) < 70
    True
    >>> m.predict_one({"sku": "a"}) < 1.0  # restarted on the new regime after the alert
    True

    Pooled per category: eight slow sellers whose residuals all drop by 0.4 (too little
    for any of them alone) are caught together; a ninth SKU of the category that did not
    change is left out.

    >>> rng = np.random.default_rng(0)
    >>> m = DriftMonitor(DriftConfig(grace_periods=0))
    >>> m.resize(9, np.zeros(9, dtype=np.int64))
    >>> idx = np.arange(9)
    >>> for day in range(90):
    ...     r = rng.normal(size=9) - np.where((day >= 60) & (idx < 8), 0.4, 0.0)
    ...     per_sku = m.update_many(idx, r, day)
    ...     found = m.update_categories(idx, r, day)
    ...     if found:
    ...         break
    >>> day - 60 < 30, found[0].direction, 8 not in found[0].skus, len(found[0].skus) >= 6
    (True, -1, True, True)
    """

    def __init__(self, config: DriftConfig | None = None) -> None:
        self.config = config or DriftConfig()
        self.detectors: list[Any] = []
        self.n_obs = np.zeros(0)
        self.last_alert = np.zeros(0, dtype=np.int64)
        self.recent = np.zeros(0)
        self.cat = np.zeros(0, dtype=np.int64)
        self.category_detectors: list[Any] = []
        self.sku_index: dict[str, int] = {}

    def clone(self) -> Self:
        """A fresh monitor with the same configuration."""
        return type(self)(self.config)

    def _new_detector(self) -> Any:
        from river import drift

        if self.config.detector == "adwin":
            return drift.ADWIN(
                delta=self.config.adwin_delta, clock=1, grace_period=self.config.min_instances
            )
        return drift.PageHinkley(
            min_instances=self.config.min_instances,
            delta=self.config.ph_delta,
            threshold=self.config.ph_threshold,
            mode="both",
        )

    def _new_category_detector(self) -> Any:
        from river import drift

        return drift.PageHinkley(
            min_instances=self.config.category_min_instances,
            delta=self.config.category_delta,
            threshold=self.config.category_threshold,
            mode="both",
        )

    def resize(self, n: int, categories: np.ndarray | None = None) -> None:
        """Make room for SKU indices ``0 .. n-1``; ``categories[i]`` is SKU ``i``'s category.

        SKUs given no category share category 0. A SKU's category never changes: only the
        rows of SKUs new to the monitor are taken from ``categories``.
        """
        have = len(self.detectors)
        if n > have:
            self.detectors.extend(self._new_detector() for _ in range(n - have))
            self.n_obs = np.concatenate([self.n_obs, np.zeros(n - have)])
            self.last_alert = np.concatenate(
                [self.last_alert, np.full(n - have, -(10**9), dtype=np.int64)]
            )
            self.recent = np.concatenate([self.recent, np.zeros(n - have)])
            self.cat = np.concatenate([self.cat, np.zeros(n - have, dtype=np.int64)])
        if categories is not None:
            cats = np.asarray(categories, dtype=np.int64)[:n]
            self.cat[have : cats.size] = cats[have:]
        need = int(self.cat.max()) + 1 if self.cat.size else 0
        self.category_detectors.extend(
            self._new_category_detector() for _ in range(need - len(self.category_detectors))
        )

    def _eligible(self, i: np.ndarray, period: int) -> np.ndarray:
        cfg = self.config
        return (self.n_obs[i] > cfg.grace_periods) & (
            period - self.last_alert[i] > cfg.cooldown_periods
        )

    def update_many(self, idx: np.ndarray, residual: np.ndarray, period: int) -> np.ndarray:
        """Feed one residual per SKU (NaN: skip); returns the positions in ``idx`` that fired.

        Also moves each SKU's recent residual (used by :meth:`update_categories`, which the
        hub calls next with the same arrays).
        """
        cfg = self.config
        self.resize(int(idx.max()) + 1 if idx.size else 0)
        fired: list[int] = []
        dets = self.detectors
        clipped = np.clip(residual, -cfg.clip, cfg.clip)
        for k in np.flatnonzero(~np.isnan(residual)).tolist():
            det = dets[int(idx[k])]
            det.update(float(clipped[k]))
            if det.drift_detected:
                fired.append(k)
        if residual.size:
            seen = ~np.isnan(residual)
            self.n_obs[idx] += seen
            rec = self.recent[idx]
            self.recent[idx] = np.where(
                seen, rec + cfg.recent_rate * (np.where(seen, clipped, 0.0) - rec), rec
            )
        if not fired:
            return np.zeros(0, dtype=np.int64)
        pos = np.array(fired, dtype=np.int64)
        return pos[self._eligible(idx[pos], period)]

    def update_categories(
        self, idx: np.ndarray, residual: np.ndarray, period: int
    ) -> list[CategoryDrift]:
        """Feed one period's residuals, pooled per category; returns the categories that fired.

        Call it after :meth:`update_many` (and after :meth:`mark` for that period's per-SKU
        alerts, so those SKUs are left out) with the same ``idx`` (distinct SKUs) and
        ``residual``. Only eligible SKUs (past the grace periods, out of cooldown) with a
        residual are pooled; the SKUs reported are the eligible ones whose recent residual
        agrees with the direction of the change. Nothing is done when ``category`` is off.
        """
        cfg = self.config
        if not cfg.category or not idx.size:
            return []
        cat = self.cat[idx]
        elig = self._eligible(idx, period)
        use = elig & ~np.isnan(residual)
        if not use.any():
            return []
        C = len(self.category_detectors)
        r = np.clip(residual[use], -cfg.clip, cfg.clip)
        cnt = np.bincount(cat[use], minlength=C)
        tot = np.bincount(cat[use], weights=r, minlength=C)
        found: list[CategoryDrift] = []
        for c in np.flatnonzero(cnt).tolist():
            n = int(cnt[c])
            z = float(
                np.clip(tot[c] / n * np.sqrt(min(n, cfg.category_pool_cap)), -cfg.clip, cfg.clip)
            )
            det = self.category_detectors[c]
            det.update(z)
            if not det.drift_detected:
                continue
            up = det._sum_increase - det._min_increase  # River's own running statistics
            down = det._max_decrease - det._sum_decrease
            direction = 1 if up >= down else -1
            members = idx[elig & (cat == c)]
            agree = self.recent[members] * direction > cfg.category_agree
            found.append(CategoryDrift(c, direction, members[agree]))
        return found

    def mark(self, idx: np.ndarray, period: int) -> None:
        """Record an alert for ``idx`` and restart their detectors on the new regime."""
        self.last_alert[idx] = period
        self.recent[idx] = 0.0
        for i in np.asarray(idx).tolist():
            self.detectors[i] = self._new_detector()

    # River style, for one SKU addressed by name
    def learn_one(self, x: Mapping[str, Any], y: float | None = None) -> bool:
        """Feed one residual ``y`` for ``x["sku"]``; True when a drift is detected."""
        if y is None:
            raise ValueError("DriftMonitor.learn_one needs the residual y")
        sku = str(x["sku"])
        i = self.sku_index.setdefault(sku, len(self.sku_index))
        day = int(x.get("day", 0))
        hit = self.update_many(np.array([i]), np.array([float(y)]), day)
        if hit.size:
            self.mark(np.array([i]), day)
            return True
        return False

    def predict_one(self, x: Mapping[str, Any]) -> float:
        """Drift evidence for ``x["sku"]``: how close its detector is to firing (1.0 fires).

        Page-Hinkley: its larger cumulative deviation over the threshold; ADWIN: 1.0 if it
        fired on the last residual, else 0.0. An unseen SKU has no evidence (0.0).
        """
        i = self.sku_index.get(str(x["sku"]))
        if i is None or i >= len(self.detectors):
            return 0.0
        return self.evidence(np.array([i]))[0]

    def evidence(self, idx: np.ndarray) -> list[float]:
        """:meth:`predict_one` for SKU indices ``idx``."""
        out = []
        for i in np.asarray(idx).tolist():
            det = self.detectors[i]
            if det.drift_detected:
                out.append(1.0)
            elif self.config.detector == "page_hinkley":
                up = det._sum_increase - det._min_increase  # River's own running statistics
                down = det._max_decrease - det._sum_decrease
                out.append(max(up, down, 0.0) / self.config.ph_threshold)
            else:
                out.append(0.0)
        return out
