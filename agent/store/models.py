"""The store's tables (SQLAlchemy 2 typed models). One schema for SQLite and PostgreSQL.

Lifecycle of an action (``actions.status``)::

    auto ──────────────┐           under the risk threshold (or approval mode ``auto``)
    pending ─┬─ accept/edit ┤      waits for a person; ``approvals`` holds the answer
             ├─ rejected   │
             ├─ expired    │       unanswered past the deadline
             └─ superseded │       a newer decision for the same SKU and kind replaced it
                           │       (``superseded_by`` points at it)
                           ├──> executed   re-checked by the rules at execution; a row in
                           │               ``executions`` (unique idempotency key)
                           └──> refused    the rules at execution allowed nothing of it

Tables:

* ``shops``: a shop the agent runs for (backend ``sim`` for now), its approval mode and rules.
* ``runs``: one agent session over a shop; for a simulated shop also its simulated clock
  (``current_day``: the open day, the one the next decisions are for).
* ``plans``: the policy's proposal for a run-day, as proposed (before the rules).
* ``actions``: one line per SKU and kind (``restock`` / ``promotion``) after the rules, with
  its risk, decision card, status and idempotency key.
* ``rule_events``: every repair (``clipped``) or refusal (``dropped``) with the rule's id.
* ``approvals``: who decided what, when, with which edit and reason (one per action).
* ``executions``: what reached the shop; ``idempotency_key`` is unique, so executing twice is
  impossible. ``applied_day`` is the shop day the execution took effect.
* ``day_outcomes``: a closed simulated day's profit and cost breakdown.
* ``feedback_events``: approval decisions, executions and outcomes as events for learning.
* ``model_versions``: policies and signal models used by runs (name, version, parameters).
* ``blobs``: large objects by key (simulator and policy snapshots, sensed signals); the graph
  state refers to them by key. Blobs are pickles: the store is trusted, like a local disk.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Action",
    "Approval",
    "Base",
    "Blob",
    "DayOutcome",
    "Execution",
    "FeedbackEvent",
    "ModelVersion",
    "PlanRecord",
    "RuleEvent",
    "Run",
    "Shop",
    "utcnow",
]


def utcnow() -> dt.datetime:
    """The current time in UTC, timezone-naive (the same on SQLite and PostgreSQL)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base; ``type_annotation_map`` maps ``dict``/``list`` to JSON."""

    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012


class Shop(Base):
    __tablename__ = "shops"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    backend: Mapped[str] = mapped_column(String(16), default="sim")
    approval_mode: Mapped[str] = mapped_column(String(16), default="risky")
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    shop_id: Mapped[str] = mapped_column(ForeignKey("shops.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="run")  # run | replay
    scenario: Mapped[str | None] = mapped_column(String(200))
    seed: Mapped[int] = mapped_column(Integer, default=0)
    policy: Mapped[str] = mapped_column(String(64))
    approval_mode: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | finished | failed
    start_day: Mapped[int] = mapped_column(Integer, default=0)
    current_day: Mapped[int] = mapped_column(Integer, default=0)
    horizon_days: Mapped[int | None] = mapped_column(Integer)
    learned_through_day: Mapped[int] = mapped_column(Integer, default=-1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PlanRecord(Base):
    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("run_id", "day", name="uq_plans_run_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    day: Mapped[int] = mapped_column(Integer)
    policy: Mapped[str] = mapped_column(String(64))
    proposal: Mapped[dict[str, Any]] = mapped_column(default=dict)  # Plan.model_dump()
    raw_text: Mapped[str | None] = mapped_column(Text)  # a text plan, verbatim
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Action(Base):
    __tablename__ = "actions"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_actions_key"),
        Index("ix_actions_run_day", "run_id", "day"),
        Index("ix_actions_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    day: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # restock | promotion
    proposed: Mapped[dict[str, Any]] = mapped_column(default=dict)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # after rules (and edits)
    status: Mapped[str] = mapped_column(String(16), default="auto")
    risk: Mapped[float] = mapped_column(Float, default=0.0)
    risk_parts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    card: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text, default="")
    idempotency_key: Mapped[str] = mapped_column(String(64))
    # the newer decision for the same SKU and kind that replaced this one while it waited
    superseded_by: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RuleEvent(Base):
    __tablename__ = "rule_events"
    __table_args__ = (Index("ix_rule_events_run_day", "run_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    day: Mapped[int] = mapped_column(Integer)
    action_id: Mapped[int | None] = mapped_column(ForeignKey("actions.id"))
    sku: Mapped[str | None] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))  # clipped | dropped
    detail: Mapped[str] = mapped_column(Text, default="")
    before: Mapped[dict[str, Any]] = mapped_column(default=dict)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Approval(Base):
    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("action_id", name="uq_approvals_action"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id"))
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    day: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(16))  # accept | edit | reject | expire
    by: Mapped[str] = mapped_column(String(128))
    edit: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_day: Mapped[int] = mapped_column(Integer)  # the shop's day when answered
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Execution(Base):
    __tablename__ = "executions"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_executions_key"),
        Index("ix_executions_run_applied", "run_id", "applied_day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id"))
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    day: Mapped[int] = mapped_column(Integer)  # the day the action was decided for
    applied_day: Mapped[int] = mapped_column(Integer)  # the shop day it took effect
    sku: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    executed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DayOutcome(Base):
    __tablename__ = "day_outcomes"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    profit: Mapped[float] = mapped_column(Float)
    breakdown: Mapped[dict[str, Any]] = mapped_column(default=dict)
    totals: Mapped[dict[str, Any]] = mapped_column(default=dict)  # units sold, lost, ...
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FeedbackEvent(Base):
    __tablename__ = "feedback_events"
    __table_args__ = (
        UniqueConstraint("event_key", name="uq_feedback_key"),
        Index("ix_feedback_run_day", "run_id", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_key: Mapped[str] = mapped_column(String(96))  # makes recording idempotent
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    day: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))  # approval | execution | outcome
    sku: Mapped[str | None] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("kind", "name", "version", name="uq_model_versions"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # policy | signals | chat
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Blob(Base):
    __tablename__ = "blobs"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
