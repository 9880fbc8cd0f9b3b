"""The protocol every ShopOps online model follows (River's, plus a vectorised hot path).

River's contract: features are dicts, ``learn_one(x, y)`` updates the model with one
example, ``predict_one(x)`` answers from the current state, ``clone()`` returns a fresh
model with the same parameters and nothing learned, and the object pickles. Our models
keep one row of numpy state per SKU so that the hub can learn a whole day for thousands of
SKUs in one vectorised call; ``learn_one`` / ``predict_one`` are the same computation for a
single row, so both paths give identical numbers.

Every model is checked by one generic contract test (``tests/test_online_contract.py``):
learn, predict, clone, pickle round trip to identical predictions, feature order and
missing features.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, Self, runtime_checkable

__all__ = ["OnlineModel"]


@runtime_checkable
class OnlineModel(Protocol):
    """A model that learns one example at a time and answers at any time."""

    def learn_one(self, x: Mapping[str, Any], y: Any = None) -> None:
        """Update the model with one example (``y`` is None for unsupervised models)."""
        ...

    def predict_one(self, x: Mapping[str, Any]) -> Any:
        """The model's answer for ``x`` from its current state; never learns."""
        ...

    def clone(self) -> Self:
        """A new model with the same configuration and nothing learned."""
        ...
