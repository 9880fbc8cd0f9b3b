"""``shopops bench agent``: wall time of one daily run for a 1,000-SKU shop.

The shop is the ``large`` scenario scaled down to 1,000 SKUs (same five categories and
suppliers, a tenth of each). The policy is the ``base_stock`` heuristic, the approval mode
``risky`` answered by the scripted approver, the signals the online models when available,
the store a fresh SQLite file with the SQLite checkpointer. After ``warmup`` days (JIT
compilation, caches) each of ``days`` days is timed from the start of its graph to the end
of its close: the figure is the median. The breakdown is the mean seconds per day per node,
plus ``close`` (the day's simulation, outcome, snapshots).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["run_agent_bench", "scaled_large"]


def scaled_large(n_skus: int = 1000) -> Any:
    """The ``large`` scenario with ``n_skus`` SKUs in the same proportions."""
    from envs.scenario import load_scenario

    spec = load_scenario("large")
    total = sum(c.n_skus for c in spec.categories)
    cats = [
        c.model_copy(update={"n_skus": max(1, round(c.n_skus * n_skus / total))})
        for c in spec.categories
    ]
    return spec.model_copy(update={"categories": cats, "name": f"large-{n_skus}"})


def run_agent_bench(
    days: int = 5,
    warmup: int = 2,
    n_skus: int = 1000,
    policy: str = "base_stock",
    mode: str = "risky",
    signals: str = "auto",
    progress: bool = False,
) -> dict[str, Any]:
    """Time daily runs; returns ``{"daily_run_s_1000": median seconds, ...}``."""
    from agent.approvals import ScriptedApprover
    from agent.checkpoint import open_checkpointer
    from agent.clock import Runner
    from agent.queries import count_pending
    from agent.runner import RunOptions, create_run, load_context
    from agent.store import open_store
    from tools.risk import ApprovalPolicy

    spec = scaled_large(n_skus)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "bench.db"))
        run_id = create_run(
            store,
            RunOptions(
                scenario=spec,
                seed=0,
                policy=policy,
                approval=ApprovalPolicy(mode=mode),
                signals=signals,
            ),
        )
        per_day: list[float] = []
        nodes: list[dict[str, float]] = []
        actions: list[int] = []
        with open_checkpointer(store.url) as saver:
            runner = Runner(load_context(store, run_id), saver, ScriptedApprover())
            for k in range(warmup + days):
                before = dict(runner.node_s)
                t0 = time.perf_counter()
                day = runner.ctx.shop.day
                runner.decide_day(day)
                runner.expire_due(day)
                t1 = time.perf_counter()
                runner.close_day()
                t2 = time.perf_counter()
                if k >= warmup:
                    per_day.append(t2 - t0)
                    d = {n: runner.node_s.get(n, 0.0) - before.get(n, 0.0) for n in runner.node_s}
                    d["close"] = t2 - t1
                    d["graph_overhead"] = (t1 - t0) - sum(v for n, v in d.items() if n != "close")
                    nodes.append(d)
                    actions.append(_actions_of_day(store, run_id, day))
                if progress:
                    print(f"day {day}: {t2 - t0:.3f} s", flush=True)
        pending = count_pending(store, run_id)
        size = Path(store.sqlite_file).stat().st_size if store.sqlite_file else 0
        store.close()
    keys = sorted({k for d in nodes for k in d})
    return {
        "daily_run_s_1000" if n_skus == 1000 else f"daily_run_s_{n_skus}": round(
            statistics.median(per_day), 4
        ),
        "daily_run_s_max": round(max(per_day), 4),
        "n_skus": n_skus,
        "days_timed": days,
        "policy": policy,
        "approval_mode": mode,
        "actions_per_day": round(statistics.mean(actions), 1),
        "pending_left": pending,
        "node_s": {k: round(statistics.mean(d.get(k, 0.0) for d in nodes), 4) for k in keys},
        "db_mb": round(size / 1e6, 2),
    }


def _actions_of_day(store: Any, run_id: str, day: int) -> int:
    from sqlalchemy import func, select

    from agent.store.models import Action

    with store.session() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(Action)
                .where(Action.run_id == run_id, Action.day == day)
            )
            or 0
        )
