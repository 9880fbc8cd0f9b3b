"""Approval round trip through the real graph, checkpointer and store.

Interrupt with a decision card carrying a what-if number, edit the quantity, resume from a
fresh checkpointer connection (as another process would), and check that the edited action is
what executed and that the approval is stored with its reason.
"""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from agent.answers import DecisionConflictError
from agent.checkpoint import open_checkpointer
from agent.errors import ApprovalError
from agent.runner import (
    Runner,
    RunOptions,
    answer_pending,
    create_run,
    load_context,
    pending_cards,
)
from agent.state import thread_id
from agent.store import open_store
from agent.store.models import Action, Approval, DayOutcome, Execution, RuleEvent
from envs import PlanArrays
from tools.risk import ApprovalPolicy


class BigOrder:
    """Orders 400 units of the first SKU and 20 of the second, every day."""

    name = "big_order"

    def reset(self, sim) -> None:
        self.n = sim.n

    def act(self, view, sim) -> PlanArrays:
        a = PlanArrays.empty(self.n)
        a.order_qty[0] = 400
        a.order_qty[1] = 20
        return a


@pytest.fixture(params=["sqlite", "postgres"])
def setup(request, tmp_path):
    """A run in confirm mode on a SQLite file, and on PostgreSQL when a server is reachable."""
    if request.param == "sqlite":
        url = str(tmp_path / "agent.db")
    else:
        url = request.getfixturevalue("pg_database")
    store = open_store(url)
    opts = RunOptions(
        scenario="steady",
        seed=2,
        policy="big_order",
        signals="ema",
        approval=ApprovalPolicy(mode="confirm", whatif_horizon=10),
    )
    run_id = create_run(store, opts, policy=BigOrder())
    yield store, run_id
    store.close()


def _decide_day0(store, run_id):
    with open_checkpointer(store.url) as saver:
        runner = Runner(load_context(store, run_id), saver, approver=None)
        runner.decide_day(0)
        st = runner.graph.get_state({"configurable": {"thread_id": thread_id(run_id, 0)}})
        assert st.next == ()  # nothing waits inside the graph: the day's thread finished
    return pending_cards(store, run_id)


def _answer(store, run_id, aid, **d):
    by = d.pop("by", "alice")
    return answer_pending(open_store(store.url), run_id, {"by": by, "decisions": {str(aid): d}})


def test_edit_round_trip(setup):
    store, run_id = setup
    cards = _decide_day0(store, run_id)
    assert len(cards) == 2  # confirm mode: both actions wait
    big = next(c for c in cards if c["line"]["quantity"] == 400)
    assert isinstance(big["effect"]["profit_delta"], float)
    assert big["effect"]["horizon_days"] == 10
    assert big["why"]["band"][0] <= big["why"]["band"][1]
    with store.session() as s:  # nothing executed while waiting
        assert s.scalars(select(Execution).where(Execution.run_id == run_id)).first() is None

    out = _answer(store, run_id, big["action_id"], choice="edit", quantity=30,
                  reason="too many units")
    (res,) = out.decisions
    assert (res.status, res.executed["quantity"], res.applied_day) == ("executed", 30, 0)
    assert [c["action_id"] for c in pending_cards(store, run_id)] == [
        c["action_id"] for c in cards if c is not big
    ]

    with store.session() as s:
        ex = s.scalars(select(Execution).where(Execution.run_id == run_id)).all()
        assert [(e.sku, e.params["quantity"]) for e in ex] == [(big["sku"], 30)]
        ap = s.scalars(select(Approval).where(Approval.action_id == big["action_id"])).one()
        assert (ap.decision, ap.by, ap.reason, ap.edit) == (
            "edit",
            "alice",
            "too many units",
            {"quantity": 30},
        )
        act = s.get(Action, big["action_id"])
        assert act.status == "executed" and act.proposed["quantity"] == 400
        assert act.card["outcome"]["status"] == "executed"  # the card tells what happened

    # reject the other one; the day closes with the edited order
    other = next(c for c in cards if c is not big)
    _answer(store, run_id, other["action_id"], choice="reject", reason="not needed", by="bob")
    assert pending_cards(store, run_id) == []
    with open_checkpointer(store.url) as saver:
        Runner(load_context(store, run_id), saver, approver=None).close_day()
    with store.session() as s:
        assert s.get(Action, other["action_id"]).status == "rejected"
        outcome = s.get(DayOutcome, (run_id, 0))
        assert outcome.totals["lines_applied"] == 1
        assert outcome.totals["ordered"] == 30


