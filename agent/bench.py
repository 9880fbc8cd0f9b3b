"""``shopops bench agent``: wall time of one daily run for a 1,000-SKU shop.

The shop is the ``large`` scenario scaled down to 1,000 SKUs (same five categories and
suppliers, a tenth of each). The policy is the ``base_stock`` heuristic, the approval mode
``risky`` answered by the scripted approver, the signals the online models when available,
the store a fresh SQLite file with the SQLite checkpointer. After ``warmup`` days (JIT
compilation, caches) each of ``days`` days is timed from the start of its graph to the end
of its close: the figure is the median. The breakdown is the mean seconds per day per node,
plus ``close`` (the day's simulation, outcome, snapshots).

``kb_docs`` > 0 runs the agent with its knowledge base holding that many active documents,
each with one confirmed directive in force (:func:`file_documents`: every kind, on
categories, single SKUs and suppliers), so every check and execution reads and applies
them; the texts are filed, not read (reading is timed by ``shopops bench reader``).
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
    kb_docs: int = 0,
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
                knowledge=kb_docs > 0,
            ),
        )
        if kb_docs:
            file_documents(store, f"sim-{spec.name}", spec, kb_docs)
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
        "kb_docs": kb_docs,
    }


def file_documents(store: Any, shop_id: str, spec: Any, n: int) -> None:
    """File ``n`` documents with one confirmed directive each, in force for a year."""
    import datetime as dt

    import numpy as np

    from agent.store import kb as store_kb
    from envs.catalog import build_catalog

    catalog = build_catalog(spec)
    rng = np.random.default_rng(0)
    start = spec.start_date
    end = start + dt.timedelta(days=365)
    kinds = ("discount_cap", "promotion_ban", "demand_shift", "supplier_delay", "stop_sale")
    with store.session() as s:
        for k in range(n):
            kind = kinds[k % len(kinds)]
            if kind == "supplier_delay":
                d = {"supplier": catalog.supplier_names[k % len(catalog.supplier_names)],
                     "extra_days": 2}  # fmt: skip
            elif k % 2:
                d = {"category": catalog.category_names[k % len(catalog.category_names)]}
            else:
                d = {"skus": [str(catalog.sku_ids[int(rng.integers(len(catalog.sku_ids)))])]}
            if kind == "discount_cap":
                d["max_percent"] = 20
            if kind == "demand_shift":
                d["factor"] = 1.2
            d.update(kind=kind, start=start.isoformat(), end=end.isoformat())
            doc = store_kb.add_document(
                s, shop_id, text=f"Benchmark document {k}: {kind}.", kind="other",
                doc_date=start, title=f"bench {k}",
            )  # fmt: skip
            (row,) = store_kb.add_directives(
                s, doc.id, [d], reader="bench", confidences=[1.0], statuses=["pending_review"]
            )
            store_kb.review_directive(s, row.id, verdict="confirm", by="bench", reason="bench")


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
