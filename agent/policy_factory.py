"""Build a run's decision policy by its registry name (simulated and real runs alike)."""

from __future__ import annotations

from typing import Any

from agent.errors import AgentConfigError

__all__ = ["make_run_policy"]


def make_run_policy(name: str) -> Any:
    """The policy registered as ``name`` (:mod:`policies.registry`).

    Raises:
        AgentConfigError: the registry is missing (only ``do_nothing`` then works).
    """
    try:
        from policies.registry import make_policy
    except ImportError:  # pragma: no cover - the registry ships with the repo
        from policies.base import DoNothing

        if name != "do_nothing":
            raise AgentConfigError(f"policy {name!r}: the policy registry is missing") from None
        return DoNothing()
    return make_policy(name)
