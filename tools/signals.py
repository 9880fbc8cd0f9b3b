"""Demand signals for the agent: forecasts with bands, drift alerts, anomalies.

Two sources behind one small interface (:class:`Signals`):

* :class:`HubSignals` wraps :class:`online.hub.SignalHub` (the online models): it learns each
  closed day from the simulator's events and answers with forecast bands, drift alerts and
  anomaly flags. Used whenever the ``online`` package is importable.
* :class:`EmaSignals` is the fallback without online models: the forecast is the view's
  sales averages (``(ema7 + ema28) / 2`` per day) with a Poisson-like band
  ``mean +/- 1.28 sqrt(mean)`` over the horizon; no alerts, no anomalies.

Both return a :class:`SignalSnapshot` of numpy vectors over the shop's SKUs (the sense node
stores it in the store and the graph state refers to it by key).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import numpy as np

from envs.simulator import DayResult, MarketSimulator, ShopView

__all__ = ["EmaSignals", "HubSignals", "SignalSnapshot", "Signals", "make_signals"]


@dataclasses.dataclass
class SignalSnapshot:
    """What the signals say this morning, per SKU (position in the shop's catalogue).

    ``mean_daily`` is the expected demand per day over the horizon; ``lower`` / ``upper``
    bound the total demand over ``horizon`` days (10% / 90% quantiles). ``drift`` is the
    relative size of the latest drift alert per SKU (0 where none); ``anomaly`` the highest
    unresolved anomaly score per SKU (0 where none).
    """

    source: str
    horizon: int
    mean_daily: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    drift: np.ndarray
    anomaly: np.ndarray
    alerts: list[dict[str, Any]]
    anomalies: list[dict[str, Any]]


class Signals(Protocol):
    """A source of forecasts and alerts that learns from closed days and feedback."""

    name: str

    def snapshot(self, view: ShopView, horizon: int) -> SignalSnapshot:
        """Forecast bands and alerts for the morning of ``view``."""
        ...

    def observe_day(self, result: DayResult, sim: MarketSimulator) -> int:
        """Learn a closed day (called right after the day is simulated); events applied."""
        ...

    def observe_feedback(self, decisions: Iterable[Mapping[str, Any]]) -> int:
        """Learn from approval decisions (``action_id``, ``sku``, ``day``, ``approved``)."""
        ...

    def to_bytes(self) -> bytes:
        """Serialised state (for the store)."""
        ...


def _ema_bands(view: ShopView, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mu = 0.5 * (np.asarray(view.sales_ema7) + np.asarray(view.sales_ema28))
    total = mu * horizon
    sd = np.sqrt(np.maximum(total, 0.0))
    return mu, np.maximum(total - 1.28 * sd, 0.0), total + 1.28 * sd


class EmaSignals:
    """The fallback: bands from the view's sales averages; learns nothing."""

    name = "ema"

    def snapshot(self, view: ShopView, horizon: int) -> SignalSnapshot:
        n = len(view.sku_ids)
        mu, lo, hi = _ema_bands(view, horizon)
        return SignalSnapshot("ema", horizon, mu, lo, hi, np.zeros(n), np.zeros(n), [], [])

    def observe_day(self, result: DayResult, sim: MarketSimulator) -> int:
        return 0

    def observe_feedback(self, decisions: Iterable[Mapping[str, Any]]) -> int:
        return 0

    def to_bytes(self) -> bytes:
        return b""


class HubSignals:
    """The online models (:class:`online.hub.SignalHub`) for a simulated shop.

    Args:
        sim: the simulator (its catalogue is registered with the hub, festivals declared).
        prefix: prepended to event ids (keeps runs apart if hubs are ever merged).
        hub: an existing hub (restored from the store); default: a fresh one.
    """

    name = "hub"

    def __init__(self, sim: MarketSimulator, prefix: str = "", hub: Any = None) -> None:
        from online.hub import SignalHub
        from online.sim_source import festivals_from_sim, register_from_sim

        if hub is None:
            hub = SignalHub({"festivals": festivals_from_sim(sim)})
            register_from_sim(hub, sim)
        self.hub = hub
        self.prefix = prefix
        self._prev_discount: np.ndarray | None = None
        pos = {s: i for i, s in enumerate(hub.sku_ids)}
        self._order = np.array([pos[s] for s in sim.sku_ids], dtype=np.int64)
        self._sku_pos = {s: i for i, s in enumerate(sim.sku_ids)}

    def snapshot(self, view: ShopView, horizon: int) -> SignalSnapshot:
        n = len(view.sku_ids)
        if self.hub.open_day is None:  # nothing learnt yet: the averages are better
            mu, lo, hi = _ema_bands(view, horizon)
        else:
            fc = self.hub.forecast_all(horizon, start_day=int(view.day))
            mean = np.asarray(fc["mean"])[self._order]
            mu = mean.mean(axis=1)
            lo = np.asarray(fc["lower"])[self._order].sum(axis=1)
            hi = np.asarray(fc["upper"])[self._order].sum(axis=1)
        drift = np.zeros(n)
        alerts = [a.to_dict() for a in self.hub.alerts(since_day=max(0, view.day - 14))]
        for a in alerts:
            i = self._sku_pos.get(a["sku"])
            if i is not None:
                drift[i] = abs(float(a["size"]))
        anomaly = np.zeros(n)
        flags = [
            f.to_dict() for f in self.hub.anomalies(since_day=max(0, view.day - 7), unresolved=True)
        ]
        for f in flags:
            i = self._sku_pos.get(f["sku"])
            if i is not None:
                anomaly[i] = max(anomaly[i], float(f["score"]))
        return SignalSnapshot("hub", horizon, mu, lo, hi, drift, anomaly, alerts, flags)

    def observe_day(self, result: DayResult, sim: MarketSimulator) -> int:
        from online.sim_source import events_from_day

        events = events_from_day(result, sim, prev_discount=self._prev_discount, prefix=self.prefix)
        self._prev_discount = np.asarray(result.discount).copy()
        report = self.hub.update(events, close_through=int(result.day))
        return int(report.accepted)

    def observe_feedback(self, decisions: Iterable[Mapping[str, Any]]) -> int:
        from online.events import ApprovalDecision

        events = [
            ApprovalDecision(
                event_id=f"{self.prefix}approval:{d['action_id']}",
                sku=str(d["sku"]),
                day=int(d["day"]),
                subject_id=f"action:{d['action_id']}",
                approved=bool(d["approved"]),
                reviewer=d.get("by"),
                note=d.get("reason"),
            )
            for d in decisions
        ]
        if not events:
            return 0
        open_day = self.hub.open_day
        events = [e for e in events if open_day is None or e.day >= open_day]
        return int(self.hub.update(events).accepted) if events else 0

    def to_bytes(self) -> bytes:
        import pickle

        return pickle.dumps({"hub": self.hub.to_bytes(), "prev": self._prev_discount})

    @classmethod
    def from_bytes(cls, data: bytes, sim: MarketSimulator, prefix: str = "") -> HubSignals:
        import pickle

        from online.hub import SignalHub

        d = pickle.loads(data)
        out = cls(sim, prefix, hub=SignalHub.from_bytes(d["hub"], "store"))
        out._prev_discount = d["prev"]
        return out


def make_signals(
    kind: str, sim: MarketSimulator, prefix: str = "", state: bytes | None = None
) -> Signals:
    """``"hub"`` (online models), ``"ema"`` (fallback) or ``"auto"`` (hub when importable).

    ``state`` restores a previous :meth:`Signals.to_bytes` (ignored for ``ema``).
    """
    if kind == "ema":
        return EmaSignals()
    if kind == "auto":
        try:
            import online.hub
            import online.sim_source  # noqa: F401
        except ImportError:
            return EmaSignals()
        kind = "hub"
    if kind != "hub":
        from tools.errors import ToolInputError

        raise ToolInputError(f"signals: unknown source {kind!r}; use 'auto', 'hub' or 'ema'")
    if state:
        return HubSignals.from_bytes(state, sim, prefix)
    return HubSignals(sim, prefix)
