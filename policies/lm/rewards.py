"""Reward functions for RL: score a completion by what it does in the simulator.

A training prompt is one SKU on one morning of a rollout. The morning is kept as a
:class:`RolloutState` in a :class:`StateBank`; the prompt's dataset row carries its
``state_id``. :class:`SimulatorReward` scores a completion like this:

1. parse it strictly; outside the grammar it gets ``invalid_reward`` (and is counted);
2. for each of ``n_futures`` futures, fork the saved morning with a fixed seed (the same
   random future for every completion of that prompt, and not the episode's realised one):
   on day 0 the SKU takes the completion's decision and every other SKU the expert's plan;
   on days 1..H-1 the expert (the tuned base-stock heuristic) runs the whole shop;
3. the reward is the shop's profit over those H days minus the same profit when the SKU
   follows the expert's plan on day 0 too, averaged over the futures and divided by one day
   of the SKU's revenue (``price x forecast``), so SKUs of every size weigh alike.

So a reward is the expert's *advantage* of the move, ``Q_expert(s, a) - V_expert(s)``, in
days of the SKU's revenue: one step of policy improvement over the expert. (A continuation
that re-orders every day instead would make "never order today" look free, since tomorrow
always fixes it; a policy trained on that collapses to not ordering.)
Everything is deterministic: the same completion on the same state scores the same.
Rewards follow TRL's signature ``(prompts, completions, **columns) -> list[float]``.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from envs.plan import PlanArrays
from envs.simulator import MarketSimulator
from policies.lm.codec import LMCodec
from policies.lm.grammar import SAFE_DECISION, Decision, parse_completion

__all__ = ["RolloutState", "SimulatorReward", "StateBank", "grammar_reward", "make_state"]


@dataclasses.dataclass
class RolloutState:
    """A saved morning of a rollout and the facts its rewards need.

    Attributes:
        sim: the simulator at that morning (never stepped: rewards fork it).
        sku: the SKU position the prompt is about.
        ref_plan: the expert's plan for the morning (every SKU's day-0 reference).
        expert: the expert policy that runs days 1..H-1 (reset on each fork it acts on).
        scale: one day of the SKU's revenue (reward unit).
        future_seed: seed of the first forked future (the others use the next seeds).
    """

    sim: MarketSimulator
    sku: int
    ref_plan: PlanArrays
    expert: Any
    scale: float
    future_seed: int


def make_state(
    sim: MarketSimulator, sku: int, expert_plan: PlanArrays, expert: Any, future_seed: int,
    codec: LMCodec | None = None,
) -> RolloutState:
    """Save ``sim``'s morning for SKU ``sku``; ``expert`` planned ``expert_plan`` for it."""
    codec = codec or LMCodec(sim)
    view = sim.view()
    daily = codec.forecast(view)
    return RolloutState(
        sim=sim.fork(),
        sku=int(sku),
        ref_plan=copy.deepcopy(expert_plan),
        expert=expert,
        scale=float(max(view.list_price[sku] * daily[sku], 1.0)),
        future_seed=int(future_seed),
    )


class StateBank:
    """Saved rollout mornings by id (the dataset's ``state_id`` column points here)."""

    def __init__(self) -> None:
        self._states: list[RolloutState] = []
        self._codecs: dict[int, LMCodec] = {}

    def add(self, state: RolloutState) -> int:
        """Store ``state``; return its id."""
        self._states.append(state)
        return len(self._states) - 1

    def __getitem__(self, state_id: int) -> RolloutState:
        return self._states[int(state_id)]

    def __len__(self) -> int:
        return len(self._states)

    def codec(self, state: RolloutState) -> LMCodec:
        """The codec of ``state``'s shop (one per catalogue, cached)."""
        key = id(state.sim.catalog)
        if key not in self._codecs:
            self._codecs[key] = LMCodec(state.sim)
        return self._codecs[key]


