"""The policy protocol: every decision-maker maps a morning's view of the shop to a plan.

A policy is given the simulator at ``reset`` (for static facts: catalogue, suppliers,
calendar) and, each day, the structured :class:`~envs.simulator.ShopView` and the simulator.

Contract for *non-anticipating* policies (every policy except the oracle): decide from
``view``, the catalogue and calendar, and forks made with ``sim.fork(seed=...)`` (a fresh
random future). Never read ``sim.state`` internals that are not in the view, and never use
``sim.fork()`` without a seed (it shares the realised future). The oracle is the one
policy allowed to, and says so.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from envs.plan import PlanArrays
from envs.simulator import MarketSimulator, ShopView

__all__ = ["DoNothing", "Policy"]


@runtime_checkable
class Policy(Protocol):
    """Maps the morning's view to the day's plan (as vectors over the catalogue)."""

    name: str

    def reset(self, sim: MarketSimulator) -> None:
        """Called once at the start of an episode, after ``sim.reset``."""
        ...

    def act(self, view: ShopView, sim: MarketSimulator) -> PlanArrays:
        """The plan for ``view.day``."""
        ...


class DoNothing:
    """Never orders, never promotes: the floor every policy must beat."""

    name = "do_nothing"

    def reset(self, sim: MarketSimulator) -> None:
        self._n = sim.n

    def act(self, view: ShopView, sim: MarketSimulator) -> PlanArrays:
        return PlanArrays.empty(len(view.sku_ids))
