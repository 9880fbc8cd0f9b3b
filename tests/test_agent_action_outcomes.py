"""Each executed line gets its realised outcome once, after ``ACTION_OUTCOME_DAYS`` days.

A real simulated run on a real SQLite store: the outcome is the SKU's attributable profit
over the days from the one the line took effect, written in the day-close transaction with a
unique key, so continuing the run (another process) never writes it twice.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from sqlalchemy import select

from agent.runner import ACTION_OUTCOME_DAYS, resume_run, run_simulated
from agent.store import open_store
from agent.store.models import Execution, FeedbackEvent
from envs.simulator import MarketSimulator
from tools.sim_shop import sku_day_profit


def _outcomes(db: str) -> tuple[list[tuple[int, int, str]], list[dict]]:
    store = open_store(db)
    with store.session() as s:
        execs = [tuple(r) for r in s.execute(
            select(Execution.action_id, Execution.applied_day, Execution.sku))]
        events = [dict(p, sku=sku) for sku, p in s.execute(
            select(FeedbackEvent.sku, FeedbackEvent.payload).where(
                FeedbackEvent.kind == "outcome", FeedbackEvent.sku.is_not(None)))]
    store.close()
    return execs, events


def test_executed_lines_get_one_realised_outcome_each(tmp_path: Path) -> None:
    db = str(tmp_path / "run.db")
    days = ACTION_OUTCOME_DAYS + 3
    summary = run_simulated("steady", days=days, approval_mode="auto", db_url=db,
                            policy="base_stock_tuned", seed=4, signals="ema")
    execs, events = _outcomes(db)
    closed = [e for e in execs if e[1] <= days - ACTION_OUTCOME_DAYS]
    assert closed and len(closed) < len(execs)  # later lines wait for their days to close
    assert sorted(ev["action_id"] for ev in events) == sorted(e[0] for e in closed)
    assert all(ev["days"] == ACTION_OUTCOME_DAYS for ev in events)

    # the outcome is the SKU's attributable profit over the window, recomputed independently
    sim = MarketSimulator.from_scenario("steady", seed=4)
    store = open_store(db)
    with store.session() as s:
        lines_by_day: dict[int, list[dict]] = {}
        for day, params in s.execute(select(Execution.applied_day, Execution.params)):
            lines_by_day.setdefault(day, []).append(params)
    store.close()
    from tools.actions import arrays_from_lines

    per_day = []
    for d in range(days):
        r = sim.step(arrays_from_lines(lines_by_day.get(d, []), sim.sku_index))
        per_day.append(sku_day_profit(sim, r))
    ev = events[0]
    pos = sim.sku_index[ev["sku"]]
    start = ev["from_day"]
    want = float(np.sum([per_day[k][pos] for k in range(start, start + ACTION_OUTCOME_DAYS)]))
    assert abs(ev["profit"] - want) < 1e-6

    # continuing the run writes the next days' outcomes, and none twice
    resume_run(summary.run_id, days=3, approver="accept", db_url=db)
    execs, events = _outcomes(db)
    counts = Counter(ev["action_id"] for ev in events)
    assert max(counts.values()) == 1
    assert len(counts) > len(closed)
