"""The store's access tables: API users, their tokens and shop grants, and decision claims.

Access (written by ``shopops tokens``, read by the web API, :mod:`agent.web.auth`)::

    api_users         a person or a system: unique ``name`` (recorded with every decision
                      it makes) and a ``role``: viewer < approver < admin
    api_tokens        bearer tokens of a user; only the SHA-256 of a token is stored
                      (``token_hash``, unique) with its first characters (``prefix``) so a
                      person can tell tokens apart; ``revoked_at`` disables one
    api_grants        the shops a user may see and (as approver) answer; shop ``*`` is
                      every shop; admins see and answer every shop without grants

Legacy tables (no longer written): ``decision_claims`` and ``thread_leases`` held the claims
and leases of the answer path that resumed a day's LangGraph thread. Answers are now one
transaction under the run's lock (:mod:`agent.answers`), so neither is needed; the tables
stay so older stores keep their history.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from agent.store.models import Base, utcnow

__all__ = ["ROLES", "ApiGrant", "ApiToken", "ApiUser", "DecisionClaim", "ThreadLease"]

#: Roles from least to most privileged.
ROLES = ("viewer", "approver", "admin")


class ApiUser(Base):
    __tablename__ = "api_users"
    __table_args__ = (UniqueConstraint("name", name="uq_api_users_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))  # viewer | approver | admin
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    __table_args__ = (
        UniqueConstraint("token_hash", name="uq_api_tokens_hash"),
        Index("ix_api_tokens_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("api_users.id"))
    token_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the token
    prefix: Mapped[str] = mapped_column(String(16))  # the token's first characters
    label: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class ApiGrant(Base):
    __tablename__ = "api_grants"
    __table_args__ = (UniqueConstraint("user_id", "shop_id", name="uq_api_grants"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("api_users.id"))
    shop_id: Mapped[str] = mapped_column(String(64))  # a shop id or "*"
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DecisionClaim(Base):
    __tablename__ = "decision_claims"
    __table_args__ = (
        UniqueConstraint("action_id", name="uq_decision_claims_action"),
        Index("ix_decision_claims_run_day", "run_id", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id"))
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    day: Mapped[int] = mapped_column(Integer)
    by: Mapped[str] = mapped_column(String(128))
    choice: Mapped[str] = mapped_column(String(16))  # accept | edit | reject
    claimed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ThreadLease(Base):
    __tablename__ = "thread_leases"

    thread_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))  # a random id per acquisition
    acquired_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
