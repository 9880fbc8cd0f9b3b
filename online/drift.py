"""Drift detection on forecast residuals: one River detector per SKU.

The forecaster hands over, per SKU-period, the Pearson residual of the observation against
its slow reference forecast (``(y - ref) / sd``, roughly zero-mean and unit-variance while
nothing changes). Each SKU's residual stream feeds its own River detector (ADWIN by
default, or Page-Hinkley); when it fires, the hub raises a :class:`~online.signals.DriftAlert`
and tells the forecaster to adapt. A SKU is not checked during its first ``grace_periods``
periods (its reference is still forming), nor within ``cooldown_periods`` after an alert.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DriftConfig", "DriftMonitor"]


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


class DriftMonitor:
    """Per-SKU River drift detectors fed with standardised forecast residuals.

    >>> m = DriftMonitor(DriftConfig(grace_periods=0))
    >>> fired = [m.learn_one({"sku": "a", "day": t}, 0.0 if t < 60 else 3.0) for t in range(90)]
    >>> 60 <= fired.index(True) < 70
    True
    >>> m.predict_one({"sku": "a"}) < 1.0  # restarted on the new regime after the alert
    True
    """

    def __init__(self, config: DriftConfig | None = None) -> None:
        self.config = config or DriftConfig()
        self.detectors: list[Any] = []
        self.n_obs = np.zeros(0)
        self.last_alert = np.zeros(0, dtype=np.int64)
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

    def resize(self, n: int) -> None:
        """Make room for SKU indices ``0 .. n-1``."""
        have = len(self.detectors)
        if n <= have:
            return
        self.detectors.extend(self._new_detector() for _ in range(n - have))
        self.n_obs = np.concatenate([self.n_obs, np.zeros(n - have)])
        self.last_alert = np.concatenate(
            [self.last_alert, np.full(n - have, -(10**9), dtype=np.int64)]
        )

    def update_many(self, idx: np.ndarray, residual: np.ndarray, period: int) -> np.ndarray:
        """Feed one residual per SKU (NaN: skip); returns the positions in ``idx`` that fired."""
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
            self.n_obs[idx] += ~np.isnan(residual)
        if not fired:
            return np.zeros(0, dtype=np.int64)
        pos = np.array(fired, dtype=np.int64)
        i = idx[pos]
        ok = (self.n_obs[i] > cfg.grace_periods) & (
            period - self.last_alert[i] > cfg.cooldown_periods
        )
        return pos[ok]

    def mark(self, idx: np.ndarray, period: int) -> None:
        """Record an alert for ``idx`` and restart their detectors on the new regime."""
        self.last_alert[idx] = period
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
