"""Real feedback as training signal: records of decisions and verdicts, and preference pairs.

**Record format** (:class:`FeedbackRecord`, one per SKU decision that got a verdict or an
outcome): the prompt the policy saw, the decision it proposed (grammar units), and what
happened: a human ``verdict`` (``accept``, ``edit`` with the ``edited`` decision,
``reject`` with a ``reason``), and/or a realised ``outcome`` (profit attributed to the
decision over the days after it, any currency), and whether an online model flagged the
order as ``anomalous``.

**Preference pairs** (:func:`preference_pairs`), each ``(prompt, chosen, rejected)`` as
completion texts:

* ``edit``: the edited decision is preferred to the proposed one;
* ``reject``: doing nothing (the safe decision) is preferred to the rejected proposal;
* ``accept``: the accepted decision is preferred to any rejected proposal for the same
  prompt;
* outcomes: among records with the same prompt and different decisions, the one with the
  better realised outcome is preferred (when outcomes differ by more than ``min_gap``).

Records flagged ``anomalous`` never enter a pair (a glitch in the data, not a preference).

**Sources.** :func:`records_from_store` reads a ShopOps store (SQLAlchemy URL or SQLite
path) with SQLAlchemy Core, using whatever of ``actions``, ``approvals`` and
``feedback_events`` exist; the prompt comes from ``actions.card["lm_prompt"]`` (written by
the LM policy's plan node) or ``actions.proposed["lm_prompt"]``; actions without one are
skipped and counted. :func:`simulated_records` produces records from the simulator (a
scripted reviewer plus realised outcomes on forks), for tests and for bootstrapping before
real feedback exists.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from policies.lm.codec import decision_for_edit
from policies.lm.errors import LMArtifactError, TrainingDataError
from policies.lm.grammar import SAFE_DECISION, Decision, completion_text, is_valid, parse_completion

__all__ = [
    "FeedbackRecord",
    "PreferencePair",
    "preference_pairs",
    "records_from_store",
    "simulated_records",
]

_VERDICTS = ("accept", "edit", "reject")


@dataclasses.dataclass(frozen=True)
class FeedbackRecord:
    """One decision with its verdict and/or realised outcome (see the module docstring)."""

    prompt: str
    decision: Decision
    verdict: str | None = None
    edited: Decision | None = None
    reason: str = ""
    outcome: float | None = None
    anomalous: bool = False
    source: str = ""


@dataclasses.dataclass(frozen=True)
class PreferencePair:
    """``chosen`` is preferred to ``rejected`` after ``prompt``; ``why`` names the rule."""

    prompt: str
    chosen: str
    rejected: str
    why: str


def preference_pairs(
    records: Iterable[FeedbackRecord], min_gap: float = 0.0
) -> tuple[list[PreferencePair], dict[str, int]]:
    """Pairs from ``records`` and counts per rule (``excluded_anomalous`` included)."""
    counts: dict[str, int] = defaultdict(int)
    pairs: list[PreferencePair] = []
    by_prompt: dict[str, list[FeedbackRecord]] = defaultdict(list)
    for r in records:
        if r.anomalous:
            counts["excluded_anomalous"] += 1
            continue
        if not is_valid(r.decision):
            counts["excluded_invalid"] += 1
            continue
        by_prompt[r.prompt].append(r)
        proposed = completion_text(r.decision)
        if r.verdict == "edit" and r.edited is not None and is_valid(r.edited):
            if r.edited != r.decision:
                pairs.append(PreferencePair(r.prompt, completion_text(r.edited), proposed, "edit"))
                counts["edit"] += 1
        elif r.verdict == "reject" and r.decision != SAFE_DECISION:
            pairs.append(PreferencePair(r.prompt, completion_text(SAFE_DECISION), proposed,
                                        "reject"))
            counts["reject"] += 1
    for prompt, group in by_prompt.items():
        rejected = {r.decision for r in group if r.verdict == "reject"}
        for r in group:
            if r.verdict == "accept":
                for bad in rejected - {r.decision}:
                    pairs.append(PreferencePair(prompt, completion_text(r.decision),
                                                completion_text(bad), "accept"))
                    counts["accept"] += 1
        scored = [r for r in group if r.outcome is not None]
        for a in range(len(scored)):
            for b in range(a + 1, len(scored)):
                x, y = scored[a], scored[b]
                if x.decision == y.decision or abs(x.outcome - y.outcome) <= min_gap:
                    continue
                good, bad = (x, y) if x.outcome > y.outcome else (y, x)
                pairs.append(PreferencePair(prompt, completion_text(good.decision),
                                            completion_text(bad.decision), "outcome"))
                counts["outcome"] += 1
    counts["pairs"] = len(pairs)
    return pairs, dict(counts)


def _decision_from(d: Any) -> Decision | None:
    """A decision from a stored completion text (``"restock=7 discount=0 days=0"``, as the
    plan node records it) or mapping (``restock``/``discount``/``days`` keys)."""
    if isinstance(d, str):
        return parse_completion(d.strip())
    if not isinstance(d, dict):
        return None
    try:
        out = Decision(float(d["restock"]), int(d["discount"]), int(d["days"]))
    except (KeyError, TypeError, ValueError):
        return None
    return out if is_valid(out) else None


def records_from_store(url: str) -> tuple[list[FeedbackRecord], dict[str, int]]:
    """Feedback records from a store database, and counts of what was read and skipped.

    Reads ``actions`` (with ``card``/``proposed`` holding ``lm_prompt``, ``lm_decision`` and
    ``lm_basis``), ``approvals`` (verdict, edit, reason) and ``feedback_events`` of kind
    ``outcome`` (payload ``{"action_id": ..., "profit": ...}``) and ``anomaly``
    (payload ``{"action_id": ...}``), using only the tables that exist. An edit is read as
    a decision: its ``lm_decision`` if it has one, else its units (``quantity``,
    ``discount``, ``duration_days``, as the approval chat writes them) through the
    action's ``lm_basis`` (:func:`policies.lm.codec.decision_for_edit`); ``edits_read`` and
    ``edits_unreadable`` count them.

    Raises:
        LMArtifactError: the database cannot be opened or has no ``actions`` table.
    """
    from sqlalchemy import MetaData, create_engine, select
    from sqlalchemy.exc import SQLAlchemyError

    full = url if "://" in url else f"sqlite:///{url}"
    counts: dict[str, int] = defaultdict(int)
    try:
        engine = create_engine(full)
        meta = MetaData()
        meta.reflect(engine)
    except SQLAlchemyError as exc:
        raise LMArtifactError(f"{url}: cannot open the feedback database: {exc}") from None
    if "actions" not in meta.tables:
        raise LMArtifactError(f"{url}: no 'actions' table; is this a ShopOps store?")
    actions = meta.tables["actions"]
    verdicts: dict[int, tuple[str, Any, str]] = {}
    outcomes: dict[int, float] = {}
    anomalous: set[int] = set()
    with engine.connect() as conn:
        if "approvals" in meta.tables:
            t = meta.tables["approvals"]
            for row in conn.execute(select(t.c.action_id, t.c.decision, t.c.edit, t.c.reason)):
                verdicts[int(row.action_id)] = (str(row.decision), row.edit, row.reason or "")
        if "feedback_events" in meta.tables:
            t = meta.tables["feedback_events"]
            for row in conn.execute(select(t.c.kind, t.c.payload)):
                payload = row.payload if isinstance(row.payload, dict) else {}
                aid = payload.get("action_id")
                if aid is None:
                    continue
                if row.kind == "outcome" and "profit" in payload:
                    outcomes[int(aid)] = float(payload["profit"])
                elif row.kind == "anomaly" or payload.get("anomalous"):
                    anomalous.add(int(aid))
        rows = conn.execute(select(actions)).mappings().all()
    engine.dispose()
    records: list[FeedbackRecord] = []
    for row in rows:
        counts["actions"] += 1
        card = row.get("card") if isinstance(row.get("card"), dict) else {}
        proposed = row.get("proposed") if isinstance(row.get("proposed"), dict) else {}
        prompt = card.get("lm_prompt") or proposed.get("lm_prompt")
        decision = _decision_from(card.get("lm_decision") or proposed.get("lm_decision"))
        if not prompt or decision is None:
            counts["skipped_no_prompt"] += 1
            continue
        aid = int(row["id"])
        verdict, edit, reason = verdicts.get(aid, (None, None, ""))
        risk = row.get("risk_parts") if isinstance(row.get("risk_parts"), dict) else {}
        edited = None
        if verdict == "edit" and isinstance(edit, dict):
            edited = _decision_from(edit.get("lm_decision"))
            basis = card.get("lm_basis") or proposed.get("lm_basis")
            if edited is None and isinstance(basis, dict):  # an edit in units
                edited = decision_for_edit(decision, edit, basis)
            if edited is None:
                counts["edits_unreadable"] += 1
            else:
                counts["edits_read"] += 1
        records.append(FeedbackRecord(
            prompt=str(prompt),
            decision=decision,
            verdict=verdict if verdict in _VERDICTS else None,
            edited=edited,
            reason=str(reason),
            outcome=outcomes.get(aid),
            anomalous=aid in anomalous or bool(risk.get("anomaly")),
            source=f"store:{aid}",
        ))
        counts["records"] += 1
    return records, dict(counts)


def simulated_records(
    scenarios: Sequence[str] = ("steady",),
    seeds: Sequence[int] = (20,),
    day_stride: int = 7,
    skus_per_day: int = 4,
    horizon: int = 14,
    anomaly_rate: float = 0.05,
    seed: int = 0,
) -> list[FeedbackRecord]:
    """Feedback made with the simulator, in the same format as the store's.

    On saved mornings of base-stock episodes, a proposal (a random decision) is judged by a
    scripted reviewer that compares its H-day profit with the expert's decision on a common
    future: much worse is rejected, a little worse is edited to the expert's decision,
    otherwise accepted; every proposal and the expert's decision also get their realised
    outcome. A share ``anomaly_rate`` is flagged anomalous (and must be left out of pairs).

    Raises:
        TrainingDataError: nothing was produced.
    """
    from envs.simulator import MarketSimulator
    from policies.base_stock import BaseStockPolicy
    from policies.lm.codec import LMCodec
    from policies.lm.grammar import all_decisions
    from policies.lm.rewards import SimulatorReward, StateBank, make_state

    rng = np.random.default_rng(seed)
    choices = all_decisions()
    out: list[FeedbackRecord] = []
    for scenario in scenarios:
        for ep_seed in seeds:
            sim = MarketSimulator.from_scenario(scenario, seed=ep_seed)
            expert = BaseStockPolicy()
            expert.reset(sim)
            codec = LMCodec(sim)
            bank = StateBank()
            reward = SimulatorReward(bank, horizon=horizon, n_futures=1)
            while not sim.done:
                view = sim.view()
                plan = expert.act(view, sim)
                if sim.day % day_stride == 0:
                    prompts = codec.prompts(view)
                    ref = codec.encode(plan, view)
                    for i in rng.choice(sim.n, size=min(skus_per_day, sim.n), replace=False):
                        sid = bank.add(make_state(sim, int(i), plan, expert,
                                                  int(rng.integers(1 << 30)), codec))
                        proposal = choices[int(rng.integers(len(choices)))]
                        gain = reward.score(sid, proposal)  # vs the expert, in days of revenue
                        verdict = "reject" if gain < -1.0 else "edit" if gain < 0 else "accept"
                        flag = bool(rng.random() < anomaly_rate)
                        out.append(FeedbackRecord(
                            prompt=prompts[int(i)], decision=proposal, verdict=verdict,
                            edited=ref[int(i)] if verdict == "edit" else None,
                            reason="simulated reviewer", outcome=gain, anomalous=flag,
                            source=f"sim:{scenario}/{ep_seed}/{sim.day}/{int(i)}",
                        ))
                        out.append(FeedbackRecord(
                            prompt=prompts[int(i)], decision=ref[int(i)], outcome=0.0,
                            source=f"sim-expert:{scenario}/{ep_seed}/{sim.day}/{int(i)}",
                        ))
                sim.step(plan)
    if not out:
        raise TrainingDataError("simulated_records produced no records")
    return out
