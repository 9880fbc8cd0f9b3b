"""Answers are atomic, exactly once, and never replayed (issue 18's breaks 1, 2, 5, 6).

Real stores (a SQLite file, and PostgreSQL when ``SHOPOPS_TEST_PG_URL`` is set), real runs,
real answers. Failures are injected where the outside world fails, at the database driver
(an ``before_cursor_execute`` hook that raises on one statement), never by replacing our
own code. After each failure: nothing of the answer is stored, the person got the error,
and every decision can still be answered, by anyone, in their own name.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time

import pytest
from sqlalchemy import event, func, select

from agent.answers import DecisionConflictError
from agent.checkpoint import open_checkpointer
from agent.runner import Runner, RunOptions, answer_pending, create_run, load_context, pending_cards
from agent.store import open_store
from agent.store.models import Action, Approval, Execution, FeedbackEvent, RuleEvent
from tools.risk import ApprovalPolicy


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "answers.db")
    return request.getfixturevalue("pg_database")


def _pending_run(url: str, days: int = 1, rules: str | None = None, deadline: int = 20,
                 expire: bool = True) -> str:
    store = open_store(url)
    run_id = create_run(
        store,
        RunOptions(scenario="steady", seed=1, policy="base_stock", signals="ema",
                   rules_path=rules,
                   approval=ApprovalPolicy(mode="confirm", deadline_days=deadline)),
    )
    with open_checkpointer(store.url) as saver:
        runner = Runner(load_context(store, run_id), saver, approver=None)
        for k in range(days):
            runner.decide_day(runner.ctx.shop.day)
            if expire:
                runner.expire_due(runner.ctx.shop.day)
            if k < days - 1:
                runner.close_day()
    store.close()
    return run_id


def _ans(aid: int, choice: str = "accept", by: str = "ann", **extra) -> dict:
    return {"by": by, "decisions": {str(aid): {"choice": choice, "reason": "r", **extra}}}


def _answer_rows(store, run_id: str) -> dict[str, int]:
    with store.session() as s:
        return {
            "approvals": s.scalar(select(func.count()).select_from(Approval)
                                  .where(Approval.run_id == run_id)),
            "executions": s.scalar(select(func.count()).select_from(Execution)
                                   .where(Execution.run_id == run_id)),
            "feedback": s.scalar(select(func.count()).select_from(FeedbackEvent)
                                 .where(FeedbackEvent.run_id == run_id,
                                        FeedbackEvent.kind == "approval")),
        }


# statements an answer writes, in order; a failure at each must leave nothing behind
_STEPS = ("UPDATE actions", "INSERT INTO executions", "INSERT INTO approvals",
          "INSERT INTO feedback_events")


@pytest.mark.parametrize("step", _STEPS)
def test_an_answer_that_fails_part_way_leaves_nothing_and_blocks_nothing(url, step):
    run_id = _pending_run(url)
    store = open_store(url)
    ids = [c["action_id"] for c in pending_cards(store, run_id)]
    assert len(ids) >= 3
    before = _answer_rows(store, run_id)
    armed = {"on": True}

    @event.listens_for(store.engine, "before_cursor_execute")
    def fail(conn, cursor, statement, params, context, executemany):
        if armed["on"] and statement.lstrip().upper().startswith(step.upper()):
            raise RuntimeError(f"injected failure at {step}")

    with pytest.raises(Exception, match="injected failure"):
        answer_pending(store, run_id, _ans(ids[0], "accept", by="ann"))
    armed["on"] = False
    event.remove(store.engine, "before_cursor_execute", fail)
    assert _answer_rows(store, run_id) == before  # nothing stored for a later replay
    with store.session() as s:
        assert s.get(Action, ids[0]).status == "pending"
    # another person's answer to another decision is applied, and only it
    other = answer_pending(store, run_id, _ans(ids[1], "reject", by="ben"))
    assert [d.status for d in other.decisions] == ["rejected"]
    # the failed decision is answered again by someone else: in their name, exactly once
    again = answer_pending(store, run_id, _ans(ids[0], "reject", by="cat"))
    assert [d.status for d in again.decisions] == ["rejected"]
    with store.session() as s:
        rows = s.execute(select(Approval.action_id, Approval.by, Approval.decision)
                         .where(Approval.run_id == run_id)).all()
        assert sorted(map(tuple, rows)) == sorted([(ids[0], "cat", "reject"),
                                                   (ids[1], "ben", "reject")])
        assert s.scalar(select(func.count()).select_from(Execution)
                        .where(Execution.action_id == ids[0])) == 0
    store.close()


def test_a_nul_reason_is_refused_and_the_day_goes_on(url):
    """Break 1 on PostgreSQL: a U+0000 reason used to return 500 and jam the day."""
    run_id = _pending_run(url)
    store = open_store(url)
    ids = [c["action_id"] for c in pending_cards(store, run_id)]
    with pytest.raises(Exception, match="control character"):
        answer_pending(store, run_id, {"by": "ann", "decisions": {
            str(ids[0]): {"choice": "reject", "reason": "no\x00pe"}}})
    for aid in ids[:3]:
        assert answer_pending(store, run_id, _ans(aid, "reject")).decisions[0].status == "rejected"
    store.close()


def test_concurrent_answers_of_one_decision_exactly_one_wins(url):
    run_id = _pending_run(url)
    stores = [open_store(url), open_store(url)]
    aid = pending_cards(stores[0], run_id)[0]["action_id"]
    gate = threading.Barrier(8)
    won, lost = [], []

    def go(i: int) -> None:
        gate.wait()
        try:
            answer_pending(stores[i % 2], run_id, _ans(aid, "accept", by=f"u{i}"))
            won.append(i)
        except DecisionConflictError as exc:
            lost.append(exc)

    ts = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert len(won) == 1 and len(lost) == 7
    assert all(e.by == f"u{won[0]}" and e.status == "executed" for e in lost)
    assert "already answered by" in str(lost[0])
    with stores[0].session() as s:
        assert s.scalar(select(func.count()).select_from(Execution)
                        .where(Execution.action_id == aid)) == 1
    for st in stores:
        st.close()


def test_a_mixed_answer_is_all_or_nothing(url):
    run_id = _pending_run(url)
    store = open_store(url)
    a, b = [c["action_id"] for c in pending_cards(store, run_id)][:2]
    answer_pending(store, run_id, _ans(a, "reject", by="ann"))
    with pytest.raises(DecisionConflictError, match="by ann"):
        answer_pending(store, run_id, {"by": "ben", "decisions": {
            str(b): {"choice": "accept"}, str(a): {"choice": "accept"}}})
    with store.session() as s:
        assert s.get(Action, b).status == "pending"  # not applied by the failed, mixed answer
    store.close()


def test_expiry_and_answers_racing_tell_the_truth(url):
    """Break 5: an answer that lost to the expiry used to get 200 with "expired" inside."""
    run_id = _pending_run(url, deadline=0, expire=False)
    store = open_store(url)
    ids = [c["action_id"] for c in pending_cards(store, run_id)]
    ctx = load_context(store, run_id, with_policy=False)
    gate = threading.Barrier(2)
    applied, refused = [], []

    def answers() -> None:
        gate.wait()
        for aid in ids:
            try:
                answer_pending(store, run_id, _ans(aid, "reject"))
                applied.append(aid)
            except DecisionConflictError as exc:
                assert exc.status == "expired" and "expired" in str(exc)
                refused.append(aid)

    t = threading.Thread(target=answers)
    t.start()
    gate.wait()
    from agent.answers import expire_due

    gone = {e["action_id"] for e in expire_due(ctx, 0)}
    t.join(120)
    assert sorted(applied + refused) == sorted(ids)
    assert set(refused) <= gone and not (set(applied) & gone)
    with store.session() as s:
        status = dict(s.execute(select(Action.id, Action.status).where(Action.id.in_(ids))).all())
    assert all(status[a] == "rejected" for a in applied)
    assert all(status[a] == "expired" for a in gone)
    store.close()


def _hold_the_run_lock(url: str, run_id: str, ready) -> None:  # pragma: no cover - subprocess
    from agent.execute import lock_run

    store = open_store(url)
    with store.session() as s:
        lock_run(s, run_id)
        ready.set()
        time.sleep(600)  # killed long before


def test_a_killed_answer_releases_the_run_at_once(url):
    """Break 6: a process killed mid-answer blocked the day for 10 minutes. The run's lock
    is a database transaction lock: the database drops it when the process dies."""
    run_id = _pending_run(url)
    store = open_store(url)
    aid = pending_cards(store, run_id)[0]["action_id"]
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_hold_the_run_lock, args=(url, run_id, ready))
    proc.start()
    assert ready.wait(60)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(30)
    t0 = time.monotonic()
    res = answer_pending(store, run_id, _ans(aid, "reject"))
    assert res.decisions[0].status == "rejected"
    assert time.monotonic() - t0 < 10
    store.close()


def test_accepts_are_rechecked_against_the_budget_at_execution(tmp_path):
    """Break 2: orders of days 0 and 1 accepted together on day 2 both executed, spending
    1,785.74 against max_spend_per_day 1000. Now the second is clipped or refused, and the
    person is told which rule did it."""
    rules = tmp_path / "rules.yaml"
    rules.write_text("max_spend_per_day: 300\n")
    url = str(tmp_path / "budget.db")
    run_id = _pending_run(url, days=3, rules=str(rules))
    store = open_store(url)
    cards = pending_cards(store, run_id)
    restocks = [c for c in cards if c["kind"] == "restock"]
    assert len(restocks) >= 2
    res = answer_pending(store, run_id, {"by": "ann", "decisions": {
        str(c["action_id"]): {"choice": "accept"} for c in restocks}})
    with store.session() as s:
        spent = sum(
            float(p["quantity"]) * cost
            for p, cost in [
                (e.params, c["why"]["unit_cost"])
                for e in s.scalars(select(Execution).where(Execution.run_id == run_id))
                for c in restocks if c["sku"] == e.sku
            ]
        )
        rules_hit = set(s.scalars(select(RuleEvent.rule).where(
            RuleEvent.run_id == run_id, RuleEvent.detail.like("at execution%"))))
    assert spent <= 300 + 1e-6
    assert any(d.notes for d in res.decisions)
    assert any(r.startswith("budget") for r in rules_hit), rules_hit
    store.close()


_PATHS = ("chat", "api", "expiry")


@pytest.mark.parametrize("path", _PATHS)
@pytest.mark.parametrize("step", _STEPS)
def test_every_answer_path_survives_a_failure_at_each_step(url, path, step):
    """The terminal chat, the HTTP API and the expiry, each with a failure injected at each
    statement (a class-level hook: it reaches the API server's own engine too). The person
    is told, the store is unchanged, and everything answers afterwards."""
    from sqlalchemy.engine import Engine

    from agent.answers import expire_due
    from agent.chat import ChatSession
    from agent.web.auth import create_token
    from tests.web_helpers import client, live_server

    if path == "expiry" and step == "INSERT INTO executions":
        pytest.skip("an expiry executes nothing")
    run_id = _pending_run(url, deadline=0, expire=False)
    store = open_store(url)
    ids = [c["action_id"] for c in pending_cards(store, run_id)]
    before = _answer_rows(store, run_id)
    armed = {"on": False}

    def fail(conn, cursor, statement, params, context, executemany):
        if armed["on"] and statement.lstrip().upper().startswith(step.upper()):
            raise RuntimeError(f"injected failure at {step}")

    event.listen(Engine, "before_cursor_execute", fail)
    try:
        if path == "chat":
            armed["on"] = True
            reply = ChatSession(store, "ann", run_id).handle(f"accept {ids[0]} fine")
            armed["on"] = False
            assert "nothing was changed" in str(reply) and "injected failure" in str(reply)
        elif path == "api":
            token, _ = create_token(store, "ann", role="admin")
            with live_server(url) as base, client(base, token) as c:
                armed["on"] = True
                r = c.post(f"/api/decisions/{ids[0]}/answer", json={"choice": "accept"})
                armed["on"] = False
                assert r.status_code == 500 and r.json()["code"] == "error", r.text
        else:
            ctx = load_context(store, run_id, with_policy=False)
            armed["on"] = True
            with pytest.raises(Exception, match="injected failure"):
                expire_due(ctx, 0)
            armed["on"] = False
    finally:
        event.remove(Engine, "before_cursor_execute", fail)
    assert _answer_rows(store, run_id) == before
    with store.session() as s:
        assert {s.get(Action, a).status for a in ids} == {"pending"}
    # everything still answers, and the expiry still runs
    res = answer_pending(store, run_id, _ans(ids[1], "reject", by="ben"))
    assert res.decisions[0].status == "rejected"
    gone = expire_due(load_context(store, run_id, with_policy=False), 0)
    with store.session() as s:
        status = {a: s.get(Action, a).status for a in ids}
    assert status[ids[1]] == "rejected" and {e["action_id"] for e in gone} <= set(ids)
    assert all(status[a] in ("expired", "executed", "refused") for a in ids if a != ids[1])
    store.close()
