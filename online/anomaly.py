"""Anomalous order lines: bulk-abnormal quantities, off-price lines, repeat-customer bursts.

Each order line gets a score per test, scaled so that **1.0 is the flagging threshold**;
the line's score is the largest, and its reason names that test:

* ``bulk``: the line's log quantity against the SKU's usual line size (an exponentially
  weighted mean and deviation of log quantities, shrunk to the category's while the SKU has
  few lines), ``z / z_threshold``, and only when the line is also ``bulk_factor`` times the
  day's expected demand (a festival day's big basket is not fraud);
* ``price``: the price paid against the price in force (list x (1 - discount)) when both
  are known, ``|log(paid / expected)| / log(price_tolerance)``;
* ``burst``: the same customer ordering the same SKU in more than ``burst_lines`` lines in
  one period, ``lines / burst_lines``.

Flagged lines are kept out of the demand models' training data (the hub counts them apart)
and listed for a human. Line-size statistics learn only from unflagged lines.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AnomalyConfig", "OrderAnomalyScorer"]

REASONS = ("ok", "bulk", "price", "burst")


class AnomalyConfig(BaseModel):
    """Settings of :class:`OrderAnomalyScorer`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    z_threshold: float = Field(default=4.0, gt=0, description="Robust z of log quantity to flag.")
    bulk_factor: float = Field(
        default=3.0, ge=1, description="A bulk line is also this many times the day's demand."
    )
    min_scale: float = Field(
        default=0.35, gt=0, description="Floor of the log-quantity deviation (avoids z blow-up)."
    )
    rate: float = Field(default=0.02, gt=0, le=1, description="Rate of the line-size statistics.")
    shrink_lines: float = Field(
        default=20.0, ge=0, description="Lines at which a SKU's own statistics get weight 1/2."
    )
    min_lines: int = Field(
        default=10, ge=1, description="Lines of history (SKU or category) before bulk checks."
    )
    price_tolerance: float = Field(
        default=2.0, gt=1, description="Paid/expected price ratio (or its inverse) that flags."
    )
    burst_lines: int = Field(default=5, ge=1, description="Lines per customer-SKU-day allowed.")


