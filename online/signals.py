"""What the signal hub hands out: forecasts, drift alerts, anomaly flags, update reports.

All are frozen dataclasses of plain Python values (floats, ints, strings, lists), so tools
can put them in graph state or JSON as they are (``to_dict()``).
"""

from __future__ import annotations

import dataclasses
from collections import Counter

__all__ = ["AnomalyFlag", "DriftAlert", "Forecast", "Rejection", "UpdateReport"]


@dataclasses.dataclass(frozen=True)
class Forecast:
    """Demand forecast for one SKU over ``len(mean)`` periods from ``start_day``.

    ``lower`` / ``upper`` are the ``quantiles`` (default 10% and 90%) of each period's
    demand: a safety stock for a service level of 90% per period is ``upper - mean``.
    ``cold_start`` is True while the SKU has less than one season of history (the forecast
    leans on its category).
    """

    sku: str
    start_day: int
    mean: list[float]
    lower: list[float]
    upper: list[float]
    quantiles: tuple[float, float]
    history_periods: int
    cold_start: bool

    @property
    def horizon(self) -> int:
        """Number of periods covered."""
        return len(self.mean)

    def total(self) -> float:
        """Expected demand over the whole horizon."""
        return float(sum(self.mean))

    def to_dict(self) -> dict:
        """Plain-JSON form."""
        d = dataclasses.asdict(self)
        d["quantiles"] = list(self.quantiles)
        return d


@dataclasses.dataclass(frozen=True)
class DriftAlert:
    """Demand of ``sku`` changed: confirmed at the end of period ``day``.

    ``size`` is the relative change of the demand level (+0.8: up 80%, -0.5: halved),
    estimated as the recent level over the long-run reference.
    """

    sku: str
    day: int
    size: float
    category: str
    detector: str

    @property
    def direction(self) -> str:
        """``"up"`` or ``"down"``."""
        return "up" if self.size >= 0 else "down"

    def to_dict(self) -> dict:
        """Plain-JSON form."""
        return {**dataclasses.asdict(self), "direction": self.direction}


@dataclasses.dataclass(frozen=True)
class AnomalyFlag:
    """An order line flagged as suspicious (kept out of training, shown to a human).

    ``score`` is 1.0 at the flagging threshold and grows with the oddity; ``reason`` says
    which test fired and with what values. ``resolution`` is set by an
    :class:`~online.events.ApprovalDecision` naming the event: ``"approved"`` (genuine) or
    ``"rejected"``; None while nobody has looked.
    """

    event_id: str
    sku: str
    day: int
    score: float
    reason: str
    quantity: float
    resolution: str | None = None

    def to_dict(self) -> dict:
        """Plain-JSON form."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Rejection:
    """One event that was not applied: its position in the batch, id, field and why."""

    index: int
    event_id: str | None
    field: str
    reason: str

    def __str__(self) -> str:
        who = f"event {self.event_id!r}" if self.event_id else f"item {self.index}"
        return f"{who}: {self.field}: {self.reason}"


@dataclasses.dataclass
class UpdateReport:
    """What one ``SignalHub.update`` call did.

    Every input item is counted exactly once: ``accepted + duplicates + len(rejected)`` is
    the number of items given.
    """

    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = dataclasses.field(default_factory=list)
    closed_days: list[int] = dataclasses.field(default_factory=list)
    alerts: list[DriftAlert] = dataclasses.field(default_factory=list)
    anomalies: list[AnomalyFlag] = dataclasses.field(default_factory=list)

    @property
    def total(self) -> int:
        """Items given to the update."""
        return self.accepted + self.duplicates + len(self.rejected)

    def rejected_by_field(self) -> dict[str, int]:
        """Rejections counted by the field that was wrong."""
        return dict(Counter(r.field for r in self.rejected))

    def summary(self) -> str:
        """One line: counts, closed periods, new alerts and flags."""
        closed = (
            f", closed periods {self.closed_days[0]}..{self.closed_days[-1]}"
            if self.closed_days
            else ""
        )
        return (
            f"{self.accepted} accepted, {self.duplicates} duplicates, {len(self.rejected)} "
            f"rejected{closed}, {len(self.alerts)} drift alerts, {len(self.anomalies)} anomalies"
        )
