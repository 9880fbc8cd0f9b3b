"""Runs: create a simulated shop's run, load any run's context, close a simulated day, and
the entry points (``shopops run``, ``demo``, ``replay``, answering from any process).

The clock that drives days is :class:`agent.clock.Runner`, one for every shop; this module
is the simulated backend's side of it and the place runs are loaded from:
:func:`load_context` rebuilds a run's context (a real shop's goes to
:func:`agent.real_run.load_real_context`, the only place the backend is chosen), and
:func:`close_sim_day` closes a simulated day in one transaction: steps the simulator with
every line executed for it (from the store, so late approvals answered in another process
count), records the outcome, feeds the outcome and new feedback events to the signals,
snapshots the simulator and the signals, and opens the next day. Each executed line also
gets its own realised outcome once :data:`agent.defaults.ACTION_OUTCOME_DAYS` days have
closed from the day it took effect: its SKU's attributable profit over those days
(:func:`tools.sim_shop.sku_day_profit`), an ``outcome`` event with the ``action_id`` (key
``action-outcome:ACTION``), which ``policies.lm.feedback`` pairs for training.

Every step is on disk before the next starts, so a killed process loses nothing:
:func:`resume_run` reloads the run (simulator snapshot of the open day, policy, signals),
finishes the interrupted thread from its last checkpoint (executions are idempotent by key)
and continues. Decisions are answered from any process with :func:`answer_pending`.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import delete, select

from agent.answers import AnswerResult, apply_answer
from agent.approvals import Approver, make_approver
from agent.clock import Runner
from agent.context import AgentContext
from agent.defaults import ACTION_OUTCOME_DAYS, DEFAULT_POLICY
from agent.errors import AgentConfigError, RunNotFoundError, RunStateError
from agent.kb import day_directives
from agent.policy_factory import make_run_policy
from agent.queries import RunSummary, pending_cards, summarize_run
from agent.store import Store, open_store
from agent.store.models import (
    Action,
    Approval,
    DayOutcome,
    Execution,
    FeedbackEvent,
    RuleEvent,
    Run,
    Shop,
)
from envs.config_files import validation_problem
from envs.simulator import DayResult, MarketSimulator
from tools.knowledge import hold_lines
from tools.risk import ApprovalPolicy
from tools.rules import load_rules
from tools.signals import make_signals
from tools.sim_shop import SimShop, sku_day_profit

__all__ = [
    "RunOptions",
    "RunSummary",
    "Runner",
    "answer_pending",
    "create_run",
    "load_context",
    "pending_cards",
    "resume_run",
    "run_shop_days",
    "run_simulated",
    "summarize_run",
]

ShopFactory = Callable[[MarketSimulator, str], SimShop]
_KEEP_BLOB_DAYS = 3


@dataclasses.dataclass
class RunOptions:
    """How to start a simulated run.

    Attributes:
        scenario: scenario name or file.
        seed: episode seed.
        policy: registry name of the decision policy.
        approval: the approval policy (mode, threshold, deadline, what-if horizon).
        rules_path: a rules file (None: the default rules).
        shop_id: the shop's name in the store (default ``sim-<scenario>``).
        signals: ``auto`` (online models when available), ``hub`` or ``ema``.
        exec_chunk: actions executed per transaction.
        knowledge: read the day's notices into the knowledge base with the reader and apply
            the directives in force (hard ones enforced, soft ones planned with).
        llm: the reader's checkpoint folder (``None``: the default SmolLM2).
        reader_adapter: the reader's LoRA adapter (``default``, ``none`` or a folder).
    """

    scenario: Any = "steady"  # a name, a path or a ScenarioSpec
    seed: int = 0
    policy: str = DEFAULT_POLICY
    approval: ApprovalPolicy = dataclasses.field(default_factory=ApprovalPolicy)
    rules_path: str | None = None
    shop_id: str | None = None
    signals: str = "auto"
    exec_chunk: int = 500
    knowledge: bool = False
    llm: str | None = None
    reader_adapter: str = "default"


# ---------------------------------------------------------------------------- create / load
def create_run(store: Store, opts: RunOptions, policy: Any = None) -> str:
    """Create a run (and its shop row if new) at day 0; returns the run id.

    ``policy`` overrides the registry (a policy object; ``opts.policy`` is then its label).
    """
    rules = load_rules(opts.rules_path)
    sim = MarketSimulator.from_scenario(opts.scenario, seed=opts.seed)
    rules.check_categories(sim.catalog.category_names, source=str(opts.rules_path))
    if policy is None:
        policy = make_run_policy(opts.policy)
    policy.reset(sim)
    run_id = uuid.uuid4().hex[:12]
    shop_id = opts.shop_id or f"sim-{sim.spec.name}"
    signals = make_signals(opts.signals, sim, prefix=f"{run_id}:")
    config = {
        "approval": opts.approval.model_dump(),
        "rules_path": opts.rules_path,
        "signals": signals.name,
        "exec_chunk": opts.exec_chunk,
        "rules": rules.model_dump(),
        "knowledge": (
            {"llm": opts.llm, "adapter": opts.reader_adapter} if opts.knowledge else None
        ),
    }
    with store.session() as s:
        if s.get(Shop, shop_id) is None:
            s.add(
                Shop(
                    id=shop_id,
                    backend="sim",
                    approval_mode=opts.approval.mode,
                    config={"scenario": sim.spec.name},
                )
            )
            s.flush()
        s.add(
            Run(
                id=run_id,
                shop_id=shop_id,
                scenario=sim.spec.name if not isinstance(opts.scenario, str) else opts.scenario,
                seed=opts.seed,
                policy=opts.policy,
                approval_mode=opts.approval.mode,
                config=config,
                start_day=0,
                current_day=0,
                horizon_days=sim.spec.horizon_days,
            )
        )
        s.flush()
        store.put_blob(run_id, "sim:0", sim, session=s)
        store.put_blob(run_id, "signals", {"bytes": signals.to_bytes(), "cursor": 0}, session=s)
        store.put_blob(run_id, "policy", policy, session=s)  # StoreError if unpicklable
    return run_id


def load_context(
    store: Store,
    run_id: str,
    *,
    with_policy: bool = True,
    policy: Any = None,
    shop_factory: ShopFactory | None = None,
) -> AgentContext:
    """Rebuild a run's context from the store (simulator at the open day, policy, signals).

    Raises:
        RunNotFoundError: no such run.
    """
    with store.session() as s:
        run = s.get(Run, run_id)
        if run is None:
            raise RunNotFoundError(f"no run {run_id!r} in {store.safe_url}; see `shopops status`")
        cfg, day, shop_id, pol_name = dict(run.config), run.current_day, run.shop_id, run.policy
        backend = s.get(Shop, shop_id).backend
    if backend == "sql":  # --- a real shop (tools.real_shop.SqlShop): agent/real_run.py ---
        from agent.real_run import load_real_context

        return load_real_context(store, run_id, with_policy=with_policy, policy=policy)
    sim = store.get_blob(run_id, f"sim:{day}")
    if sim is None:
        raise RunStateError(f"run {run_id}: the simulator snapshot of day {day} is missing")
    shop = (shop_factory or SimShop)(sim, shop_id)
    from tools.rules import RulesConfig

    rules = RulesConfig.model_validate(cfg.get("rules", {}))
    approval = ApprovalPolicy.model_validate(cfg.get("approval", {}))
    sig_blob = store.get_blob(run_id, "signals") or {}
    signals = make_signals(
        cfg.get("signals", "ema"), sim, prefix=f"{run_id}:", state=sig_blob.get("bytes") or None
    )
    if with_policy and policy is None:
        policy = store.get_blob(run_id, "policy")
        if policy is None:
            policy = make_run_policy(pol_name)
            policy.reset(sim)
    return AgentContext(
        store=store,
        run_id=run_id,
        shop=shop,
        rules=rules,
        approval=approval,
        policy=policy if with_policy else None,
        policy_name=pol_name,
        signals=signals,
        exec_chunk=int(cfg.get("exec_chunk", 500)),
        close_day=close_sim_day,
        kb_shop=shop_id if cfg.get("knowledge") else None,
        reader_spec=cfg.get("knowledge"),
    )


# ---------------------------------------------------------------------------- closing a day
def close_sim_day(ctx: AgentContext) -> dict[str, Any]:
    """Step the simulator over the open day with its executed lines; open the next (the
    simulated backend's ``ctx.close_day``; see the module docstring, step 3)."""
    store = ctx.store
    shop, run_id = ctx.shop, ctx.run_id
    day = shop.day
    with store.session() as s:
        run = s.get(Run, run_id, with_for_update=True)  # serialises with the clock
        if run.current_day != day:
            raise RunStateError(
                f"run {run_id}: the store's open day is {run.current_day} but this process "
                f"holds day {day}; another process is running it"
            )
        lines = [
            p
            for (p,) in s.execute(
                select(Execution.params)
                .where(Execution.run_id == run_id, Execution.applied_day == day)
                .order_by(Execution.id)
            )
        ]
        view = shop.view()
        kb = day_directives(ctx, view, session=s)  # stop-sale holds: rules, read now
        holds = hold_lines(kb[0], shop.sku_ids) if kb is not None else []
        result = shop.close_day([*lines, *holds])
        totals = {
            "demand": float(result.demand.sum()),
            "sales": float(result.sales.sum()),
            "lost": float(result.lost.sum()),
            "expired": float(result.expired.sum()),
            "ordered": float(result.ordered.sum()),
            "refused": float(result.refused.sum()),
            "stockout_sku_days": int(
                ((result.demand + view.backlog - result.sales) > 1e-9).sum()
            ),
            "inventory_units": float(view.on_hand.sum()),
            "promo_sku_days": int((result.discount > 0).sum()),
            "violation_sku_days": int((result.fines > 0).sum()),  # notices' fines/penalties
            "held_skus": len(holds),
            "lines_applied": len(lines),
        }
        s.add(
            DayOutcome(
                run_id=run_id,
                day=day,
                profit=float(result.profit),
                breakdown={k: float(v) for k, v in result.breakdown.items()},
                totals=totals,
            )
        )
        s.add(
            FeedbackEvent(
                event_key=f"outcome:{run_id}:{day}",
                run_id=run_id,
                day=day,
                kind="outcome",
                sku=None,
                payload={"profit": float(result.profit), **totals},
            )
        )
        sig_blob = store.get_blob(run_id, "signals", session=s) or {}
        cursor = int(sig_blob.get("cursor", 0))
        if ctx.signals is not None:
            ctx.signals.observe_day(result, shop.sim)
            fb = s.execute(
                select(
                    FeedbackEvent.id,
                    FeedbackEvent.day,
                    FeedbackEvent.sku,
                    FeedbackEvent.payload,
                )
                .where(
                    FeedbackEvent.run_id == run_id,
                    FeedbackEvent.kind == "approval",
                    FeedbackEvent.id > cursor,
                )
                .order_by(FeedbackEvent.id)
            ).all()
            if fb:
                ctx.signals.observe_feedback(
                    [{**p, "sku": sku, "day": d} for _, d, sku, p in fb]
                )
                cursor = int(fb[-1][0])
            store.put_blob(
                run_id,
                "signals",
                {"bytes": ctx.signals.to_bytes(), "cursor": cursor},
                session=s,
            )
        _record_action_outcomes(store, s, run_id, day, shop, result)
        store.put_blob(run_id, f"sim:{day + 1}", shop.sim, session=s)
        old = day + 1 - _KEEP_BLOB_DAYS
        store.delete_blobs(run_id, [f"sim:{old}", f"sense:{old}", f"plan:{old}"], s)
        run.current_day = day + 1
        if run.horizon_days is not None and day + 1 >= run.horizon_days:
            run.status = "finished"
    return {"day": day, "profit": float(result.profit)}


# ---------------------------------------------------------------------------- entry points
def run_simulated(
    scenario: str = "steady",
    days: int = 28,
    approval_mode: str = "risky",
    approver: str | Approver | None = "scripted",
    db_url: str | None = None,
    *,
    policy: str = DEFAULT_POLICY,
    seed: int = 0,
    rules_path: str | None = None,
    signals: str = "auto",
    approval: Mapping[str, Any] | None = None,
    progress: bool = False,
    shop_id: str | None = None,
) -> RunSummary:
    """Start a simulated run and run ``days`` days of it; the lead's ``shopops demo`` hook.

    Args:
        scenario: scenario name or file.
        days: days to run (stops at the horizon).
        approval_mode: ``auto`` | ``confirm`` | ``risky``.
        approver: ``scripted`` | ``accept`` | ``reject`` | ``terminal`` | ``none`` or an
            :class:`~agent.approvals.Approver`; ``none`` leaves approvals pending.
        db_url: the store (default ``$SHOPOPS_DB`` or ``~/.shopops/shopops.db``).
        policy: registry name of the policy.
        seed: episode seed.
        rules_path: rules file.
        signals: ``auto`` | ``hub`` | ``ema``.
        approval: other :class:`~tools.risk.ApprovalPolicy` fields (threshold, ...).
        progress: show a progress bar.
        shop_id: the shop's name (default ``sim-<scenario>``).
    """
    from pydantic import ValidationError

    t0 = time.perf_counter()
    try:
        ap = ApprovalPolicy.model_validate({**(approval or {}), "mode": approval_mode})
    except ValidationError as exc:
        field, msg = validation_problem(exc)
        raise AgentConfigError(f"approval.{field}: {msg}") from None
    if days < 1:
        raise AgentConfigError(f"days: must be at least 1; got {days}")
    appr = make_approver(approver) if isinstance(approver, str) or approver is None else approver
    store = open_store(db_url)
    try:
        opts = RunOptions(
            scenario=scenario,
            seed=seed,
            policy=policy,
            approval=ap,
            rules_path=rules_path,
            shop_id=shop_id,
            signals=signals,
        )
        run_id = create_run(store, opts)
        summary = _drive(store, run_id, days, appr, progress)
        summary.wall_s = time.perf_counter() - t0  # the whole call: loading included
        return summary
    finally:
        store.close()


def run_shop_days(
    *,
    scenario: str = "steady",
    days: int = 1,
    policy: str = DEFAULT_POLICY,
    approval_mode: str = "risky",
    approver: str | Approver | None = None,
    threshold: float = 0.5,
    deadline_days: int = 2,
    rules_path: str | None = None,
    seed: int = 0,
    run_id: str | None = None,
    new: bool = False,
    shop_id: str | None = None,
    signals: str = "auto",
    db_url: str | None = None,
    progress: bool = False,
    knowledge: bool = False,
    llm: str | None = None,
    reader_adapter: str = "default",
    kb_reviewer: Any = None,
) -> RunSummary:
    """``shopops run``: continue ``run_id`` (or the shop's open run) or start one; run days.

    A new run takes the approval settings given here; a continued run keeps its own.
    ``kb_reviewer`` (:class:`agent.kb.ReadingReviewer`) reviews readings as they are filed.
    """
    from pydantic import ValidationError

    t0 = time.perf_counter()

    appr = make_approver(approver) if isinstance(approver, str) or approver is None else approver
    store = open_store(db_url)
    try:
        if run_id is None and not new:
            sid = shop_id or f"sim-{scenario}"
            with store.session() as s:
                run_id = s.scalar(
                    select(Run.id)
                    .where(Run.shop_id == sid, Run.status == "open", Run.kind == "run")
                    .order_by(Run.created_at.desc())
                    .limit(1)
                )
        if run_id is None:
            try:
                ap = ApprovalPolicy(
                    mode=approval_mode, threshold=threshold, deadline_days=deadline_days
                )
            except ValidationError as exc:
                field, msg = validation_problem(exc)
                raise AgentConfigError(f"{field}: {msg}") from None
            run_id = create_run(
                store,
                RunOptions(
                    scenario=scenario,
                    seed=seed,
                    policy=policy,
                    approval=ap,
                    rules_path=rules_path,
                    shop_id=shop_id,
                    signals=signals,
                    knowledge=knowledge,
                    llm=llm,
                    reader_adapter=reader_adapter,
                ),
            )
        summary = _drive(store, run_id, days, appr, progress, kb_reviewer)
        summary.wall_s = time.perf_counter() - t0  # the whole command: loading included
        return summary
    finally:
        store.close()


def resume_run(
    run_id: str,
    days: int | None = None,
    approver: str | Approver | None = "scripted",
    db_url: str | None = None,
    progress: bool = False,
) -> RunSummary:
    """Continue ``run_id`` after a crash or a pause: finish the open day, then ``days`` more
    (``None``: only finish what was interrupted and close that day)."""
    appr = make_approver(approver) if isinstance(approver, str) or approver is None else approver
    store = open_store(db_url)
    try:
        return _drive(store, run_id, days if days is not None else 1, appr, progress)
    finally:
        store.close()


def _drive(
    store: Store, run_id: str, days: int, approver: Approver | None, progress: bool,
    kb_reviewer: Any = None,
) -> RunSummary:  # fmt: skip
    from agent.checkpoint import open_checkpointer

    t0 = time.perf_counter()
    ctx = load_context(store, run_id)
    ctx.kb_reviewer = kb_reviewer
    if getattr(ctx.shop, "backend", "sim") == "sql":  # --- a real shop: agent/real_run.py ---
        from agent.real_run import drive_real

        return drive_real(store, run_id, days, approver, progress).summary
    if ctx.shop.done:
        raise RunStateError(
            f"run {run_id} reached its horizon (day {ctx.shop.day}); start a new run"
        )
    from sqlalchemy.exc import IntegrityError

    with open_checkpointer(store.url) as saver:
        runner = Runner(ctx, saver, approver)
        try:
            runner.run(days, progress=progress)
        except IntegrityError as exc:  # a second process wrote the same day first
            raise RunStateError(
                f"run {run_id}: another process is running it at the same time "
                f"({type(exc.orig).__name__}); only one `shopops run` may drive a run"
            ) from None
    summary = summarize_run(store, run_id)
    summary.wall_s = time.perf_counter() - t0
    summary.node_s = {k: round(v, 4) for k, v in runner.node_s.items()}
    return summary


def answer_pending(
    store: Store,
    run_id: str,
    answer: Mapping[str, Any],
    *,
    shop_factory: ShopFactory | None = None,
) -> AnswerResult:
    """Answer pending decisions of ``run_id`` from any process (:mod:`agent.answers`).

    One transaction: the decisions are recorded, the accepted and edited lines are
    re-checked by the rules and executed on the shop's open day, or nothing happens.

    Raises:
        ApprovalError: the answer is malformed (names the field).
        agent.answers.DecisionConflictError: a decision is no longer pending (answered,
            expired or superseded); nothing changed.
    """
    ctx = load_context(store, run_id, with_policy=False, shop_factory=shop_factory)
    return apply_answer(ctx, answer)


def delete_run(store: Store, run_id: str) -> None:  # pragma: no cover - maintenance helper
    """Remove a run's rows (not its checkpoints)."""
    from agent.store.models import Blob, PlanRecord

    with store.session() as s:
        for model in (Execution, Approval, RuleEvent, FeedbackEvent, DayOutcome, Blob):
            s.execute(delete(model).where(model.run_id == run_id))
        s.execute(delete(Action).where(Action.run_id == run_id))
        s.execute(delete(PlanRecord).where(PlanRecord.run_id == run_id))
        s.execute(delete(Run).where(Run.id == run_id))


def _record_action_outcomes(
    store: Store, s: Any, run_id: str, day: int, shop: SimShop, result: DayResult
) -> None:
    """In the day-close transaction: add the closed day's per-SKU profit to the run's window
    of the last ``ACTION_OUTCOME_DAYS`` days (one blob) and write the outcome of every line
    that took effect ``ACTION_OUTCOME_DAYS - 1`` days before it."""
    window: dict[int, list[float]] = store.get_blob(run_id, "sku-profit-window", session=s) or {}
    window[day] = sku_day_profit(shop.sim, result).tolist()
    first = day - ACTION_OUTCOME_DAYS + 1
    window = {k: v for k, v in window.items() if k >= first}
    store.put_blob(run_id, "sku-profit-window", window, session=s)
    if first < 0 or len(window) < ACTION_OUTCOME_DAYS:  # days closed before outcomes were kept
        return
    done = s.execute(
        select(Execution.action_id, Execution.sku, Execution.kind)
        .where(Execution.run_id == run_id, Execution.applied_day == first)
        .order_by(Execution.id)
    ).all()
    for action_id, sku, kind in done:
        pos = shop.sku_index.get(sku)
        if pos is None:
            continue
        s.add(FeedbackEvent(
            event_key=f"action-outcome:{action_id}",
            run_id=run_id,
            day=day,
            kind="outcome",
            sku=sku,
            payload={
                "action_id": int(action_id),
                "kind": kind,
                "profit": float(sum(w[pos] for w in window.values())),
                "from_day": first,
                "days": ACTION_OUTCOME_DAYS,
                "basis": "sku attributable profit (tools.sim_shop.sku_day_profit)",
            },
        ))
