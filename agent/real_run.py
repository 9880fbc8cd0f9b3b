"""Runs on a real shop (``shopops run --shop NAME|PATH``): the agent over imported history.

The same daily graph as a simulated run (:mod:`agent.graph`), with a
:class:`~tools.real_shop.SqlShop` as the shop: executed actions land in the outbox
(``shopops outbox``), not in a simulator. What differs is the clock:

* the open day is the shop's (``real_shop_state``), the day after the last imported sale at
  first; ``shopops run --shop X`` decides the open day and **leaves it open**, so running it
  again the same day finds the day's thread finished and writes nothing new (the outbox is
  unique on idempotency keys besides);
* ``--days N`` decides N days back to back, closing all but the last;
* days whose sales have been imported since they were decided are over: the next run closes
  them first (catching up), then decides the new open day;
* a decided day's **outcome** is recorded once the day is closed and its sales are imported,
  whichever comes last (:func:`record_real_outcomes`: when a run closes days, when a run
  starts, and after ``shopops import``): one ``day_outcomes`` row and one ``outcome``
  feedback event per day, keyed like a simulated run's (``outcome:RUN:DAY``), so rerunning
  or importing again never writes a second. What the history tells (:meth:`SqlShop.day_sales
  <tools.real_shop.SqlShop.day_sales>`): units sold, revenue at the lines' prices, cost of
  goods, stock-outs where a snapshot is dated that day, and the day's outbox lines the
  merchant had confirmed by then. ``profit`` is the gross margin (revenue - cost of goods):
  holding, ordering and lost-sales costs, which a simulated day adds, are not known. Later
  confirmations do not rewrite an outcome; they arrive as their own events;
* an **action's outcome**, as in a simulated run: once the ``ACTION_OUTCOME_DAYS`` days from
  the day of an outbox line the merchant confirmed as executed all have their outcomes, one
  ``outcome`` event with its ``action_id`` (key ``action-outcome:ACTION``) carries the SKU's
  gross margin over those days (``margin_by_sku`` of each day's ``outcome`` event), which is
  what the LM's feedback (``policies.lm.feedback``) learns from;
* closing a day also records every outbox line the merchant confirmed or failed
  (``execution_confirmed`` / ``execution_failed``).

Signals are the sales averages (``ema``): the online models learn from simulated days only.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from agent.approvals import Approver, make_approver
from agent.context import AgentContext
from agent.defaults import ACTION_OUTCOME_DAYS, DEFAULT_POLICY
from agent.errors import AgentConfigError, RunNotFoundError, RunStateError
from agent.store import Store, open_store
from agent.store.models import DayOutcome, FeedbackEvent, Run, Shop
from envs.config_files import validation_problem
from tools.errors import ShopBackendError
from tools.risk import ApprovalPolicy
from tools.rules import RulesConfig, load_rules
from tools.signals import EmaSignals

__all__ = [
    "RealRunResult",
    "close_real_day",
    "drive_real",
    "load_real_context",
    "record_outcomes_for_source",
    "record_real_outcomes",
    "run_real_shop",
]

#: How a real day's ``profit`` is measured (in its outcome event's payload).
PROFIT_BASIS = "gross margin: revenue - cost of goods (holding, ordering, lost sales unknown)"


@dataclasses.dataclass
class RealRunResult:
    """A real-shop run call: the run's summary and what this call did.

    Attributes:
        summary: :class:`agent.queries.RunSummary` of the run.
        outbox_new: outbox rows this call wrote.
        days_caught_up: days closed because their sales had been imported.
        open_day: the shop's open day after the call, and ``open_date`` its date.
    """

    summary: Any
    outbox_new: int
    days_caught_up: int
    open_day: int
    open_date: str

    def render(self) -> Any:
        """A rich table: the run, its open day, actions by status, the outbox rows written."""
        from rich.table import Table

        sm = self.summary
        t = Table(title=f"Run {sm.run_id}: real shop {sm.shop_id} ({sm.policy} / "
                  f"{sm.approval_mode})")
        t.add_column("what")
        t.add_column("value", justify="right")
        t.add_row("open day", f"{self.open_day} ({self.open_date})")
        t.add_row("days closed by imported sales", str(self.days_caught_up))
        for status, n in sorted(sm.statuses.items()):
            t.add_row(f"actions {status}", str(n))
        for rule, n in sorted(sm.refusals.items()):
            t.add_row(f"refused by {rule}", str(n))
        t.add_row("new outbox rows", str(self.outbox_new))
        t.add_row("store", sm.db_url)
        return t

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary.to_dict(), "outbox_new": self.outbox_new,
                "days_caught_up": self.days_caught_up, "open_day": self.open_day,
                "open_date": self.open_date}


def _approval(mode: str, threshold: float, deadline_days: int) -> ApprovalPolicy:
    from pydantic import ValidationError

    try:
        return ApprovalPolicy(mode=mode, threshold=threshold, deadline_days=deadline_days)
    except ValidationError as exc:
        field, msg = validation_problem(exc)
        raise AgentConfigError(f"{field}: {msg}") from None


def _check_history(store: Store, cfg: Any, base: Path) -> None:
    """A clear one-line error when the store has no history for the shop's source."""
    from agent.store.realdata import RealSale
    from online.ingest_real.mapping import load_mapping
    from tools.real_shop_config import data_dir, mapping_ref

    m = load_mapping(mapping_ref(cfg, base))
    with store.session() as s:
        n = s.scalar(select(func.count()).select_from(RealSale).where(RealSale.source == m.name))
    if n:
        return
    data = data_dir(cfg, base)
    if not data.is_dir():
        raise ShopBackendError(
            f"shop {cfg.name}: the real data is not at {data} (nothing imported into "
            f"{store.safe_url}); set data: in the shop file or get the data there"
        )
    raise ShopBackendError(
        f"shop {cfg.name}: nothing imported yet into {store.safe_url}; run: shopops import "
        f"--mapping {mapping_ref(cfg, base)} --data {data} --db {store.safe_url}"
    )


