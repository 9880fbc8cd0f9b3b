"""Typed errors of the agent layer (store, graph, approvals, runs).

Every error subclasses :class:`envs.errors.ShopOpsError`, so the CLI prints it as one line.
Messages say what was wrong and what to do.
"""

from __future__ import annotations

from envs.errors import ShopOpsError

__all__ = [
    "AgentConfigError",
    "ApprovalError",
    "RunNotFoundError",
    "RunStateError",
    "StoreError",
]


class AgentConfigError(ShopOpsError, ValueError):
    """An agent option (approval mode, deadline, policy, schedule) is invalid."""


class StoreError(ShopOpsError, RuntimeError):
    """The store cannot be opened, migrated or written (the message names the URL)."""


class RunNotFoundError(ShopOpsError, LookupError):
    """A run id (or shop name) that the store does not know."""


class RunStateError(ShopOpsError, RuntimeError):
    """A run cannot do what was asked in its current state (finished, busy, past horizon)."""


class ApprovalError(ShopOpsError, ValueError):
    """An approval answer is invalid: unknown action, unknown choice, or a bad edit."""
