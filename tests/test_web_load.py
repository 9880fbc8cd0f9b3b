"""Load check: 50 concurrent approvals of distinct decisions through the HTTP API on SQLite.

All 50 are released at once (a barrier) against one real server over one SQLite file. Each
must be answered (200) and executed exactly once: one approval row, one claim, one
execution per decision, no lease left behind. The throughput is printed (``-s`` shows it)
and, with ``SHOPOPS_LOAD_REPORT=path``, written there as JSON.
"""

from __future__ import annotations

import json
import os
import threading
import time

from sqlalchemy import func, select

from agent.store import open_store
from agent.store.models import Action, Approval, Execution
from agent.web.auth import create_token
from tests.web_helpers import client, live_server, pending_run

N = 50


def test_fifty_concurrent_approvals_apply_exactly_once(tmp_path, capsys):
    db = str(tmp_path / "load.db")
    pending_run(db, "load-shop", days=1)  # one live decision per SKU and kind: two shops
    pending_run(db, "load-shop-2", days=1, seed=1)  # give the 50 decisions
    store = open_store(db)
    token, _ = create_token(store, "loader", role="approver", shops=["load-shop", "load-shop-2"])
    with store.session() as s:
        ids = s.scalars(
            select(Action.id).where(Action.status == "pending").order_by(Action.id).limit(N)
        ).all()
    assert len(ids) == N
    gate = threading.Barrier(N)
    codes: dict[int, int] = {}
    lat: list[float] = []
    spans: list[tuple[float, float]] = []

    with live_server(db) as url:

        def go(aid: int) -> None:
            with client(url, token) as c:
                c.get("/api/me")  # connect before the start
                gate.wait()
                t = time.perf_counter()
                r = c.post(
                    f"/api/decisions/{aid}/answer", json={"choice": "accept", "reason": "load"}
                )
                t1 = time.perf_counter()
                lat.append(t1 - t)
                spans.append((t, t1))
                codes[aid] = r.status_code

        threads = [threading.Thread(target=go, args=(a,)) for a in ids]
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
    wall = max(e for _, e in spans) - min(b for b, _ in spans)  # first request to last reply

    assert codes == {a: 200 for a in ids}
    with store.session() as s:
        per = dict(
            s.execute(
                select(Execution.action_id, func.count())
                .where(Execution.action_id.in_(ids))
                .group_by(Execution.action_id)
            ).all()
        )
        assert per == {a: 1 for a in ids}
        assert (
            s.scalar(select(func.count()).select_from(Approval).where(Approval.action_id.in_(ids)))
            == N
        )
        assert set(s.scalars(select(Action.status).where(Action.id.in_(ids)))) == {"executed"}
    store.close()
    lat.sort()
    report = {
        "approvals": N,
        "wall_s": round(wall, 3),
        "throughput_per_s": round(N / wall, 2),
        "latency_p50_s": round(lat[N // 2], 3),
        "latency_max_s": round(lat[-1], 3),
        "store": "sqlite",
    }
    with capsys.disabled():
        print(f"\nload check: {json.dumps(report)}")
    if os.environ.get("SHOPOPS_LOAD_REPORT"):
        with open(os.environ["SHOPOPS_LOAD_REPORT"], "w") as fh:
            json.dump(report, fh)