def run_real_shop(
    shop: str,
    *,
    days: int = 1,
    policy: str = DEFAULT_POLICY,
    approval_mode: str = "risky",
    approver: str | Approver | None = None,
    threshold: float = 0.5,
    deadline_days: int = 2,
    rules_path: str | None = None,
    run_id: str | None = None,
    new: bool = False,
    db_url: str | None = None,
    progress: bool = False,
) -> RealRunResult:
    """``shopops run --shop``: continue the shop's open run (or start one) and decide days.

    ``db_url`` overrides the shop file's ``db``.
    """
    from agent.store.realdata_io import StoreShopData
    from tools.real_shop import SqlShop
    from tools.real_shop_config import find_shop_config, load_shop_config, resolve

    if days < 1:
        raise AgentConfigError(f"days: must be at least 1; got {days}")
    cfg, base = load_shop_config(shop)
    appr = make_approver(approver) if isinstance(approver, str) or approver is None else approver
    store = open_store(db_url or resolve(base, cfg.db))
    try:
        _check_history(store, cfg, base)
        if run_id is None and not new:
            with store.session() as s:
                run_id = s.scalar(
                    select(Run.id)
                    .where(Run.shop_id == cfg.name, Run.status == "open", Run.kind == "run")
                    .order_by(Run.created_at.desc())
                    .limit(1)
                )
        if run_id is None:
            sql_shop = SqlShop(StoreShopData(store), cfg, base)
            run_id = _create_run(
                store, sql_shop, str(find_shop_config(shop)), policy,
                _approval(approval_mode, threshold, deadline_days), rules_path,
            )
        return drive_real(store, run_id, days, appr, progress)
    finally:
        store.close()


def _create_run(store: Store, shop: Any, shop_file: str, policy_name: str,
                approval: ApprovalPolicy, rules_path: str | None) -> str:
    from agent.policy_factory import make_run_policy

    rules = load_rules(rules_path)
    rules.check_categories(shop.category_names, source=str(rules_path))
    policy = make_run_policy(policy_name)
    policy.reset(shop.sim)
    run_id = uuid.uuid4().hex[:12]
    with store.session() as s:
        row = s.get(Shop, shop.shop_id)
        if row is None:
            s.add(Shop(id=shop.shop_id, backend="sql", approval_mode=approval.mode,
                       config={"shop_file": shop_file, "source": shop.source}))
            s.flush()
        elif row.backend != "sql":
            raise AgentConfigError(
                f"shop {shop.shop_id!r} exists in {store.safe_url} as a {row.backend} shop; "
                "give the real shop another name: in its shop file"
            )
        s.add(Run(
            id=run_id, shop_id=shop.shop_id, scenario=shop.sim.spec.name if shop.twin else None,
            seed=0, policy=policy_name, approval_mode=approval.mode,
            config={"approval": approval.model_dump(), "rules_path": rules_path,
                    "signals": "ema", "exec_chunk": 500, "rules": rules.model_dump(),
                    "shop_file": shop_file},
            start_day=shop.day, current_day=shop.day, horizon_days=None,
        ))
        s.flush()
        store.put_blob(run_id, "signals", {"bytes": b"", "cursor": 0}, session=s)
        store.put_blob(run_id, "policy", policy, session=s)  # StoreError if unpicklable
    return run_id


