"""The clock: one for every shop, simulated or real.

For each day ``d`` the :class:`Runner`

1. runs the day's graph thread (``sense .. learn``, :mod:`agent.graph`) with
   ``durability="sync"``; an inline approver (scripted, terminal) then answers the day's
   pending decisions at once (:func:`agent.answers.apply_answer`), otherwise they wait in
   the store and the run goes on;
2. expires pending decisions whose deadline has come (:func:`agent.answers.expire_due`);
3. closes the day the way the shop's backend does, through the context's ``close_day``:
   :func:`agent.runner.close_sim_day` steps a simulator, :func:`agent.real_run.close_real_day`
   closes a real shop's day on its imported sales. The clock imports neither backend module:
   the loader that built the context chose (``agent.runner.load_context``, which hands real
   shops to ``agent.real_run.load_real_context``).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select

from agent.answers import apply_answer, expire_due
from agent.approvals import Approver
from agent.context import AgentContext
from agent.errors import RunStateError
from agent.queries import count_pending, pending_cards
from agent.state import thread_id
from agent.store.models import DayOutcome

__all__ = ["Runner"]


class Runner:
    """Drives one run day by day, for any shop (see the module docstring).

    Args:
        ctx: the run's context (:func:`agent.runner.load_context`).
        checkpointer: an open LangGraph checkpointer on the store's database.
        approver: answers the day's pending decisions inline; ``None`` leaves them for
            ``shopops chat`` and the console.
    """

    def __init__(self, ctx: AgentContext, checkpointer: Any, approver: Approver | None) -> None:
        from agent.graph import build_graph

        self.ctx = ctx
        self.graph = build_graph(checkpointer)
        self.approver = approver
        self.node_s: dict[str, float] = {}
        #: decisions this runner expired unanswered (``agent.answers.expire_due`` items)
        self.expired: list[dict[str, Any]] = []

    # -- one thread
    def _cfg(self, day: int) -> dict:
        return {"configurable": {"thread_id": thread_id(self.ctx.run_id, day)}}

    def _invoke(self, value: Any, day: int) -> None:
        self.graph.invoke(value, self._cfg(day), context=self.ctx, durability="sync")

    def _state(self, day: int) -> Any:
        return self.graph.get_state(self._cfg(day))

    def finish_interrupted(self, day: int) -> None:
        """Resume ``day``'s thread if a crash left it between nodes (not at an interrupt)."""
        st = self._state(day)
        if st.next and not st.interrupts:
            self._invoke(None, day)

    def decide_day(self, day: int) -> None:
        """Run (or finish) ``day``'s thread, then let an inline approver answer its cards."""
        st = self._state(day)
        if not st.values:
            self._invoke({"run_id": self.ctx.run_id, "day": day, "rounds": 0}, day)
        else:
            self.finish_interrupted(day)
        self._answer_inline(day)
        st = self._state(day)
        for k, v in (st.values.get("timings") or {}).items():
            self.node_s[k] = self.node_s.get(k, 0.0) + v

    def _answer_inline(self, day: int) -> None:
        """The inline approver (scripted, terminal) answers the day's pending cards at once,
        through the same transaction as every other answer (:mod:`agent.answers`)."""
        if self.approver is None:
            return
        cards = pending_cards(self.ctx.store, self.ctx.run_id, day)
        if not cards:
            return
        t0 = time.perf_counter()
        answer = self.approver.decide(cards)
        if answer:
            apply_answer(self.ctx, answer)
        self.node_s["approve"] = self.node_s.get("approve", 0.0) + time.perf_counter() - t0

    def expire_due(self, day: int) -> int:
        """Expire pending decisions whose deadline is the close of ``day``; returns how many."""
        gone = expire_due(self.ctx, day)
        self.expired.extend(gone)
        return len(gone)

    # -- closing
    def close_day(self) -> dict[str, Any]:
        """Close the open day the way the shop's backend does (``ctx.close_day``): step the
        simulator, or close a real shop's day on its imported sales; open the next."""
        if self.ctx.close_day is None:
            raise RunStateError(f"run {self.ctx.run_id}: this context cannot close days")
        return self.ctx.close_day(self.ctx)

    def run_day(self) -> dict[str, Any]:
        """Decide, expire and close the open day."""
        day = self.ctx.shop.day
        self.decide_day(day)
        self.expire_due(day)
        return self.close_day()

    def run(self, days: int, progress: bool = False) -> None:
        """Run ``days`` days (fewer if the horizon comes first), with a progress bar."""
        ctx = self.ctx
        left = min(days, max(0, ctx.shop.horizon_days - ctx.shop.day))
        if left <= 0:
            return
        if not progress:
            for _ in range(left):
                self.run_day()
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        with ctx.store.session() as s:  # the run's profit so far: the bar agrees with the table
            total = float(
                s.scalar(select(func.sum(DayOutcome.profit)).where(DayOutcome.run_id == ctx.run_id))
                or 0.0
            )
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=False,
        ) as bar:
            task = bar.add_task(f"run {ctx.run_id}", total=left)
            for _ in range(left):
                out = self.run_day()
                total += out["profit"]
                pend = count_pending(ctx.store, ctx.run_id)
                bar.update(
                    task,
                    advance=1,
                    description=(
                        f"run {ctx.run_id} day {out['day']}: profit {total:,.0f}, {pend} pending"
                    ),
                )
