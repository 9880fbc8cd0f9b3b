"""The exactly-once claim and the thread lease in the database (SQLite and PostgreSQL).

Two ``Store`` objects (two engines, two connection pools: as two processes would have)
claim the same pending action; exactly one wins. A lease is exclusive across stores and
released on exit.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from agent.claims import (
    DecisionConflictError,
    ThreadBusyError,
    claim_decisions,
    release_claims,
    thread_lease,
)
from agent.runner import RunOptions, create_run
from agent.store import open_store
from agent.store.auth import DecisionClaim
from agent.store.models import Action
from tools.risk import ApprovalPolicy


@pytest.fixture(params=["sqlite", "postgres"])
def two_stores(request, tmp_path):
    url = (
        str(tmp_path / "c.db")
        if request.param == "sqlite"
        else request.getfixturevalue("pg_database")
    )
    a, b = open_store(url), open_store(url)
    run_id = create_run(
        a, RunOptions(scenario="steady", signals="ema", policy="base_stock_tuned",
                      approval=ApprovalPolicy(mode="confirm")),
    )
    with a.session() as s:
        ids = []
        for i in range(3):
            act = Action(
                run_id=run_id,
                day=0,
                sku=f"s{i}",
                kind="restock",
                status="pending",
                idempotency_key=f"{run_id}:{i}",
                card={"action_id": i},
            )
            s.add(act)
            s.flush()
            ids.append(act.id)
    yield a, b, run_id, ids
    a.close()
    b.close()


def test_concurrent_claims_of_one_action_exactly_one_wins(two_stores):
    a, b, run_id, ids = two_stores
    gate = threading.Barrier(8)
    won, lost = [], []

    def go(i: int) -> None:
        store = a if i % 2 else b
        gate.wait()
        try:
            claim_decisions(store, run_id, 0, {str(ids[0]): {"choice": "accept"}}, f"u{i}")
            won.append(i)
        except DecisionConflictError as exc:
            lost.append(exc)

    ts = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert len(won) == 1 and len(lost) == 7
    assert all(e.by == f"u{won[0]}" and e.action_id == ids[0] for e in lost)


def test_claims_are_all_or_nothing_and_released_while_pending(two_stores):
    a, b, run_id, ids = two_stores
    claim_decisions(a, run_id, 0, {str(ids[1]): {"choice": "accept"}}, "ann")
    with pytest.raises(DecisionConflictError, match="by ann"):
        claim_decisions(
            b,
            run_id,
            0,
            {str(ids[2]): {"choice": "accept"}, str(ids[1]): {"choice": "reject"}},
            "ben",
        )
    with b.session() as s:  # ids[2] was not claimed by the failed, mixed answer
        claimed = select(DecisionClaim.action_id).where(DecisionClaim.run_id == run_id)
        assert s.scalars(claimed).all() == [ids[1]]
    assert release_claims(b, [ids[1]]) == 1  # still pending: the claim goes
    with a.session() as s:
        s.get(Action, ids[2]).status = "approved"
    with pytest.raises(DecisionConflictError, match="status approved"):
        claim_decisions(a, run_id, 0, {str(ids[2]): {"choice": "accept"}}, "ann")


def test_a_claim_stranded_by_a_dead_process_is_taken_over(two_stores):
    """A process killed between its claim and its resume leaves a claim nobody releases: once
    it is older than ``stale_s`` on a still-pending action, the next answer takes it over."""
    import datetime as dt

    from sqlalchemy import update

    from agent.store.models import utcnow

    a, b, run_id, ids = two_stores
    claim_decisions(a, run_id, 0, {str(ids[0]): {"choice": "accept"}}, "ann")  # then "dies"
    with pytest.raises(DecisionConflictError, match="by ann"):  # fresh: still ann's
        claim_decisions(b, run_id, 0, {str(ids[0]): {"choice": "reject"}}, "ben")
    with a.session() as s:
        s.execute(update(DecisionClaim).where(DecisionClaim.action_id == ids[0])
                  .values(claimed_at=utcnow() - dt.timedelta(minutes=11)))
    claim_decisions(b, run_id, 0, {str(ids[0]): {"choice": "reject"}}, "ben")
    with b.session() as s:
        rows = s.execute(select(DecisionClaim.by, DecisionClaim.choice)
                         .where(DecisionClaim.action_id == ids[0])).all()
    assert [tuple(r) for r in rows] == [("ben", "reject")]
    # an old claim on an action that was decided is not stranded: it stays, and conflicts
    with a.session() as s:
        s.execute(update(DecisionClaim).where(DecisionClaim.action_id == ids[0])
                  .values(claimed_at=utcnow() - dt.timedelta(minutes=11)))
        s.get(Action, ids[0]).status = "rejected"
    with pytest.raises(DecisionConflictError, match="status rejected"):
        claim_decisions(a, run_id, 0, {str(ids[0]): {"choice": "accept"}}, "ann")


def test_thread_lease_is_exclusive_across_stores(two_stores):
    a, b, _, _ = two_stores
    with (
        thread_lease(a, "r:00000"),
        pytest.raises(ThreadBusyError, match="busy"),
        thread_lease(b, "r:00000", wait_s=0.3),
    ):
        pass
    with thread_lease(b, "r:00000"):  # released on exit
        pass
