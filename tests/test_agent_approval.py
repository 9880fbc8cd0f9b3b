"""Approval round trip through the real graph, checkpointer and store.

Interrupt with a decision card carrying a what-if number, edit the quantity, resume from a
fresh checkpointer connection (as another process would), and check that the edited action is
what executed and that the approval is stored with its reason.
"""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

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


def test_edit_round_trip(setup):
    store, run_id = setup
    with open_checkpointer(store.url) as saver:
        runner = Runner(load_context(store, run_id), saver, approver=None)
        runner.decide_day(0)
        st = runner.graph.get_state({"configurable": {"thread_id": thread_id(run_id, 0)}})
        assert st.next == ("approve",)
        cards = st.interrupts[0].value["cards"]
    assert len(cards) == 2  # confirm mode: both actions wait, in one interrupt
    big = next(c for c in cards if c["line"]["quantity"] == 400)
    assert isinstance(big["effect"]["profit_delta"], float)
    assert big["effect"]["horizon_days"] == 10
    assert big["why"]["band"][0] <= big["why"]["band"][1]
    with store.session() as s:  # nothing executed while waiting
        assert s.scalars(select(Execution).where(Execution.run_id == run_id)).first() is None

    answer = {
        "by": "alice",
        "decisions": {
            str(big["action_id"]): {"choice": "edit", "quantity": 30, "reason": "too many units"}
        },
    }
    with open_checkpointer(store.url) as saver:  # a fresh connection, as from `shopops chat`
        out = answer_pending(store, saver, run_id, 0, answer)
    assert out["still_pending"] == [c["action_id"] for c in cards if c is not big]

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

    # reject the other one; the thread finishes and the day closes with the edited order
    other = next(c for c in cards if c is not big)
    with open_checkpointer(store.url) as saver:
        out = answer_pending(
            store,
            saver,
            run_id,
            0,
            {
                "by": "bob",
                "decisions": {
                    str(other["action_id"]): {"choice": "reject", "reason": "not needed"}
                },
            },
        )
        assert out["finished"] and out["still_pending"] == []
        runner = Runner(load_context(store, run_id), saver, approver=None)
        runner.close_day()
    with store.session() as s:
        assert s.get(Action, other["action_id"]).status == "rejected"
        outcome = s.get(DayOutcome, (run_id, 0))
        assert outcome.totals["lines_applied"] == 1
        assert outcome.totals["ordered"] == 30


def test_bad_answers_are_refused_before_resuming(setup):
    store, run_id = setup
    with open_checkpointer(store.url) as saver:
        Runner(load_context(store, run_id), saver, approver=None).decide_day(0)
        with pytest.raises(ApprovalError, match="not waiting"):
            answer_pending(store, saver, run_id, 0, {"decisions": {"999": {"choice": "accept"}}})
        card_id = pending_cards(store, run_id)[0]["action_id"]
        bad_choice = {"decisions": {str(card_id): {"choice": "maybe"}}}
        with pytest.raises(ApprovalError, match="choice"):
            answer_pending(store, saver, run_id, 0, bad_choice)
        with pytest.raises(ApprovalError, match="needs quantity"):
            answer_pending(
                store, saver, run_id, 0, {"decisions": {str(card_id): {"choice": "edit"}}}
            )
    with store.session() as s:
        assert s.get(Action, card_id).status == "pending"


def test_edit_that_breaks_a_rule_is_clipped_and_recorded(setup, tmp_path):
    store, run_id = setup
    with open_checkpointer(store.url) as saver:
        runner = Runner(load_context(store, run_id), saver, approver=None)
        runner.decide_day(0)
        cards = (
            runner.graph.get_state({"configurable": {"thread_id": thread_id(run_id, 0)}})
            .interrupts[0]
            .value["cards"]
        )
        small = next(c for c in cards if c["line"]["quantity"] == 20)
        # 10 million units: far beyond the cover limit; the rules clip the edit
        answer_pending(
            store,
            saver,
            run_id,
            0,
            {
                "by": "carol",
                "decisions": {
                    str(small["action_id"]): {
                        "choice": "edit",
                        "quantity": 10_000_000,
                        "reason": "stock up",
                    }
                },
            },
        )
    with store.session() as s:
        ex = s.scalars(select(Execution).where(Execution.action_id == small["action_id"])).one()
        assert ex.params["quantity"] < 10_000_000
        rules = s.scalars(
            select(RuleEvent.rule).where(RuleEvent.action_id == small["action_id"])
        ).all()
        assert "order.max_cover_days" in rules
    assert np.isfinite(ex.params["quantity"])


def test_unanswered_actions_expire_at_the_deadline_with_a_recorded_outcome(tmp_path):
    store = open_store(str(tmp_path / "exp.db"))
    run_id = create_run(
        store,
        RunOptions(
            scenario="steady",
            seed=2,
            policy="big_order",
            signals="ema",
            approval=ApprovalPolicy(mode="confirm", deadline_days=1),
        ),
        policy=BigOrder(),
    )
    with open_checkpointer(store.url) as saver:
        runner = Runner(load_context(store, run_id), saver, approver=None)
        runner.run_day()  # day 0: both actions wait, the run goes on
        with store.session() as s:
            assert {a.status for a in s.scalars(select(Action).where(Action.day == 0))} == {
                "pending"
            }
        runner.run_day()  # day 1 closes: day-0 actions reach their deadline
        st = runner.graph.get_state({"configurable": {"thread_id": thread_id(run_id, 0)}})
        assert st.next == ()  # the day-0 thread finished
    with store.session() as s:
        day0 = s.scalars(select(Action).where(Action.run_id == run_id, Action.day == 0)).all()
        assert {a.status for a in day0} == {"expired"}
        aps = s.scalars(select(Approval).where(Approval.day == 0)).all()
        assert {(a.decision, a.by) for a in aps} == {("expire", "system")}
        assert all("close of day 1" in a.reason for a in aps)
        assert not s.scalars(select(Execution).where(Execution.day == 0)).all()
    store.close()
