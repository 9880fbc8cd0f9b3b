"""Executing approved actions exactly once: check, then execute, inside one transaction.

:func:`execute_ready` takes the day's actions whose status allows execution (``auto``,
``approved``, ``edited``), in chunks. For each chunk, in one transaction (on SQLite a
``BEGIN IMMEDIATE``, on PostgreSQL a row lock on the run, so a concurrent ``shopops chat``
or the runner closing the day waits): read the run's open day, skip keys the ``executions``
table already holds, call ``shop.execute(line, key)`` for the rest, insert their
``executions`` rows and mark the actions ``executed``; commit. A crash before the commit
loses the chunk's rows, so a resume executes it again with the same keys: the backend's
idempotency makes that safe (the simulator re-queues; a remote shop dedups). A crash after
the commit finds the rows and executes nothing twice.

A simulated shop past its horizon cannot execute: such actions become ``expired``. A shop
that writes to the store itself (``execute_in_session``: the real shop's outbox) writes in
the same transaction, so its row and the execution row commit or vanish together.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from agent.store import Store
from agent.store.models import Action, Execution, Run, utcnow
from tools.shop import Shop

__all__ = ["EXECUTABLE", "execute_ready"]

#: Action statuses that may be executed.
EXECUTABLE = ("auto", "approved", "edited")


def execute_ready(store: Store, shop: Shop, run_id: str, day: int, chunk: int = 500) -> dict:
    """Execute every executable action of ``run_id``'s ``day``; returns counts.

    Returns ``{"executed": n, "already": n, "expired": n, "applied_day": d}`` where
    ``already`` counts actions found executed (a resumed run) and ``applied_day`` is the
    shop day the executions took effect.
    """
    counts: dict[str, Any] = {"executed": 0, "already": 0, "expired": 0, "applied_day": None}
    chunk = max(1, int(chunk))
    while True:
        with store.session() as s:
            run = s.get(Run, run_id, with_for_update=True)  # serialises with the clock
            rows = s.execute(
                select(Action.id, Action.sku, Action.kind, Action.params, Action.idempotency_key)
                .where(Action.run_id == run_id, Action.day == day, Action.status.in_(EXECUTABLE))
                .order_by(Action.id)
                .limit(chunk)
            ).all()
            if not rows:
                return counts
            applied_day = int(run.current_day)
            counts["applied_day"] = applied_day
            if run.horizon_days is not None and applied_day >= run.horizon_days:
                s.execute(
                    update(Action),
                    [
                        {
                            "id": r.id,
                            "status": "expired",
                            "reason": f"the shop closed at day {run.horizon_days} before execution",
                        }
                        for r in rows
                    ],
                )
                counts["expired"] += len(rows)
                continue
            keys = [r.idempotency_key for r in rows]
            done = set(
                s.scalars(
                    select(Execution.idempotency_key).where(Execution.idempotency_key.in_(keys))
                )
            )
            new_rows = []
            now = utcnow()
            # A store-backed shop (tools.real_shop.SqlShop) writes inside this transaction.
            in_session = getattr(shop, "execute_in_session", None)
            for r in rows:
                if r.idempotency_key in done:
                    counts["already"] += 1
                    continue
                if in_session is not None:
                    in_session(s, r.params, r.idempotency_key)
                else:
                    shop.execute(r.params, r.idempotency_key)
                new_rows.append(
                    {
                        "idempotency_key": r.idempotency_key,
                        "action_id": r.id,
                        "run_id": run_id,
                        "day": day,
                        "applied_day": applied_day,
                        "sku": r.sku,
                        "kind": r.kind,
                        "params": r.params,
                        "executed_at": now,
                    }
                )
            if new_rows:
                s.execute(insert(Execution), new_rows)
            s.execute(update(Action), [{"id": r.id, "status": "executed"} for r in rows])
            counts["executed"] += len(new_rows)