def load_real_context(store: Store, run_id: str, *, with_policy: bool = True,
                      policy: Any = None) -> AgentContext:
    """The context of a real-shop run (the shop rebuilt from its shop file).

    Raises:
        RunNotFoundError: no such run.
        RunStateError: the shop's open day is not the run's (another run advanced it).
    """
    from agent.policy_factory import make_run_policy
    from agent.store.realdata_io import StoreShopData
    from tools.real_shop import SqlShop

    with store.session() as s:
        run = s.get(Run, run_id)
        if run is None:
            raise RunNotFoundError(f"no run {run_id!r} in {store.safe_url}; see `shopops status`")
        cfg, day, pol_name = dict(run.config), int(run.current_day), run.policy
    shop = SqlShop.open(StoreShopData(store), cfg["shop_file"], run_id=run_id)
    if shop.day != day:
        raise RunStateError(
            f"run {run_id}: its open day is {day} but shop {shop.shop_id} is at day {shop.day} "
            "(another run advanced it); start a new run with --new"
        )
    if with_policy and policy is None:
        policy = store.get_blob(run_id, "policy")
        if policy is None:
            policy = make_run_policy(pol_name)
            policy.reset(shop.sim)
    return AgentContext(
        store=store, run_id=run_id, shop=shop,  # type: ignore[arg-type]
        rules=RulesConfig.model_validate(cfg.get("rules", {})),
        approval=ApprovalPolicy.model_validate(cfg.get("approval", {})),
        policy=policy if with_policy else None, policy_name=pol_name,
        signals=EmaSignals(), exec_chunk=int(cfg.get("exec_chunk", 500)),
        close_day=close_real_day,
    )


def close_real_day(ctx: AgentContext) -> dict[str, Any]:
    """Close the open day of a real-shop run: advance the shop and the run, record events."""
    from agent.store.realdata import OutboxRow

    shop, store, run_id = ctx.shop, ctx.store, ctx.run_id
    day = shop.day
    with store.session() as s:
        run = s.get(Run, run_id, with_for_update=True)
        if run.current_day != day:
            raise RunStateError(
                f"run {run_id}: the store's open day is {run.current_day} but this process "
                f"holds day {day}; another process is running it"
            )
        out = shop.close_day(session=s)
        run.current_day = day + 1
        _record_outcomes(s, run, shop)
        events: list[dict[str, Any]] = []
        for key, sku, status, params, reason, d in s.execute(
            select(OutboxRow.idempotency_key, OutboxRow.sku, OutboxRow.status, OutboxRow.params,
                   OutboxRow.reason, OutboxRow.day)
            .where(OutboxRow.run_id == run_id, OutboxRow.status.in_(("executed", "failed")))
        ):
            kind = "execution_confirmed" if status == "executed" else "execution_failed"
            events.append({"event_key": f"outbox:{key[:60]}:{status}", "day": int(d),
                           "kind": kind, "sku": sku,
                           "payload": {"key": key, "line": params, "reason": reason}})
        have = set(s.scalars(select(FeedbackEvent.event_key).where(
            FeedbackEvent.event_key.in_([e["event_key"] for e in events]))))
        for e in events:
            if e["event_key"] not in have:
                s.add(FeedbackEvent(run_id=run_id, **e))
    return out


