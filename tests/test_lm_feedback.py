"""Feedback to training signal: preference pairs (store and simulator) and the TRL reward model."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.lm.feedback import (
    FeedbackRecord,
    preference_pairs,
    records_from_store,
    simulated_records,
)
from policies.lm.grammar import SAFE_DECISION, Decision, completion_text

P = "cat=pantry name=x dow=1 dem=3 ->"


def test_pairs_follow_the_rules_and_leave_out_anomalies() -> None:
    big, small, mid = Decision(28, 0, 0), Decision(3, 0, 0), Decision(7, 0, 0)
    records = [
        FeedbackRecord(P, big, verdict="edit", edited=small),
        FeedbackRecord(P, big, verdict="reject", reason="too much stock"),
        FeedbackRecord(P, mid, verdict="accept"),
        FeedbackRecord(P, small, outcome=10.0),
        FeedbackRecord(P, mid, outcome=4.0),
        FeedbackRecord(P, Decision(5, 50, 14), verdict="reject", anomalous=True, outcome=99.0),
    ]
    pairs, counts = preference_pairs(records)
    got = {(p.why, p.chosen, p.rejected) for p in pairs}
    assert ("edit", completion_text(small), completion_text(big)) in got
    assert ("reject", completion_text(SAFE_DECISION), completion_text(big)) in got
    assert ("accept", completion_text(mid), completion_text(big)) in got
    assert ("outcome", completion_text(small), completion_text(mid)) in got
    assert counts["excluded_anomalous"] == 1
    assert all("discount=50" not in p.chosen + p.rejected for p in pairs)


def test_records_are_read_from_a_real_store_database(tmp_path: Path) -> None:
    sa = pytest.importorskip("sqlalchemy")
    from sqlalchemy.orm import Session

    from agent.store.models import Action, Approval, Base, FeedbackEvent, Run, Shop

    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = sa.create_engine(url)
    Base.metadata.create_all(engine)
    card = {"lm_prompt": P, "lm_decision": {"restock": 28, "discount": 0, "days": 0}}
    with Session(engine) as s:
        s.add(Shop(id="shop"))
        s.add(Run(id="run", shop_id="shop", policy="lm", approval_mode="risky"))
        s.flush()
        for i, (status, key) in enumerate((("rejected", "a"), ("approved", "b"), ("auto", "c"))):
            s.add(Action(id=i + 1, run_id="run", day=3, sku="x", kind="restock", status=status,
                         idempotency_key=key, card=card if key != "c" else None))
        s.flush()
        s.add(Approval(action_id=1, run_id="run", day=3, decision="reject", by="ana",
                       reason="overstock", decided_day=3))
        s.add(Approval(action_id=2, run_id="run", day=3, decision="edit", by="ana",
                       edit={"lm_decision": {"restock": 7, "discount": 0, "days": 0}},
                       decided_day=3))
        s.add(FeedbackEvent(event_key="o1", run_id="run", day=10, kind="outcome",
                            payload={"action_id": 2, "profit": 12.5}))
        s.commit()
    engine.dispose()
    records, counts = records_from_store(url)
    assert counts == {"actions": 3, "records": 2, "skipped_no_prompt": 1, "edits_read": 1}
    by_verdict = {r.verdict: r for r in records}
    assert by_verdict["reject"].reason == "overstock"
    assert by_verdict["edit"].edited == Decision(7, 0, 0) and by_verdict["edit"].outcome == 12.5
    pairs, _ = preference_pairs(records)
    assert {p.why for p in pairs} == {"edit", "reject"}


def test_missing_store_is_a_typed_error(tmp_path: Path) -> None:
    from policies.lm.errors import LMArtifactError

    with pytest.raises(LMArtifactError):
        records_from_store(str(tmp_path / "empty.db"))


def test_reward_model_trains_on_simulated_feedback(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from envs import MarketSimulator
    from policies.lm.codec import LMCodec
    from policies.lm.model import save_lm
    from policies.lm.reward_model import RewardModelConfig, RewardModelReward, train_reward_model
    from policies.lm.tokenizer import build_tokenizer

    torch.set_num_threads(1)
    records = simulated_records(("steady",), (21,), day_stride=30, skus_per_day=3, horizon=5)
    assert any(r.anomalous for r in records) or len(records) < 40
    pairs, counts = preference_pairs(records)
    assert counts["pairs"] == len(pairs) > 8
    sim = MarketSimulator.from_scenario("steady", seed=0)
    tok = build_tokenizer(LMCodec(sim).prompts(sim.view()))
    from policies.lm.model import TinyLMConfig, build_model

    save_lm(build_model(tok, TinyLMConfig(hidden_size=16, intermediate_size=32,
                                          num_hidden_layers=1, num_attention_heads=2)),
            tok, tmp_path / "policy")
    cfg = RewardModelConfig(out=str(tmp_path / "rm"), tokenizer_from=str(tmp_path / "policy"),
                            sim_scenarios=("steady",), sim_seeds=(1021,), hidden_size=16,
                            num_layers=1, max_steps=8, batch_size=8, threads=1,
                            report_to="none", learning_rate=3e-3)
    record = train_reward_model(cfg)
    assert record["steps"] == 8 and 0.0 <= record["validation"]["accuracy"] <= 1.0
    scorer = RewardModelReward.load(record["model_path"])
    a = scorer([P, P], [" restock=7 discount=0 days=0", " restock=28 discount=50 days=14"])
    assert len(a) == 2 and a[0] != a[1]  # a trained head separates different completions


def test_an_edit_in_units_is_read_as_the_nearest_decision() -> None:
    """The approval chat edits quantities and discounts, not grammar words."""
    from policies.lm.codec import decision_for_edit

    basis = {"daily": 10.0, "lead": 5.0, "position": 20.0}
    proposed = Decision(7, 0, 0)  # orders 10 x (5 + 7) - 20 = 100 units
    assert decision_for_edit(proposed, {"quantity": 40}, basis) == Decision(1, 0, 0)
    assert decision_for_edit(proposed, {"quantity": 0}, basis) == Decision(0, 0, 0)
    assert decision_for_edit(proposed, {"quantity": 100}, basis) == Decision(7, 0, 0)
    promo = Decision(0, 20, 7)
    assert decision_for_edit(promo, {"discount": 0.28}, basis) == Decision(0, 30, 7)
    assert decision_for_edit(promo, {"duration_days": 13}, basis) == Decision(0, 20, 14)
    assert decision_for_edit(promo, {"discount": 0.0}, basis) == Decision(0, 0, 0)
    assert decision_for_edit(Decision(2, 0, 0), {"discount": 0.1}, basis) == Decision(2, 10, 2)
    assert decision_for_edit(proposed, {"quantity": 40}, {"daily": 10.0}) is None
