"""Typed errors of the tools layer."""

from __future__ import annotations

from envs.errors import ShopOpsError

__all__ = ["RulesError", "ShopBackendError", "ToolInputError"]


class RulesError(ShopOpsError, ValueError):
    """A rules file is missing or invalid; the message names the file and the field."""


class ShopBackendError(ShopOpsError, RuntimeError):
    """A shop backend cannot do what was asked (closed day, past horizon, unknown SKU)."""


class ToolInputError(ShopOpsError, ValueError):
    """A tool was called with arguments it cannot accept (the message names the argument)."""