def _record_outcomes(s: Any, run: Run, shop: Any) -> list[int]:
    """In session ``s`` (``run`` locked): the outcomes of ``run``'s closed days not yet
    recorded whose sales ``shop`` knows (see the module docstring); returns those days."""
    from agent.store.realdata import OutboxRow

    closed = range(int(run.start_day), int(run.current_day))
    have = set(s.scalars(select(DayOutcome.day).where(DayOutcome.run_id == run.id)))
    todo = [(k, sales) for k in closed if k not in have
            for sales in [shop.day_sales(k)] if sales["sales_known"]]
    if not todo:
        _record_action_outcomes(s, run.id)  # a line confirmed after its days were recorded
        return []
    lines: dict[int, list[Any]] = {}
    for row in s.execute(
        select(OutboxRow.idempotency_key, OutboxRow.day, OutboxRow.sku, OutboxRow.kind,
               OutboxRow.params, OutboxRow.status)
        .where(OutboxRow.run_id == run.id, OutboxRow.day.in_([k for k, _ in todo]))
        .order_by(OutboxRow.id)
    ):
        lines.setdefault(int(row.day), []).append(row)
    keys = [f"outcome:{run.id}:{k}" for k, _ in todo]
    events = set(s.scalars(select(FeedbackEvent.event_key).where(
        FeedbackEvent.event_key.in_(keys))))
    for (k, sales), key in zip(todo, keys, strict=True):
        rows = lines.get(k, [])
        done = [r for r in rows if r.status == "executed"]
        outbox: dict[str, int] = {}
        for r in rows:
            outbox[r.status] = outbox.get(r.status, 0) + 1
        totals: dict[str, float] = {
            "sales": sales["units"],
            "lines_applied": len(done),
            "ordered": float(sum(float(r.params.get("quantity", 0)) for r in done
                                 if r.kind == "restock")),
            "promo_lines": sum(1 for r in done if r.kind == "promotion"),
            "stock_known_skus": sales["stock_known_skus"],
            "stockout_sku_days": sales["stockout_skus"],
        }
        breakdown = {"revenue": sales["revenue"], "cogs": sales["cogs"]}
        profit = sales["revenue"] - sales["cogs"]
        s.add(DayOutcome(run_id=run.id, day=k, profit=profit, breakdown=breakdown,
                         totals=totals))
        if key not in events:
            s.add(FeedbackEvent(
                event_key=key, run_id=run.id, day=k, kind="outcome", sku=None,
                payload={"profit": profit, **totals, **sales, "source": "imported",
                         "profit_basis": PROFIT_BASIS, "outbox": outbox,
                         "executed": [{"key": r.idempotency_key, "sku": r.sku, "kind": r.kind,
                                       "line": r.params} for r in done]},
            ))
    s.flush()
    _record_action_outcomes(s, run.id)
    return [k for k, _ in todo]


def _record_action_outcomes(s: Any, run_id: str) -> int:
    """In session ``s``: the outcome of every executed outbox line of ``run_id`` whose
    ``ACTION_OUTCOME_DAYS`` days from its day all have recorded outcomes and that has none
    yet (see the module docstring); returns how many were written."""
    from agent.store.models import Action
    from agent.store.realdata import OutboxRow

    lines = [
        (int(aid), sku, kind, int(d))
        for aid, sku, kind, d in s.execute(
            select(Action.id, OutboxRow.sku, OutboxRow.kind, OutboxRow.day)
            .join(Action, Action.idempotency_key == OutboxRow.idempotency_key)
            .where(OutboxRow.run_id == run_id, OutboxRow.status == "executed")
            .order_by(Action.id))
    ]
    keys = [f"action-outcome:{aid}" for aid, *_ in lines]
    have = set(s.scalars(select(FeedbackEvent.event_key).where(
        FeedbackEvent.event_key.in_(keys)))) if keys else set()
    open_lines = [(line, key) for line, key in zip(lines, keys, strict=True) if key not in have]
    if not open_lines:
        return 0
    first = min(line[3] for line, _ in open_lines)
    last = max(line[3] for line, _ in open_lines) + ACTION_OUTCOME_DAYS - 1
    margins = {  # only the days the open lines need (payloads hold every SKU's figures)
        int(day): p["margin_by_sku"]
        for day, p in s.execute(
            select(FeedbackEvent.day, FeedbackEvent.payload).where(
                FeedbackEvent.run_id == run_id, FeedbackEvent.day.between(first, last),
                FeedbackEvent.event_key.like(f"outcome:{run_id}:%")))
        if isinstance(p, dict) and isinstance(p.get("margin_by_sku"), dict)
    }  # days recorded before margins were kept have none: their lines get no outcome
    written = 0
    for (aid, sku, kind, d), key in open_lines:
        days = range(d, d + ACTION_OUTCOME_DAYS)
        if not all(k in margins for k in days):
            continue
        s.add(FeedbackEvent(
            event_key=key, run_id=run_id, day=d + ACTION_OUTCOME_DAYS - 1, kind="outcome",
            sku=sku,
            payload={"action_id": aid, "kind": kind,
                     "profit": float(sum(margins[k].get(sku, 0.0) for k in days)),
                     "from_day": d, "days": ACTION_OUTCOME_DAYS,
                     "basis": "the SKU's imported gross margin (revenue - cost of goods)"},
        ))
        written += 1
    if written:
        s.flush()
    return written