class OrderAnomalyScorer:
    """Scores order lines against per-SKU (and per-category) line-size statistics.

    >>> s = OrderAnomalyScorer()
    >>> for k in range(50):
    ...     s.learn_one({"sku": "mug", "quantity": 1 + k % 3})
    >>> s.predict_one({"sku": "mug", "quantity": 2}) < 1.0
    True
    >>> s.predict_one({"sku": "mug", "quantity": 400}) >= 1.0
    True
    """

    def __init__(self, config: AnomalyConfig | None = None) -> None:
        self.config = config or AnomalyConfig()
        self.n = np.zeros(0)
        self.mean = np.zeros(0)
        self.var = np.zeros(0)
        self.cat = np.zeros(0, dtype=np.int64)
        self.cat_n = np.zeros(0)
        self.cat_mean = np.zeros(0)
        self.cat_var = np.zeros(0)
        self.sku_index: dict[str, int] = {}
        self.category_index: dict[str, int] = {}

    def clone(self) -> Self:
        """A fresh scorer with the same configuration."""
        return type(self)(self.config)

    def resize(self, n: int, cat: np.ndarray, n_categories: int) -> None:
        """Make room for ``n`` SKUs whose categories are ``cat`` (length >= n)."""
        have = self.n.size
        if n > have:
            pad = n - have
            self.n = np.concatenate([self.n, np.zeros(pad)])
            self.mean = np.concatenate([self.mean, np.zeros(pad)])
            self.var = np.concatenate([self.var, np.zeros(pad)])
        self.cat = np.asarray(cat[:n], dtype=np.int64).copy()
        if n_categories > self.cat_n.size:
            pad = n_categories - self.cat_n.size
            self.cat_n = np.concatenate([self.cat_n, np.zeros(pad)])
            self.cat_mean = np.concatenate([self.cat_mean, np.zeros(pad)])
            self.cat_var = np.concatenate([self.cat_var, np.zeros(pad)])

    def _stats(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cfg = self.config
        c = self.cat[idx]
        n = self.n[idx]
        w = n / (n + cfg.shrink_lines) if cfg.shrink_lines > 0 else np.ones_like(n)
        cn = self.cat_n[c]
        w = np.where(cn > 0, w, 1.0)
        m = w * self.mean[idx] + (1 - w) * self.cat_mean[c]
        v = w * self.var[idx] + (1 - w) * self.cat_var[c]
        enough = (n >= cfg.min_lines) | (cn >= cfg.min_lines)
        return m, np.maximum(np.sqrt(np.maximum(v, 0.0)), cfg.min_scale), enough

    def score_many(
        self,
        idx: np.ndarray,
        quantity: np.ndarray,
        paid: np.ndarray,
        expected_price: np.ndarray,
        day_demand: np.ndarray,
        burst: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores and reason codes (indices into :data:`REASONS`) for order lines.

        ``paid`` / ``expected_price`` may be NaN (unknown), ``day_demand`` is the expected
        demand of the line's SKU on its day, ``burst`` the customer's line count so far.
        """
        cfg = self.config
        m, s, enough = self._stats(idx)
        logq = np.log(np.maximum(quantity, 1e-9))
        z = (logq - m) / s
        big = quantity >= cfg.bulk_factor * np.maximum(day_demand, 1.0)
        bulk = np.where(enough & big, np.maximum(z, 0.0) / cfg.z_threshold, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = paid / expected_price
            off = np.abs(np.log(np.maximum(ratio, 1e-6))) / math.log(cfg.price_tolerance)
        price = np.where(np.isfinite(off) & (expected_price > 0), off, 0.0)
        bursts = burst / cfg.burst_lines
        bursts = np.where(burst > cfg.burst_lines, bursts, 0.0)
        stack = np.vstack([np.zeros_like(bulk), bulk, price, bursts])
        reason = stack.argmax(axis=0)
        return stack.max(axis=0), reason

    def learn_many(self, idx: np.ndarray, quantity: np.ndarray) -> None:
        """Update line-size statistics with (unflagged) lines; ``idx`` may repeat."""
        if not idx.size:
            return
        logq = np.log(np.maximum(quantity, 1e-9))
        uniq, inv = np.unique(idx, return_inverse=True)
        self.learn_aggregates(
            uniq,
            np.bincount(inv).astype(float),
            np.bincount(inv, weights=logq),
            np.bincount(inv, weights=logq * logq),
        )

    def learn_aggregates(
        self, idx: np.ndarray, count: np.ndarray, sum_log: np.ndarray, sum_log2: np.ndarray
    ) -> None:
        """Fold in a period's lines per SKU, given as count, sum and sum of squares of log
        quantities (distinct ``idx``, ``count > 0``). Order-free: a period's result does not
        depend on how its lines were batched."""
        cfg = self.config
        n = self.n[idx]
        mean, var = _fold(self.mean[idx], self.var[idx], n, count, sum_log, sum_log2, cfg.rate)
        self.mean[idx], self.var[idx] = mean, var
        self.n[idx] = n + count
        C = self.cat_n.size
        c = self.cat[idx]
        ccount = np.bincount(c, weights=count, minlength=C)
        hit = np.flatnonzero(ccount > 0)
        s1 = np.bincount(c, weights=sum_log, minlength=C)[hit]
        s2 = np.bincount(c, weights=sum_log2, minlength=C)[hit]
        cn = self.cat_n[hit]
        cm, cv = _fold(self.cat_mean[hit], self.cat_var[hit], cn, ccount[hit], s1, s2, cfg.rate)
        self.cat_mean[hit], self.cat_var[hit] = cm, cv
        self.cat_n[hit] = cn + ccount[hit]

    # River style, addressed by SKU name
    def _ensure(self, x: Mapping[str, Any]) -> int:
        sku = str(x["sku"])
        i = self.sku_index.get(sku)
        if i is None:
            cname = str(x.get("category") or "_default")
            c = self.category_index.setdefault(cname, len(self.category_index))
            i = self.sku_index[sku] = len(self.sku_index)
            self.resize(i + 1, np.append(self.cat[:i], c), len(self.category_index))
        return i

    def learn_one(self, x: Mapping[str, Any], y: Any = None) -> None:
        """Learn one unflagged order line (``x["quantity"]``)."""
        i = self._ensure(x)
        self.learn_many(np.array([i]), np.array([float(x["quantity"])]))

    def predict_one(self, x: Mapping[str, Any]) -> float:
        """The line's anomaly score (1.0 is the threshold); does not learn."""
        score, _ = self.explain_one(x)
        return score

    def explain_one(self, x: Mapping[str, Any]) -> tuple[float, str]:
        """``(score, reason)`` of one order line; optional keys ``unit_price``,
        ``expected_price``, ``day_demand`` and ``customer_lines``."""
        i = self.sku_index.get(str(x["sku"]))
        if i is None:
            return 0.0, REASONS[0]
        nan = float("nan")
        score, reason = self.score_many(
            np.array([i]),
            np.array([float(x["quantity"])]),
            np.array([float(x.get("unit_price") if x.get("unit_price") is not None else nan)]),
            np.array(
                [float(x.get("expected_price") if x.get("expected_price") is not None else nan)]
            ),
            np.array([float(x.get("day_demand") or 0.0)]),
            np.array([float(x.get("customer_lines") or 0.0)]),
        )
        return float(score[0]), REASONS[int(reason[0])]


def _fold(m, v, n, count, s1, s2, rate):
    """Exponentially weighted mean/variance update with a batch's moments."""
    bm = s1 / count
    r = np.minimum(np.maximum(rate, 1.0 / (n + 1.0)) * count, 1.0)
    nm = m + r * (bm - m)
    batch_v = s2 / count - 2 * bm * nm + nm * nm
    nv = (1 - r) * (v + (m - nm) ** 2) + r * batch_v
    return nm, nv