class SimulatorReward:
    """Profit over H days versus the reference decision, in days of the SKU's revenue.

    Args:
        bank: where the prompts' states live.
        horizon: H, days simulated per score.
        n_futures: futures averaged per score (each a seeded fork).
        invalid_reward: the score of a completion outside the grammar.

    Attributes:
        calls, invalid: completions scored and how many were outside the grammar.

    Example (``state_id`` comes from the dataset row)::

        reward = SimulatorReward(bank, horizon=14)
        reward(prompts, [" restock=7 discount=0 days=0"], state_id=[3])  # -> [0.42]
    """

    __name__ = "sim_profit"

    def __init__(
        self, bank: StateBank, horizon: int = 14, n_futures: int = 2, invalid_reward: float = -5.0
    ) -> None:
        from policies.lm.errors import LMConfigError

        if horizon < 1 or n_futures < 1:
            raise LMConfigError(
                f"horizon and n_futures must be >= 1; got {horizon} and {n_futures}"
            )
        self.bank = bank
        self.horizon = horizon
        self.n_futures = n_futures
        self.invalid_reward = float(invalid_reward)
        self._ref_cache: dict[int, float] = {}
        self.calls = 0
        self.invalid = 0

    def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        state_id: Sequence[int],
        log_metric: Any = None,
        **_: Any,
    ) -> list[float]:
        """One reward per completion (TRL reward-function signature)."""
        out: list[float] = []
        bad = 0
        for text, sid in zip(completions, state_id, strict=True):
            d = parse_completion(_as_text(text))
            if d is None:
                bad += 1
                out.append(self.invalid_reward)
            else:
                out.append(self.score(int(sid), d))
        self.calls += len(out)
        self.invalid += bad
        if log_metric is not None and out:
            log_metric("invalid_rate", bad / len(out))
        return out

    def score(self, state_id: int, decision: Decision) -> float:
        """The reward of ``decision`` on state ``state_id`` (deterministic)."""
        st = self.bank[state_id]
        if state_id not in self._ref_cache:
            self._ref_cache[state_id] = self.profit(state_id, None)
        return (self.profit(state_id, decision) - self._ref_cache[state_id]) / st.scale

    def profit(self, state_id: int, decision: Decision | None) -> float:
        """Mean shop profit over H days with the SKU taking ``decision`` on day 0
        (``None``: the expert's plan), the expert running the shop afterwards."""
        st = self.bank[state_id]
        codec = self.bank.codec(st)
        i = st.sku
        total = 0.0
        for k in range(self.n_futures):
            sim = st.sim.fork(seed=st.future_seed + k)
            for h in range(self.horizon):
                if sim.done:
                    break
                view = sim.view()
                if h == 0:
                    plan = copy.deepcopy(st.ref_plan)
                    if decision is not None:
                        mine = codec.decode([decision if j == i else SAFE_DECISION
                                             for j in range(sim.n)], view)
                        plan.order_qty[i] = mine.order_qty[i]
                        plan.promo_set = np.asarray(plan.promo_set, dtype=bool).copy()
                        plan.promo_set[i] = mine.promo_set[i]
                        plan.discount[i] = mine.discount[i]
                        plan.duration[i] = mine.duration[i]
                else:
                    plan = st.expert.act(view, sim)
                total += sim.step(plan, validate=False).profit
        return total / self.n_futures


_FIELD_PATTERNS = (
    re.compile(r"restock=(0|[1-9][0-9]?)"),
    re.compile(r"discount=(0|[1-9]0)"),
    re.compile(r"days=(0|[1-9][0-9]?)"),
)


def grammar_reward(prompts: Sequence[Any], completions: Sequence[Any], **_: Any) -> list[float]:
    """Format reward: 0 for a completion in the grammar, else -1 plus 0.25 per leading word
    of the right shape (so a policy that writes nonsense still gets a gradient towards the
    grammar; the simulator reward alone scores every invalid text the same).

    >>> grammar_reward(["p"] * 3, [" restock=7 discount=0 days=0", " restock=7 hello", "x"])
    [0.0, -0.75, -1.0]
    """
    out = []
    for c in completions:
        text = _as_text(c)
        if parse_completion(text) is not None:
            out.append(0.0)
            continue
        words = text.strip().split(" ")
        good = 0
        for word, pattern in zip(words, _FIELD_PATTERNS, strict=False):
            if pattern.fullmatch(word) is None:
                break
            good += 1
        out.append(-1.0 + 0.25 * good)
    return out


def _as_text(completion: Any) -> str:
    """Completion text from TRL's plain string or conversational form."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content", ""))
    return ""
