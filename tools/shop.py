"""The :class:`Shop` protocol: what the agent needs from a shop backend.

A backend shows the morning's state (:meth:`Shop.view`), executes action lines with an
idempotency key (:meth:`Shop.execute`: a key seen before is a no-op that reports
``duplicate``), answers what-if questions where it can simulate, and lists known upcoming
events. :class:`tools.sim_shop.SimShop` is the simulator backend; a real-data backend comes
later and must honour the same idempotency contract (the agent may call ``execute`` again
with the same key after a crash).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from envs.plan import PlanArrays
from envs.simulator import ShopView

__all__ = ["Shop", "WhatIf"]


@dataclasses.dataclass
class WhatIf:
    """Expected effect of a plan versus no action, over ``horizon`` days from today.

    ``per_sku`` is the profit difference attributed to each SKU (revenue minus cost of goods,
    holding, lost-sale penalty, waste and promotion running cost of that SKU); ``total`` is
    the exact difference in shop profit (including per-order fixed costs). Both use one
    sampled future shared by the two runs (common random numbers).
    """

    horizon: int
    seed: int
    total: float
    plan_profit: float
    base_profit: float
    per_sku: np.ndarray


@runtime_checkable
class Shop(Protocol):
    """A shop the agent can see and act on."""

    shop_id: str
    sku_ids: tuple[str, ...]
    sku_index: Mapping[str, int]
    category_names: tuple[str, ...]
    supplier_names: tuple[str, ...]
    warehouse_capacity: float | None

    @property
    def day(self) -> int:
        """The open day: the one decisions are being made for."""
        ...

    @property
    def done(self) -> bool:
        """True when the shop has no further days (a simulation past its horizon)."""
        ...

    def view(self) -> ShopView:
        """This morning's state per SKU."""
        ...

    def supplier_of(self) -> np.ndarray:
        """The supplier index of every SKU."""
        ...

    def upcoming_events(self, horizon: int) -> list[dict[str, Any]]:
        """Known events within ``horizon`` days (festivals, supplier disruptions)."""
        ...

    def execute(self, line: Mapping[str, Any], key: str) -> dict[str, Any]:
        """Apply one action line; idempotent in ``key``. Returns a receipt:
        ``{"key", "status": "executed" | "duplicate", "applied_day"}``."""
        ...

    def what_if(self, arrays: PlanArrays, horizon: int, seed: int | None = None,
                baseline: PlanArrays | None = None) -> WhatIf | None:
        """The plan versus ``baseline`` (default: no action) over ``horizon`` days, on the
        same sampled future, or ``None`` if not simulable."""
        ...


def sku_positions(shop: Shop, skus: Sequence[str]) -> np.ndarray:
    """Positions of ``skus`` in the shop's catalogue (unknown SKUs are an error upstream)."""
    return np.array([shop.sku_index[s] for s in skus], dtype=np.int64)
