"""The LM policy inside the agent: its prompts and decisions travel with the actions, the run
records which checkpoint decided, and a human's verdicts become preference pairs."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

pytest.importorskip("torch")

from rich.console import Console

from agent.cards import policy_line, render_card
from agent.checkpoint import open_checkpointer
from agent.runner import (
    Runner,
    RunOptions,
    answer_pending,
    create_run,
    load_context,
    pending_cards,
)
from agent.store import open_store
from agent.store.models import Action, PlanRecord
from agent.web.auth import Principal
from agent.web.queries import list_decisions
from policies.lm.feedback import preference_pairs, records_from_store
from policies.lm.grammar import parse_completion
from policies.lm.policy import LMPolicy
from tools.risk import ApprovalPolicy


def test_lm_decisions_and_human_verdicts_become_training_signal(tmp_path: Path) -> None:
    db = str(tmp_path / "agent.db")
    store = open_store(db)
    policy = LMPolicy(threads=1)
    opts = RunOptions(scenario="steady", seed=3, policy="lm", signals="ema",
                      approval=ApprovalPolicy(mode="confirm", whatif_horizon=5))
    run_id = create_run(store, opts, policy=policy)
    with open_checkpointer(store.url) as saver:
        runner = Runner(load_context(store, run_id, policy=policy), saver, approver=None)
        runner.decide_day(0)
    cards = pending_cards(store, run_id)
    assert cards, "the LM ordered nothing on day 0 of a steady shop"
    for card in cards:  # each card shows what the model read and wrote, in the grammar
        assert card["lm_prompt"].endswith("->") and parse_completion(card["lm_decision"])
        assert "lm_prompt" not in card["proposed"]
        # ... and the team's heuristic it read as advice, shown beside its own decision
        hr = card["lm_prompt"].split(" hr=")[1].split(" ")[0]
        assert card["lm_advice"].startswith(f"restock={hr} discount=")
        keeps = card["lm_decision"].startswith(card["lm_advice"])
        assert ("keeps" if keeps else "departs from") in policy_line(card)
    console = Console(record=True, width=200)
    console.print(render_card(cards[0]))  # the approval chat's card shows it
    assert "the tuned heuristic would restock=" in console.export_text()
    # the web console gets the same line from the API (worded once, in agent.cards)
    admin = Principal(user_id=0, name="t", role="admin", shops=None, token_id=0)
    listed = {d["action_id"]: d for d in list_decisions(store, admin, run_id=run_id)}
    assert {listed[c["action_id"]]["policy"] for c in cards} == {policy_line(c) for c in cards}
    first, second, rest = cards[0], cards[1], cards[2:]
    assert second["kind"] == "restock"
    halved = second["line"]["quantity"] // 2  # a human edit in units, as the chat writes it
    answer = {"by": "alice", "decisions": {
        str(first["action_id"]): {"choice": "reject", "reason": "too much stock"},
        str(second["action_id"]): {"choice": "edit", "quantity": halved, "reason": "half"},
        **{str(c["action_id"]): {"choice": "accept"} for c in rest},
    }}
    out = answer_pending(store, run_id, answer)
    assert {d.status for d in out.decisions} <= {"executed", "rejected", "refused"}
    assert pending_cards(store, run_id) == []
    with store.session() as s:
        plan = s.scalars(select(PlanRecord).where(PlanRecord.run_id == run_id)).one()
        assert plan.policy == f"lm@{policy.version}" and len(policy.version) == 12
        act = s.get(Action, first["action_id"])
        assert act.proposed["lm_decision"] == first["lm_decision"]
    store.close()

    records, counts = records_from_store(db)
    assert counts["actions"] == len(cards) and len(records) == len(cards)
    assert counts["edits_read"] == 1  # the edit in units was read as a decision
    edit = next(r for r in records if r.verdict == "edit")
    assert edit.edited is not None and edit.edited.restock < edit.decision.restock
    assert edit.edited.discount == edit.decision.discount
    verdicts = {r.verdict for r in records}
    assert "reject" in verdicts and (not rest or "accept" in verdicts)
    pairs, _ = preference_pairs(records)
    rejected = parse_completion(first["lm_decision"])
    assert any(p.why == "reject" and p.rejected.strip() == first["lm_decision"] for p in pairs)
    assert rejected is not None
