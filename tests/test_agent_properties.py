"""Property test: whatever people answer, and when, no day executes beyond a hard rule and no
SKU has two live decisions (issue 18).

Random seeds drive random sequences of: days run by the real runner (a policy that orders
and discounts at random, far past the rules), answers (accept, edit to random quantities and
discounts, reject) given on time, late, twice, and concurrently from two store connections,
and expiries. After every step the store is checked against the rules:

* the purchase-order value executed on any shop day is within ``max_spend_per_day``;
* every executed order is within ``max_units_per_order``, every discount within the cap;
* each action executed at most once, and only if its status says so;
* at most one pending decision per SKU and kind.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict

import numpy as np
import pytest
from sqlalchemy import select

from agent.answers import DecisionConflictError
from agent.checkpoint import open_checkpointer
from agent.errors import ApprovalError
from agent.runner import Runner, RunOptions, answer_pending, create_run, load_context, pending_cards
from agent.store import open_store
from agent.store.models import Action, Execution
from envs import PlanArrays
from tools.risk import ApprovalPolicy

SPEND_PER_DAY, MAX_UNITS, MAX_DISCOUNT = 900.0, 400, 0.3
RULES = (
    f"max_spend_per_day: {SPEND_PER_DAY}\nmax_units_per_order: {MAX_UNITS}\n"
    f"max_discount: {MAX_DISCOUNT}\n"
)


class Reckless:
    """Orders up to 3,000 units of a random third of the SKUs and discounts up to 90 %."""

    name = "reckless"

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def reset(self, sim) -> None:
        self.n = sim.n

    def act(self, view, sim) -> PlanArrays:
        a = PlanArrays.empty(self.n)
        pick = self.rng.random(self.n) < 0.33
        a.order_qty[pick] = self.rng.integers(1, 3000, pick.sum())
        promo = self.rng.random(self.n) < 0.1
        a.promo_set[promo] = True
        a.discount[promo] = self.rng.uniform(0.05, 0.9, promo.sum())
        a.duration[promo] = 7
        return a


def _check(store, run_id: str, unit_cost: dict[str, float]) -> None:
    with store.session() as s:
        ex = s.scalars(select(Execution).where(Execution.run_id == run_id)).all()
        acts = {a.id: a for a in s.scalars(select(Action).where(Action.run_id == run_id))}
    per_day: dict[int, float] = defaultdict(float)
    for e in ex:
        if e.kind == "restock":
            assert 0 < e.params["quantity"] <= MAX_UNITS, e.params
            per_day[e.applied_day] += e.params["quantity"] * unit_cost[e.sku]
        else:
            assert e.params["discount"] <= MAX_DISCOUNT + 1e-9, e.params
        assert acts[e.action_id].status == "executed"
    for day, spent in per_day.items():
        assert spent <= SPEND_PER_DAY + 1e-6, (day, spent)
    assert max(Counter(e.action_id for e in ex).values(), default=1) == 1
    live = Counter((a.sku, a.kind) for a in acts.values() if a.status == "pending")
    assert max(live.values(), default=1) == 1, live.most_common(3)


@pytest.mark.parametrize("seed", range(6))
def test_random_answers_never_break_a_rule(tmp_path, seed):
    rng = random.Random(seed)
    (tmp_path / "rules.yaml").write_text(RULES)
    url = str(tmp_path / "prop.db")
    store, other = open_store(url), open_store(url)
    run_id = create_run(
        store,
        RunOptions(scenario="steady", seed=seed, policy="reckless", signals="ema",
                   rules_path=str(tmp_path / "rules.yaml"),
                   approval=ApprovalPolicy(mode=rng.choice(["risky", "confirm"]),
                                           threshold=0.3, deadline_days=rng.randint(0, 3))),
        policy=Reckless(seed),
    )
    answered: list[int] = []
    with open_checkpointer(store.url) as saver:
        runner = Runner(load_context(store, run_id), saver, approver=None)
        view = runner.ctx.shop.view()
        unit_cost = dict(zip(view.sku_ids, map(float, view.unit_cost), strict=True))
        for _ in range(40):
            op = rng.choice(["day", "answer", "answer", "answer", "again", "race"])
            cards = pending_cards(store, run_id)
            if op == "day" or not cards:
                runner.run_day()
            elif op == "again" and answered:
                with pytest.raises(DecisionConflictError):
                    answer_pending(store, run_id, _answer(rng, rng.choice(answered), "restock"))
            elif op == "race":
                c = rng.choice(cards)
                results: list[object] = []

                def go(st, c=c, results=results) -> None:
                    try:
                        results.append(answer_pending(st, run_id, _answer(rng, c["action_id"],
                                                                          c["kind"])))
                    except (DecisionConflictError, ApprovalError) as exc:
                        results.append(exc)

                ts = [threading.Thread(target=go, args=(st,)) for st in (store, other)]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join(60)
                assert sum(isinstance(r, DecisionConflictError) for r in results) >= 1
                answered.append(c["action_id"])
            else:
                chosen = rng.sample(cards, k=min(len(cards), rng.randint(1, 4)))
                for c in chosen:
                    answer_pending(store, run_id, _answer(rng, c["action_id"], c["kind"]))
                    answered.append(c["action_id"])
            _check(store, run_id, unit_cost)
            if runner.ctx.shop.done:
                break
    store.close()
    other.close()


def _answer(rng: random.Random, aid: int, kind: str) -> dict:
    choice = rng.choice(["accept", "edit", "reject"])
    d: dict = {"choice": choice, "reason": "property test"}
    if choice == "edit":
        if kind == "restock":
            d["quantity"] = rng.randint(0, 5000)
        else:
            d["discount"] = round(rng.uniform(0, 0.95), 3)
    return {"by": f"p{rng.randint(0, 3)}", "decisions": {str(aid): d}}