def test_bad_answers_are_refused_and_change_nothing(setup):
    store, run_id = setup
    cards = _decide_day0(store, run_id)
    card_id = cards[0]["action_id"]
    with pytest.raises(ApprovalError, match="not a decision of this run"):
        answer_pending(store, run_id, {"decisions": {"999": {"choice": "accept"}}})
    with pytest.raises(ApprovalError, match="choice"):
        _answer(store, run_id, card_id, choice="maybe")
    with pytest.raises(ApprovalError, match="takes quantity"):
        _answer(store, run_id, card_id, choice="edit")
    for bad in ("1e12", "1,000", "1.2.3", "9" * 400, True, float("nan"), -3, "40.5"):
        with pytest.raises(ApprovalError, match="quantity"):
            _answer(store, run_id, card_id, choice="edit", quantity=bad)
    with pytest.raises(ApprovalError, match="control character"):
        _answer(store, run_id, card_id, choice="reject", reason="bad\x00reason")
    with pytest.raises(ApprovalError, match="decision id"):
        answer_pending(store, run_id, {"decisions": {str(2**63): {"choice": "accept"}}})
    with store.session() as s:
        assert s.get(Action, card_id).status == "pending"
        assert s.scalars(select(Approval).where(Approval.run_id == run_id)).first() is None


def test_edit_that_breaks_a_rule_is_clipped_and_told(setup, tmp_path):
    store, run_id = setup
    cards = _decide_day0(store, run_id)
    small = next(c for c in cards if c["line"]["quantity"] == 20)
    # 10 million units: far beyond the cover limit; the rules clip it at execution
    out = _answer(store, run_id, small["action_id"], choice="edit", quantity=10_000_000,
                  reason="stock up", by="carol")
    (res,) = out.decisions
    assert res.status == "executed" and res.executed["quantity"] < 10_000_000
    assert any("order.max_cover_days" in n for n in res.notes)
    assert "the rules changed it" in res.sentence()  # the person is told, in words
    with store.session() as s:
        ex = s.scalars(select(Execution).where(Execution.action_id == small["action_id"])).one()
        assert ex.params["quantity"] == res.executed["quantity"]
        rules = s.scalars(
            select(RuleEvent.rule).where(RuleEvent.action_id == small["action_id"])
        ).all()
        assert "order.max_cover_days" in rules
    assert np.isfinite(ex.params["quantity"])


class FirstDayOnly(BigOrder):
    """BigOrder's two orders on day 0, nothing after."""

    def act(self, view, sim) -> PlanArrays:
        return super().act(view, sim) if view.day == 0 else PlanArrays.empty(self.n)


def _run(store, policy, **approval):
    return create_run(
        store,
        RunOptions(scenario="steady", seed=2, policy="big_order", signals="ema",
                   approval=ApprovalPolicy(mode="confirm", **approval)),
        policy=policy,
    )


