"""Re-simulating a recorded run's decisions, for what-if analysis (``shopops replay --run``).

The run's scenario and seed rebuild the same simulated shop at day 0; each day is then
stepped with one variant of the decisions:

* ``recorded``: what was executed, on the day it took effect (reproduces the run);
* ``proposed``: every action the rules allowed, on its own day, as if nobody had been asked
  (what approvals changed);
* ``policy``: the policy's raw proposals, without rules or approvals (what the rules saved);
* ``none``: no action at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from agent.errors import AgentConfigError, RunNotFoundError
from agent.store import Store
from agent.store.models import Action, Execution, PlanRecord, Run
from envs.simulator import DayResult, MarketSimulator, ShopView
from tools.actions import arrays_from_lines

__all__ = ["VARIANTS", "resimulate"]

VARIANTS = ("recorded", "proposed", "policy", "none")


def resimulate(
    store: Store, run_id: str, variant: str = "recorded"
) -> Iterator[tuple[ShopView, DayResult]]:
    """Yield ``(morning view, day result)`` for every closed day of ``run_id`` under ``variant``.

    Raises:
        RunNotFoundError: no such run.
        AgentConfigError: an unknown variant.
    """
    if variant not in VARIANTS:
        raise AgentConfigError(f"variant: {variant!r} is not one of {', '.join(VARIANTS)}")
    with store.session() as s:
        run = s.get(Run, run_id)
        if run is None:
            raise RunNotFoundError(f"no run {run_id!r} in {store.safe_url}; see `shopops status`")
        scenario, seed, start, end = run.scenario, run.seed, run.start_day, run.current_day
        by_day: dict[int, list[dict[str, Any]]] = {}
        if variant == "recorded":
            rows = s.execute(
                select(Execution.applied_day, Execution.params)
                .where(Execution.run_id == run_id)
                .order_by(Execution.id)
            )
        elif variant == "proposed":  # each line as the rules allowed it, before any edit
            rows = [
                (d, (card or {}).get("line") or params)
                for d, params, card in s.execute(
                    select(Action.day, Action.params, Action.card)
                    .where(Action.run_id == run_id)
                    .order_by(Action.id)
                )
            ]
        elif variant == "policy":
            rows = [
                (p.day, ln)
                for p in s.scalars(select(PlanRecord).where(PlanRecord.run_id == run_id))
                for ln in p.proposal.get("lines", [])
            ]
        else:
            rows = []
        for d, line in rows:
            by_day.setdefault(int(d), []).append(line)
    sim = MarketSimulator.from_scenario(scenario, seed=seed)
    for day in range(start, end):
        view = sim.view()
        yield view, sim.step(arrays_from_lines(by_day.get(day, []), sim.sku_index))
