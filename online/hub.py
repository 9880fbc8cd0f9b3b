"""The signal hub: every online model of one shop behind ``update`` and a few queries.

Life of an event batch (:meth:`SignalHub.update`):

1. **validate**: mappings are parsed into typed events; a malformed item becomes a
   :class:`~online.signals.Rejection` naming its field, and nothing of it is applied;
2. **deduplicate**: an ``event_id`` already applied (in this batch or within the last
   ``dedup_periods`` periods) counts as a duplicate and is skipped, so replaying a batch
   after a crash never double-counts;
3. **order**: events are applied in period order. The hub has one *open* period, the
   first one not yet closed; an event of a later period first *closes* the open period
   (and any empty ones in between). An event of a closed period is rejected as late;
4. **apply**: order lines are scored for anomalies (flagged lines are kept out of the
   demand target) and added to the period's demand; stock counts, prices, promotions,
   receipts and approvals update the SKU's state;
5. **close** (per period, all SKUs at once): the forecaster learns the period's demand
   (zero for SKUs without sales; a period ending with zero stock is censored), the drift
   detectors get the residuals (per SKU, then pooled per category), drifted SKUs adapt,
   line-size statistics learn.

``update(events, close_through=d)`` also closes periods up to ``d`` (an end-of-day job
calls it so that tomorrow's forecast has learnt today). Queries: :meth:`forecast`,
:meth:`forecast_all`, :meth:`alerts`, :meth:`anomalies`. Checkpoints: :meth:`save` /
:meth:`load` (atomic, exact: the restored hub gives identical answers).

A crash mid-batch: the in-memory hub is lost, the last checkpoint is restored and the
event log replayed from it; already-applied ids are skipped as duplicates.
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Iterable, Mapping, Sequence
from operator import attrgetter
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from envs.config_files import validation_problem
from online.anomaly import REASONS, AnomalyConfig, OrderAnomalyScorer
from online.drift import DriftConfig, DriftMonitor
from online.errors import CheckpointError, EventError, HubConfigError, UnknownSkuError
from online.events import (
    ApprovalDecision,
    Event,
    PriceChange,
    PromotionChange,
    Receipt,
    SaleEvent,
    StockCount,
    parse_event,
)
from online.features import N_FEATURES, FestivalCalendar, FestivalWindow
from online.forecaster import DemandForecaster, ForecasterConfig, nb_quantiles
from online.signals import AnomalyFlag, DriftAlert, Forecast, Rejection, UpdateReport

__all__ = ["HubConfig", "SignalHub"]

_FORMAT = "shopops-signalhub"
_VERSION = 2  # 2: the drift monitor pools residuals per category
_BY_DAY = attrgetter("day")
_FAR = 10**9


class HubConfig(BaseModel):
    """Settings of a :class:`SignalHub` (the models' own settings are nested)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    forecaster: ForecasterConfig = ForecasterConfig()
    drift: DriftConfig = DriftConfig()
    anomaly: AnomalyConfig = AnomalyConfig()
    quantiles: tuple[float, float] = Field(
        default=(0.1, 0.9), description="Lower and upper demand quantiles of forecasts."
    )
    dedup_periods: int = Field(
        default=14,
        ge=1,
        description="Periods of event ids remembered to recognise replays (memory grows with it).",
    )
    strict_skus: bool = Field(
        default=False, description="Reject events of SKUs not registered with register_skus."
    )
    exclude_flagged: bool = Field(
        default=True, description="Keep flagged order lines out of the demand target."
    )
    reference_price_rate: float = Field(
        default=0.02, gt=0, le=1, description="Rate of the list-price reference (price ratio)."
    )
    max_records: int = Field(
        default=100_000, ge=1, description="Alerts and anomaly flags kept (oldest dropped)."
    )
    festivals: tuple[FestivalWindow, ...] = Field(
        default=(), description="Known surge periods (festival features)."
    )

    @field_validator("quantiles")
    @classmethod
    def _q(cls, v: tuple[float, float]) -> tuple[float, float]:
        lo, hi = v
        if not 0 < lo < hi < 1:
            raise ValueError(f"quantiles must satisfy 0 < lower < upper < 1; got {v}")
        return v


def _config(config: HubConfig | Mapping[str, Any] | None) -> HubConfig:
    if config is None:
        return HubConfig()
    if isinstance(config, HubConfig):
        return config
    try:
        return HubConfig.model_validate(config)
    except ValidationError as exc:
        field, msg = validation_problem(exc)
        raise HubConfigError(f"hub config: {field}: {msg}") from None


_HUB_FLOAT = (
    "acc",
    "flagged_units",
    "stock_end",
    "list_price",
    "ref_price",
    "disc",
    "received",
    "line_n",
    "line_s1",
    "line_s2",
)
_HUB_INT = ("promo_start", "promo_until", "feature", "display")


class SignalHub:
    """All online models of one shop (see the module docstring for the event life cycle).

    Args:
        config: a :class:`HubConfig` or a mapping of its fields.

    >>> from online.events import SaleEvent
    >>> hub = SignalHub()
    >>> r = hub.update([SaleEvent(event_id=f"s{d}", sku="tea", day=d, quantity=5)
    ...                 for d in range(30)], close_through=29)
    >>> r.accepted, r.duplicates, len(r.rejected), r.closed_days[-1]
    (30, 0, 0, 29)
    >>> hub.forecast("tea", 2).mean
    [5.0, 5.0]
    >>> hub.update([SaleEvent(event_id="s29", sku="tea", day=29, quantity=5)]).duplicates
    1
    """

    def __init__(self, config: HubConfig | Mapping[str, Any] | None = None) -> None:
        self.config = _config(config)
        self.forecaster = DemandForecaster(self.config.forecaster)
        self.drift = DriftMonitor(self.config.drift)
        self.anomaly = OrderAnomalyScorer(self.config.anomaly)
        self.calendar = FestivalCalendar(self.config.festivals)
        self.open_day: int | None = None
        self._cap = 0
        for name in _HUB_FLOAT:
            setattr(self, name, np.zeros(0))
        for name in _HUB_INT:
            setattr(self, name, np.zeros(0, dtype=np.int64))
        self._seen: dict[str, int] = {}
        self._seen_by_day: dict[int, list[str]] = {}
        self._bursts: dict[tuple[int, str], int] = {}
        self._alerts: list[DriftAlert] = []
        self._flags: list[AnomalyFlag] = []
        self._flag_pos: dict[str, int] = {}
        self.approvals: dict[str, bool] = {}
        self.totals = {"accepted": 0, "duplicates": 0, "rejected": 0, "flagged_lines": 0}

    # ------------------------------------------------------------------ SKUs
    @property
    def n_skus(self) -> int:
        """SKUs known to the hub."""
        return self.forecaster.n_skus

    @property
    def sku_ids(self) -> list[str]:
        """SKU ids in index order."""
        return list(self.forecaster.sku_ids)

    def register_skus(
        self,
        skus: Sequence[str],
        categories: Sequence[str | None] | None = None,
        list_prices: Sequence[float | None] | None = None,
    ) -> int:
        """Declare SKUs (with categories and list prices) before their first event.

        A registered SKU counts zero demand for every closed period without sales, from
        the first period closed after registration. Known SKUs are skipped. Returns the
        number of new SKUs.
        """
        cats = list(categories) if categories is not None else [None] * len(skus)
        prices = list(list_prices) if list_prices is not None else [None] * len(skus)
        if len(cats) != len(skus) or len(prices) != len(skus):
            raise HubConfigError(
                f"register_skus: got {len(skus)} skus, {len(cats)} categories and "
                f"{len(prices)} list prices; give one of each per SKU"
            )
        new, new_cats, new_prices, fresh = [], [], [], set()
        for s, c, p in zip(skus, cats, prices, strict=True):
            if not isinstance(s, str) or not s:
                raise HubConfigError(f"register_skus: SKU ids are non-empty strings; got {s!r}")
            if s in self.forecaster.sku_index or s in fresh:
                continue
            if p is not None and not (np.isfinite(p) and p > 0):
                raise HubConfigError(f"register_skus: list price of {s!r} must be > 0; got {p}")
            fresh.add(s)
            new.append(s)
            new_cats.append(c)
            new_prices.append(np.nan if p is None else float(p))
        if new:
            idx = self._add(new, new_cats)
            self.list_price[idx] = new_prices
            self.ref_price[idx] = new_prices
        return len(new)

    def _add(self, skus: list[str], cats: list[str | None]) -> np.ndarray:
        idx = self.forecaster.add_skus(skus, cats)
        need = self.forecaster.n_skus
        if need > self._cap:
            cap = max(need, 2 * self._cap, 64)
            for name in _HUB_FLOAT:
                fill = np.nan if name in ("stock_end", "list_price", "ref_price") else 0.0
                old = getattr(self, name)
                new = np.full(cap, fill)
                new[: old.size] = old
                setattr(self, name, new)
            for name in _HUB_INT:
                old = getattr(self, name)
                fill = -1 if name == "promo_until" else 0
                new = np.full(cap, fill, dtype=np.int64)
                new[: old.size] = old
                setattr(self, name, new)
            self._cap = cap
        fc = self.forecaster
        self.drift.resize(need, fc.cat[:need])
        self.anomaly.resize(need, fc.cat, len(fc.categories))
        return idx

    def _index(self, sku: str) -> int:
        i = self.forecaster.sku_index.get(sku)
        if i is None:
            raise UnknownSkuError(sku)
        return i

    # ------------------------------------------------------------------ update
    def update(
        self, events: Iterable[Event | Mapping[str, Any]], close_through: int | None = None
    ) -> UpdateReport:
        """Validate, deduplicate and apply a batch of events (see the module docstring).

        Args:
            events: typed events or plain mappings (``kind`` selects the type).
            close_through: also close every period up to and including this one.
        """
        report = UpdateReport()
        good: list[Event] = []
        batch_ids: set[str] = set()
        seen = self._seen
        open_day = self.open_day
        strict = self.config.strict_skus
        known = self.forecaster.sku_index
        for k, item in enumerate(events):
            if isinstance(
                item,
                SaleEvent | StockCount | PromotionChange | PriceChange | Receipt | ApprovalDecision,
            ):
                ev = item
            else:
                try:
                    ev = parse_event(item)  # type: ignore[arg-type]
                except EventError as exc:
                    report.rejected.append(Rejection(k, exc.event_id, exc.field, exc.problem))
                    continue
            eid = ev.event_id
            if eid in batch_ids or eid in seen:
                report.duplicates += 1
                continue
            if open_day is not None and ev.day < open_day:
                report.rejected.append(
                    Rejection(
                        k,
                        eid,
                        "day",
                        f"period {ev.day} is already closed (the hub is at period {open_day}); "
                        f"late events cannot be applied (replays older than "
                        f"{self.config.dedup_periods} periods are not recognised either)",
                    )
                )
                continue
            if strict and ev.sku not in known:
                report.rejected.append(
                    Rejection(
                        k,
                        eid,
                        "sku",
                        f"unknown SKU {ev.sku!r} and strict_skus is on; register it first",
                    )
                )
                continue
            batch_ids.add(eid)
            good.append(ev)
        report.accepted = len(good)
        if good:
            good.sort(key=_BY_DAY)
            start = 0
            while start < len(good):
                day = good[start].day
                end = start
                while end < len(good) and good[end].day == day:
                    end += 1
                self._advance_to(day, report)
                self._apply(good[start:end], day, report)
                start = end
        if close_through is not None:
            if self.open_day is None:
                self.open_day = int(close_through)
            if close_through >= self.open_day:
                self._advance_to(int(close_through) + 1, report)
        self.totals["accepted"] += report.accepted
        self.totals["duplicates"] += report.duplicates
        self.totals["rejected"] += len(report.rejected)
        return report

    def _advance_to(self, day: int, report: UpdateReport) -> None:
        if self.open_day is None:
            self.open_day = day
            return
        while self.open_day < day:
            self._close(self.open_day)
            report.closed_days.append(self.open_day)
            self.open_day += 1

    def _apply(self, events: list[Event], day: int, report: UpdateReport) -> None:
        fc = self.forecaster
        index = fc.sku_index
        new: dict[str, str | None] = {}
        for ev in events:
            if ev.sku not in index and ev.sku not in new:
                new[ev.sku] = ev.category
        if new:
            self._add(list(new), list(new.values()))
        seen, ids = self._seen, self._seen_by_day.setdefault(day, [])
        sales: list[SaleEvent] = []
        for ev in events:
            seen[ev.event_id] = day
            ids.append(ev.event_id)
            kind = ev.kind
            if kind == "sale":
                sales.append(ev)  # type: ignore[arg-type]
                continue
            i = index[ev.sku]
            if kind == "stock_count":
                self.stock_end[i] = ev.on_hand  # type: ignore[union-attr]
            elif kind == "promotion":
                self.disc[i] = ev.discount  # type: ignore[union-attr]
                self.feature[i] = ev.feature  # type: ignore[union-attr]
                self.display[i] = ev.display  # type: ignore[union-attr]
                self.promo_start[i] = day
                dur = ev.duration_days  # type: ignore[union-attr]
                self.promo_until[i] = _FAR if dur is None else day + dur - 1
            elif kind == "price_change":
                self.list_price[i] = ev.list_price  # type: ignore[union-attr]
                if np.isnan(self.ref_price[i]):
                    self.ref_price[i] = ev.list_price  # type: ignore[union-attr]
            elif kind == "receipt":
                self.received[i] += ev.quantity  # type: ignore[union-attr]
            else:  # approval
                self._approve(ev)  # type: ignore[arg-type]
        if sales:
            self._apply_sales(sales, day, report)

    def _approve(self, ev: ApprovalDecision) -> None:
        self.approvals[ev.subject_id] = ev.approved
        pos = self._flag_pos.get(ev.subject_id)
        if pos is not None:
            import dataclasses

            old = self._flags[pos]
            self._flags[pos] = dataclasses.replace(
                old, resolution="approved" if ev.approved else "rejected"
            )

    def _apply_sales(self, sales: list[SaleEvent], day: int, report: UpdateReport) -> None:
        index = self.forecaster.sku_index
        idx = np.fromiter((index[e.sku] for e in sales), dtype=np.int64, count=len(sales))
        qty = np.fromiter((e.quantity for e in sales), dtype=float, count=len(sales))
        paid = np.fromiter(
            (np.nan if e.unit_price is None else e.unit_price for e in sales),
            dtype=float,
            count=len(sales),
        )
        bursts = np.zeros(len(sales))
        b = self._bursts
        for k, e in enumerate(sales):
            if e.customer_id is not None:
                key = (int(idx[k]), e.customer_id)
                b[key] = n = b.get(key, 0) + 1
                bursts[k] = n
        disc = self._discount_on(idx, day)
        expected = self.list_price[idx] * (1.0 - disc)
        uniq, inv = np.unique(idx, return_inverse=True)
        X = self._features(uniq, day)
        pos = np.full(uniq.size, self.forecaster.season_pos(day))
        day_mean = self.forecaster.predict_many(uniq, X, pos)[inv]
        score, reason = self.anomaly.score_many(idx, qty, paid, expected, day_mean, bursts)
        flagged = score >= 1.0
        keep = ~flagged if self.config.exclude_flagged else np.ones(len(sales), dtype=bool)
        if flagged.any():
            for k in np.flatnonzero(flagged).tolist():
                e = sales[k]
                why = _reason_text(
                    REASONS[int(reason[k])], e, float(expected[k]), float(day_mean[k]), bursts[k]
                )
                flag = AnomalyFlag(
                    e.event_id, e.sku, day, round(float(score[k]), 3), why, float(qty[k])
                )
                self._record_flag(flag)
                report.anomalies.append(flag)
            np.add.at(self.flagged_units, idx[flagged], qty[flagged])
            self.totals["flagged_lines"] += int(flagged.sum())
        ik, qk = idx[keep], qty[keep]
        np.add.at(self.acc, ik, qk)
        clean = ~flagged
        if clean.any():
            lq = np.log(np.maximum(qty[clean], 1e-9))
            ic = idx[clean]
            np.add.at(self.line_n, ic, 1.0)
            np.add.at(self.line_s1, ic, lq)
            np.add.at(self.line_s2, ic, lq * lq)

    def _record_flag(self, flag: AnomalyFlag) -> None:
        self._flags.append(flag)
        self._flag_pos[flag.event_id] = len(self._flags) - 1
        cap = self.config.max_records
        if len(self._flags) > cap:
            drop = len(self._flags) - cap
            self._flags = self._flags[drop:]
            self._flag_pos = {f.event_id: k for k, f in enumerate(self._flags)}

    # ------------------------------------------------------------------ features
    def _discount_on(self, idx: np.ndarray, day: int) -> np.ndarray:
        on = (self.promo_start[idx] <= day) & (day <= self.promo_until[idx])
        return np.where(on, self.disc[idx], 0.0)

    def _features(self, idx: np.ndarray, day: int) -> np.ndarray:
        X = np.zeros((idx.size, N_FEATURES))
        on = (self.promo_start[idx] <= day) & (day <= self.promo_until[idx])
        d = np.where(on, self.disc[idx], 0.0)
        X[:, 0] = np.log1p(-np.minimum(d, 0.99))
        X[:, 1] = d > 0
        X[:, 2] = np.where(on, self.feature[idx], 0)
        X[:, 3] = np.where(on, self.display[idx], 0)
        if self.calendar.windows:
            fest = self.calendar.matrix(self.forecaster.categories, day)
            X[:, 4:7] = fest[self.forecaster.cat[idx]]
        lp, rp = self.list_price[idx], self.ref_price[idx]
        ok = (lp > 0) & (rp > 0)
        X[:, 7] = np.where(ok, np.log(np.where(ok, lp / np.where(ok, rp, 1.0), 1.0)), 0.0)
        return X

    # ------------------------------------------------------------------ close
    def _close(self, day: int) -> None:
        fc = self.forecaster
        n = fc.n_skus
        if n:
            idx = np.arange(n)
            y = self.acc[:n].copy()
            censored = self.stock_end[:n] == 0
            X = self._features(idx, day)
            pos = np.full(n, fc.season_pos(day))
            out = fc.learn_many(idx, y, X, pos, censored, day)
            residual = out["residual"]
            if self.calendar.windows:  # a known festival is not a drift
                residual = np.where(X[:, 4:7].any(axis=1), np.nan, residual)
            fired = self.drift.update_many(idx, residual, day)
            if fired.size:
                self._raise_alerts(idx[fired], 0, day, self.config.drift.detector)
            for found in self.drift.update_categories(idx, residual, day):
                self._raise_alerts(found.skus, found.direction, day, "category")
            lines = np.flatnonzero(self.line_n[:n] > 0)
            if lines.size:
                self.anomaly.learn_aggregates(
                    lines, self.line_n[lines], self.line_s1[lines], self.line_s2[lines]
                )
            known = self.list_price[:n] > 0
            rate = self.config.reference_price_rate
            self.ref_price[:n] = np.where(
                known,
                self.ref_price[:n] + rate * (self.list_price[:n] - self.ref_price[:n]),
                self.ref_price[:n],
            )
            for name in ("acc", "flagged_units", "line_n", "line_s1", "line_s2"):
                getattr(self, name)[:n] = 0.0
            self.stock_end[:n] = np.nan
        self._bursts.clear()
        old = day + 1 - self.config.dedup_periods
        for d in [d for d in self._seen_by_day if d < old]:
            for eid in self._seen_by_day.pop(d):
                self._seen.pop(eid, None)

    def _raise_alerts(self, hit: np.ndarray, direction: int, day: int, detector: str) -> None:
        """Alert on SKUs ``hit`` whose own change size is big enough, adapt them.

        ``direction`` (+1 / -1, 0: any) is the side a category detector saw; a SKU whose
        own estimated size lies on the other side is not alerted.
        """
        if not hit.size:
            return
        fc = self.forecaster
        size = fc.change_size(hit)
        big = np.abs(size) >= self.config.drift.min_size
        if direction:
            big &= np.sign(size) == direction
        hit, size = hit[big], size[big]
        if not hit.size:
            return
        for i, s in zip(hit.tolist(), size.tolist(), strict=True):
            self._alerts.append(
                DriftAlert(fc.sku_ids[i], day, round(s, 4), fc.categories[fc.cat[i]], detector)
            )
        fc.adapt(hit, day)
        self.drift.mark(hit, day)
        if len(self._alerts) > self.config.max_records:
            self._alerts = self._alerts[-self.config.max_records :]

    # ------------------------------------------------------------------ queries
    @property
    def next_day(self) -> int:
        """The first period not yet closed (where forecasts start)."""
        return 0 if self.open_day is None else self.open_day

    def forecast(self, sku: str, horizon: int, start_day: int | None = None) -> Forecast:
        """Demand forecast for ``sku`` over ``horizon`` periods from ``start_day``.

        ``start_day`` defaults to the first period not yet closed. Future periods use the
        promotion and list price in force and the festival calendar.

        Raises:
            UnknownSkuError: the hub has never seen ``sku``.
            HubConfigError: ``horizon`` is not in 1..3650 or ``start_day`` is negative.
        """
        if not isinstance(horizon, int) or not 1 <= horizon <= 3650:
            raise HubConfigError(f"forecast horizon must be an integer in 1..3650; got {horizon!r}")
        i = self._index(sku)
        start = self.next_day if start_day is None else int(start_day)
        if start < 0:
            raise HubConfigError(f"forecast start_day must be >= 0; got {start}")
        mean, lo, hi = self._forecast_rows(np.array([i]), start, horizon)
        fc = self.forecaster
        n_obs = int(fc.n_obs[i])
        return Forecast(
            sku=sku,
            start_day=start,
            mean=[round(float(v), 6) for v in mean[0]],
            lower=[float(v) for v in lo[0]],
            upper=[float(v) for v in hi[0]],
            quantiles=self.config.quantiles,
            history_periods=n_obs,
            cold_start=n_obs < fc.config.season_length,
        )

    def forecast_all(self, horizon: int, start_day: int | None = None) -> dict[str, Any]:
        """Forecasts for every SKU at once: ``{"sku_ids", "start_day", "mean", "lower",
        "upper"}`` with arrays of shape ``(n_skus, horizon)`` (for policies and tools)."""
        if not isinstance(horizon, int) or not 1 <= horizon <= 3650:
            raise HubConfigError(f"forecast horizon must be an integer in 1..3650; got {horizon!r}")
        start = self.next_day if start_day is None else int(start_day)
        idx = np.arange(self.n_skus)
        mean, lo, hi = self._forecast_rows(idx, start, horizon)
        return {"sku_ids": self.sku_ids, "start_day": start, "mean": mean, "lower": lo, "upper": hi}

    def _forecast_rows(
        self, idx: np.ndarray, start: int, horizon: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        fc = self.forecaster
        mean = np.zeros((idx.size, horizon))
        for h in range(horizon):
            day = start + h
            X = self._features(idx, day)
            pos = np.full(idx.size, fc.season_pos(day))
            mean[:, h] = fc.predict_many(idx, X, pos)
        phi = np.repeat(fc.dispersion(idx)[:, None], horizon, axis=1) if idx.size else mean
        lo = nb_quantiles(mean, phi, self.config.quantiles[0])
        hi = nb_quantiles(mean, phi, self.config.quantiles[1])
        return mean, lo, hi

    def alerts(self, since_day: int | None = None) -> list[DriftAlert]:
        """Drift alerts, oldest first (those confirmed on or after ``since_day``)."""
        if since_day is None:
            return list(self._alerts)
        return [a for a in self._alerts if a.day >= since_day]

    def anomalies(
        self, since_day: int | None = None, unresolved: bool = False
    ) -> list[AnomalyFlag]:
        """Flagged order lines, oldest first; ``unresolved`` keeps those nobody decided."""
        out = self._flags if since_day is None else [f for f in self._flags if f.day >= since_day]
        return [f for f in out if f.resolution is None] if unresolved else list(out)

    # ------------------------------------------------------------------ checkpoints
    def to_bytes(self) -> bytes:
        """The whole hub as bytes (a versioned pickle): for the store or a file."""
        buf = io.BytesIO()
        pickle.dump({"format": _FORMAT, "version": _VERSION, "hub": self}, buf, protocol=5)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "<bytes>") -> SignalHub:
        """Restore a hub from :meth:`to_bytes` output (only from sources you trust: pickle).

        Raises:
            CheckpointError: not a hub checkpoint, truncated, or of another version.
        """
        try:
            obj = pickle.loads(data)
        except Exception as exc:
            raise CheckpointError(f"{source}: not a readable hub checkpoint ({exc})") from None
        if not isinstance(obj, dict) or obj.get("format") != _FORMAT:
            raise CheckpointError(f"{source}: not a ShopOps signal-hub checkpoint")
        if obj.get("version") != _VERSION:
            raise CheckpointError(
                f"{source}: checkpoint version {obj.get('version')} is not supported "
                f"(this ShopOps reads version {_VERSION}); rebuild the hub from events"
            )
        hub = obj["hub"]
        if not isinstance(hub, cls):
            raise CheckpointError(f"{source}: checkpoint holds a {type(hub).__name__}")
        return hub

    def save(self, path: str | Path) -> Path:
        """Write a checkpoint atomically (temporary file, fsync, rename); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        data = self.to_bytes()
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> SignalHub:
        """Restore a hub saved with :meth:`save`.

        Raises:
            CheckpointError: the file is missing or not a valid checkpoint.
        """
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CheckpointError(f"{path}: cannot read checkpoint ({exc.strerror})") from None
        return cls.from_bytes(data, str(path))

    def memory_bytes(self) -> int:
        """Approximate size of the hub's state (its checkpoint size in bytes)."""
        return len(self.to_bytes())


def _reason_text(code: str, e: SaleEvent, expected: float, day_mean: float, burst: float) -> str:
    if code == "bulk":
        return (
            f"bulk: {e.quantity:g} units in one line, expected about {day_mean:.1f} "
            "for the whole day"
        )
    if code == "price":
        return f"price: paid {e.unit_price:g} per unit, price in force {expected:.2f}"
    if code == "burst":
        return f"burst: customer {e.customer_id!r} placed {int(burst)} lines today"
    return "ok"