def record_real_outcomes(store: Store, run_id: str, shop: Any) -> list[int]:
    """Record the outcomes of ``run_id``'s closed days whose sales are now imported.

    Each day once (``day_outcomes`` is keyed on run and day; the run row is locked while
    checking). ``shop`` is the run's :class:`~tools.real_shop.SqlShop` with the history as
    imported now. Returns the days recorded.
    """
    with store.session() as s:
        run = s.get(Run, run_id, with_for_update=True)
        if run is None:
            raise RunNotFoundError(f"no run {run_id!r} in {store.safe_url}; see `shopops status`")
        return _record_outcomes(s, run, shop)


def record_outcomes_for_source(store: Store, source: str
                               ) -> tuple[dict[str, list[int]], dict[str, str]]:
    """After an import of ``source``: record the outcomes now known of every real-shop run
    on it (runs with no closed day left unrecorded are skipped without opening their shop).

    Returns the days recorded per run (runs that recorded none left out) and, per run whose
    shop could not be opened (its shop file moved, say), the one-line reason; the import
    itself stands either way, and the run's next ``shopops run`` records what is missing.
    """
    from agent.store.realdata_io import StoreShopData
    from envs.errors import ShopOpsError
    from tools.real_shop import SqlShop

    with store.session() as s:
        shops = {sid for sid, cfg in s.execute(
            select(Shop.id, Shop.config).where(Shop.backend == "sql"))
            if (cfg or {}).get("source") == source}
        if not shops:
            return {}, {}
        runs = s.execute(
            select(Run.id, Run.start_day, Run.current_day, Run.config)
            .where(Run.shop_id.in_(shops), Run.kind == "run")
            .order_by(Run.created_at)
        ).all()
        recorded = {rid: n for rid, n in s.execute(
            select(DayOutcome.run_id, func.count()).where(
                DayOutcome.run_id.in_([r.id for r in runs])).group_by(DayOutcome.run_id))}
    done: dict[str, list[int]] = {}
    failed: dict[str, str] = {}
    for r in runs:
        if recorded.get(r.id, 0) >= int(r.current_day) - int(r.start_day):
            continue  # every closed day has its outcome
        try:
            shop = SqlShop.open(StoreShopData(store), r.config["shop_file"], run_id=r.id)
        except ShopOpsError as exc:
            failed[r.id] = str(exc)
            continue
        days = record_real_outcomes(store, r.id, shop)
        if days:
            done[r.id] = days
    return done, failed


def drive_real(store: Store, run_id: str, days: int, approver: Approver | None,
               progress: bool = False) -> RealRunResult:
    """Catch up on days now over, then decide ``days`` days (all but the last closed)."""
    from agent.checkpoint import open_checkpointer
    from agent.clock import Runner
    from agent.queries import summarize_run
    from agent.store.realdata import OutboxRow

    t0 = time.perf_counter()
    ctx = load_real_context(store, run_id)
    shop = ctx.shop
    record_real_outcomes(store, run_id, shop)  # closed days whose sales came since

    def outbox_rows() -> int:
        with store.session() as s:
            return int(s.scalar(select(func.count()).select_from(OutboxRow)
                                .where(OutboxRow.shop_id == shop.shop_id)) or 0)

    before = outbox_rows()
    caught = 0
    with open_checkpointer(store.url) as saver:
        runner = Runner(ctx, saver, approver)
        while shop.day < shop.data_day():  # sales of the open day were imported: it is over
            runner.expire_due(shop.day)
            runner.close_day()
            caught += 1
        for k in range(days):
            day = shop.day
            runner.decide_day(day)
            runner.expire_due(day)
            if k < days - 1:
                runner.close_day()
            if progress:
                from rich.console import Console

                Console(stderr=True).print(f"run {run_id} decided day {day} "
                                           f"({shop.date_of(day)})")
    summary = summarize_run(store, run_id)
    summary.wall_s = time.perf_counter() - t0
    summary.node_s = {k: round(v, 4) for k, v in runner.node_s.items()}
    return RealRunResult(summary, outbox_rows() - before, caught, shop.day,
                         str(shop.date_of(shop.day)))
