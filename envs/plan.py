"""The action a person recognises: a :class:`Plan` of restock orders, promotions and holds.

A plan is the human- and agent-facing action. The simulator consumes its vector form,
:class:`PlanArrays`; the Gymnasium action space of :class:`~envs.marketplace.MarketplaceEnv`
is a third, discretised encoding of the same thing.

Semantics, per SKU and day:

* a :class:`RestockOrder` of ``quantity`` units is sent to the SKU's supplier today; the
  supplier rounds it up to its minimum order quantity, and it arrives after the lead time;
* a :class:`Promotion` sets the discount from today for ``duration_days`` days (a discount of
  0 ends a running promotion). SKUs the plan does not mention keep their running promotion;
* a SKU in ``holds`` is taken off sale for today only (a recall, a compliance stop): it sells
  nothing, its demand is neither served nor counted as lost, and its stock stays. A plan
  that wants a SKU off sale for a week holds it on each of the seven days.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from envs.errors import PlanError

__all__ = ["Plan", "PlanArrays", "Promotion", "RestockOrder"]

_NO_HOLD = np.zeros(0, dtype=bool)  # the default marker: replaced by zeros of the plan's size


class RestockOrder(BaseModel):
    """Order ``quantity`` units of ``sku`` from its supplier today."""

    model_config = ConfigDict(extra="forbid")
    sku: str = Field(min_length=1)
    quantity: int = Field(ge=0, le=10_000_000)
    reason: str = ""


class Promotion(BaseModel):
    """Sell ``sku`` at ``discount`` off its list price for ``duration_days`` days from today."""

    model_config = ConfigDict(extra="forbid")
    sku: str = Field(min_length=1)
    discount: float = Field(ge=0.0, lt=1.0)
    duration_days: int = Field(default=7, ge=1, le=365)
    reason: str = ""


class Plan(BaseModel):
    """One day's decisions for a shop."""

    model_config = ConfigDict(extra="forbid")
    restocks: list[RestockOrder] = Field(default_factory=list)
    promotions: list[Promotion] = Field(default_factory=list)
    holds: list[str] = Field(
        default_factory=list, description="SKU ids taken off sale today (each at most once)."
    )

    @model_validator(mode="after")
    def _one_line_per_sku(self) -> Plan:
        for name, items in (("restocks", self.restocks), ("promotions", self.promotions)):
            seen: set[str] = set()
            for i, item in enumerate(items):
                if item.sku in seen:
                    raise ValueError(f"{name}.{i}: SKU {item.sku!r} appears twice")
                seen.add(item.sku)
        seen = set()
        for i, sku in enumerate(self.holds):
            if not sku:
                raise ValueError(f"holds.{i}: a SKU id must not be empty")
            if sku in seen:
                raise ValueError(f"holds.{i}: SKU {sku!r} appears twice")
            seen.add(sku)
        return self

    def to_arrays(self, sku_index: Mapping[str, int]) -> PlanArrays:
        """The vector form for a catalogue whose SKU positions are ``sku_index``.

        Raises:
            PlanError: a line names a SKU the catalogue does not have.
        """
        arrays = PlanArrays.empty(len(sku_index))
        for kind, items in (("restocks", self.restocks), ("promotions", self.promotions)):
            for i, item in enumerate(items):
                pos = sku_index.get(item.sku)
                if pos is None:
                    raise PlanError(f"{kind}.{i}: unknown SKU {item.sku!r}")
                if isinstance(item, RestockOrder):
                    arrays.order_qty[pos] = item.quantity
                else:
                    arrays.promo_set[pos] = True
                    arrays.discount[pos] = item.discount
                    arrays.duration[pos] = item.duration_days
        for i, sku in enumerate(self.holds):
            pos = sku_index.get(sku)
            if pos is None:
                raise PlanError(f"holds.{i}: unknown SKU {sku!r}")
            arrays.hold[pos] = True
        return arrays

    @classmethod
    def from_arrays(cls, arrays: PlanArrays, sku_ids: Sequence[str]) -> Plan:
        """The plan listing every non-zero order, promotion change and hold in ``arrays``."""
        restocks = [
            RestockOrder(sku=sku_ids[i], quantity=int(arrays.order_qty[i]))
            for i in np.flatnonzero(arrays.order_qty > 0)
        ]
        promotions = [
            Promotion(
                sku=sku_ids[i],
                discount=float(arrays.discount[i]),
                duration_days=max(1, int(arrays.duration[i])),
            )
            for i in np.flatnonzero(arrays.promo_set)
        ]
        holds = [sku_ids[i] for i in np.flatnonzero(arrays.hold)]
        return cls(restocks=restocks, promotions=promotions, holds=holds)


@dataclasses.dataclass
class PlanArrays:
    """A plan as vectors over the catalogue (length ``n``).

    Attributes:
        order_qty: units to order per SKU (0: no order).
        promo_set: True where the plan sets a promotion (or ends one with discount 0).
        discount: discount depth where ``promo_set``.
        duration: promotion length in days where ``promo_set``.
        hold: True where the SKU is off sale today. Optional: left out (or given as an
            empty array) it becomes all False, so four-vector constructions hold nothing.
    """

    order_qty: np.ndarray
    promo_set: np.ndarray
    discount: np.ndarray
    duration: np.ndarray
    hold: np.ndarray = dataclasses.field(default_factory=lambda: _NO_HOLD)

    def __post_init__(self) -> None:
        if np.size(self.hold) == 0:
            self.hold = np.zeros(np.shape(self.order_qty), dtype=bool)

    @classmethod
    def empty(cls, n: int) -> PlanArrays:
        """A plan that does nothing."""
        return cls(
            order_qty=np.zeros(n),
            promo_set=np.zeros(n, dtype=bool),
            discount=np.zeros(n),
            duration=np.zeros(n, dtype=np.int64),
            hold=np.zeros(n, dtype=bool),
        )

    def validate(self, n: int) -> None:
        """Raise :class:`PlanError` on a wrong shape, negative or non-finite values."""
        for name in ("order_qty", "promo_set", "discount", "duration", "hold"):
            a = getattr(self, name)
            if np.shape(a) != (n,):
                raise PlanError(f"{name}: expected shape ({n},), got {np.shape(a)}")
        bad = ~np.isfinite(self.order_qty) | (self.order_qty < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise PlanError(f"order_qty[{i}] = {self.order_qty[i]}: must be finite and >= 0")
        bad = self.promo_set & (
            ~np.isfinite(self.discount) | (self.discount < 0) | (self.discount >= 1)
        )
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise PlanError(f"discount[{i}] = {self.discount[i]}: must be in [0, 1)")
