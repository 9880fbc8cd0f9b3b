"""Typed errors raised by the simulator layer (and the base class for all ShopOps errors)."""

from __future__ import annotations


class ShopOpsError(Exception):
    """Base class of every error ShopOps raises on purpose."""


class ScenarioError(ShopOpsError, ValueError):
    """A scenario file or mapping is invalid.

    Attributes:
        source: the file path (or a label for in-memory data).
        field: the dotted field path (``categories.0.price``) or a location in the file.
        problem: what is wrong and what is allowed.
    """

    def __init__(self, source: str, field: str, problem: str) -> None:
        self.source = source
        self.field = field
        self.problem = problem
        super().__init__(f"{source}: {field}: {problem}")


class PlanError(ShopOpsError, ValueError):
    """A plan names an unknown SKU, or a quantity or discount outside what is allowed."""
