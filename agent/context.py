"""What a graph run needs that is not state: the live objects, passed as LangGraph context.

LangGraph checkpoints the *state* (plain JSON, small) and never the *context*. A process that
resumes a thread (the runner after a crash, ``shopops chat`` answering an approval) rebuilds
the context from the store with :func:`agent.runner.load_context`. Nodes that need a part a
light context lacks (the policy, for ``plan``) raise :class:`~agent.errors.RunStateError`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from agent.errors import RunStateError
from agent.store import Store
from tools.risk import ApprovalPolicy
from tools.rules import RulesConfig
from tools.signals import Signals
from tools.sim_shop import SimShop

__all__ = ["AgentContext"]


@dataclasses.dataclass
class AgentContext:
    """Run-scoped objects for the graph's nodes.

    Attributes:
        store: the open store.
        run_id: the run being decided.
        shop: the shop backend (its open day is the run's current day).
        rules: the hard rules.
        approval: the approval policy (mode, threshold, deadline, what-if horizon).
        policy: the decision policy (``None`` in a light context that only resumes).
        policy_name: its registry name (recorded with every plan).
        signals: forecasts and alerts (``None``: the sales-average fallback).
        exec_chunk: actions executed per transaction in ``act``.
        close_day: how the shop's backend closes the open day (the clock calls it):
            ``agent.runner.close_sim_day`` or ``agent.real_run.close_real_day``.
        kb_shop: the shop key of its knowledge base (``None``: no knowledge base).
        reader_spec: how to load the reader (``{"llm", "adapter"}``); loaded on first use.
        kb_min_confidence: readings at or above it take effect without a person.
        kb_reviewer: a person who reviews the day's readings as they are filed
            (:class:`agent.kb.ReadingReviewer`; ``None``: readings wait in the store for
            ``shopops kb review``, the API or the console).
    """

    store: Store
    run_id: str
    shop: SimShop
    rules: RulesConfig
    approval: ApprovalPolicy
    policy: Any = None
    policy_name: str = "unknown"
    signals: Signals | None = None
    exec_chunk: int = 500
    close_day: Callable[[AgentContext], dict[str, Any]] | None = None
    kb_shop: str | None = None
    reader_spec: dict[str, Any] | None = None
    kb_min_confidence: float = 0.8
    kb_reviewer: Any = None
    _reader: Any = dataclasses.field(default=None, repr=False)

    def need_reader(self) -> Any:
        """The knowledge base's reader, loaded once (torch and the LLM load here)."""
        if self._reader is None:
            from agent.kb import cached_reader

            self._reader = cached_reader(self.reader_spec or {})
        return self._reader

    def need_policy(self) -> Any:
        """The policy, or a clear error when this context cannot plan."""
        if self.policy is None:
            raise RunStateError(
                f"run {self.run_id}: this process resumes approvals only and has no policy "
                "to plan with; continue the run with `shopops run --run "
                f"{self.run_id}`"
            )
        return self.policy