def test_unanswered_actions_expire_at_the_deadline_with_a_recorded_outcome(tmp_path):
    store = open_store(str(tmp_path / "exp.db"))
    run_id = _run(store, FirstDayOnly(), deadline_days=1)
    with open_checkpointer(store.url) as saver:
        runner = Runner(load_context(store, run_id), saver, approver=None)
        runner.run_day()  # day 0: both actions wait, the run goes on
        with store.session() as s:
            assert {a.status for a in s.scalars(select(Action).where(Action.day == 0))} == {
                "pending"
            }
        runner.run_day()  # day 1 closes: day-0 actions reach their deadline
    assert len(runner.expired) == 2 and all(e["whatif"] is not None for e in runner.expired)
    with store.session() as s:
        day0 = s.scalars(select(Action).where(Action.run_id == run_id, Action.day == 0)).all()
        assert {a.status for a in day0} == {"expired"}
        aps = s.scalars(select(Approval).where(Approval.day == 0)).all()
        assert {(a.decision, a.by) for a in aps} == {("expire", "system")}
        assert all("close of day 1" in a.reason for a in aps)
        assert not s.scalars(select(Execution).where(Execution.day == 0)).all()
    with pytest.raises(DecisionConflictError, match="expired") as err:  # a late answer: 409
        _answer(store, run_id, day0[0].id, choice="accept")
    assert err.value.status == "expired"
    store.close()


def test_a_newer_decision_supersedes_the_pending_one(tmp_path):
    """Break 3 of issue 18: approving day 4's and day 5's restock of one SKU doubled the
    order. Now day 5's decision supersedes day 4's; answering the old one says so."""
    store = open_store(str(tmp_path / "sup.db"))
    run_id = _run(store, BigOrder(), deadline_days=5)
    with open_checkpointer(store.url) as saver:
        runner = Runner(load_context(store, run_id), saver, approver=None)
        runner.run_day()
        runner.run_day()
    with store.session() as s:
        day0 = s.scalars(select(Action).where(Action.run_id == run_id, Action.day == 0)).all()
        day1 = {a.sku: a.id for a in s.scalars(select(Action).where(Action.day == 1))}
        assert {a.status for a in day0} == {"superseded"}
        assert all(a.superseded_by == day1[a.sku] for a in day0)
    with pytest.raises(DecisionConflictError, match="superseded by the newer decision #") as err:
        _answer(store, run_id, day0[0].id, choice="accept")
    assert err.value.superseded_by == day1[day0[0].sku]
    live = [(c["sku"], c["kind"]) for c in pending_cards(store, run_id)]
    assert live and len(live) == len(set(live))  # one live decision per SKU and kind
    store.close()


def test_a_rejection_reaches_the_next_decision_for_that_sku(tmp_path):
    """Issue 18: a rejection or edit never reached the next day's decision. Now the next
    decision for the SKU shows the answer on its card and, having been rejected, goes back
    to a person instead of executing unattended."""
    store = open_store(str(tmp_path / "memory.db"))
    run_id = create_run(
        store,
        RunOptions(scenario="steady", seed=2, policy="big_order", signals="ema",
                   approval=ApprovalPolicy(mode="risky", threshold=0.99, deadline_days=5)),
        policy=BigOrder(),
    )
    with open_checkpointer(store.url) as saver:
        runner = Runner(load_context(store, run_id), saver, approver=None)
        runner.decide_day(0)
        with store.session() as s:  # threshold 0.99: nothing waits on day 0
            small = s.scalars(select(Action).where(Action.day == 0,
                                                   Action.params["quantity"].as_integer() == 20)
                              ).one()
            assert small.status == "executed"
            # a person's late rejection of it is on record (as the chat would write it)
            s.add(Approval(action_id=small.id, run_id=run_id, day=0, decision="reject",
                           by="alice", reason="supplier is unreliable", decided_day=0))
        runner.close_day()
        runner.decide_day(1)
    with store.session() as s:
        again = s.scalars(select(Action).where(Action.day == 1, Action.sku == small.sku)).one()
    # not executed unattended: it waits for a person (or, when its own what-if loses money,
    # is not proposed at all)
    assert again.status in ("pending", "refused")
    from agent.routing import recent_answers

    prev = recent_answers(store, run_id, 1, {("restock", small.sku)})[("restock", small.sku)]
    assert (prev["decision"], prev["by"], prev["reason"]) == (
        "reject", "alice", "supplier is unreliable")
    if again.status == "pending":
        assert again.card["previous_answer"] == prev
    store.close()
