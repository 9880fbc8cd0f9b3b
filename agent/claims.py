"""Answering a decision exactly once, from any number of processes.

Two people (two browser tabs, a browser and ``shopops chat``, two API clients) may answer
the same pending action at the same moment. Before :func:`agent.runner.answer_pending`
resumes the graph it **claims** every action of the answer with :func:`claim_decisions`:
one transaction inserts one ``decision_claims`` row per action, only for actions whose
status is still ``pending``. ``decision_claims.action_id`` is unique, so of two concurrent
claims exactly one commits; the other fails on the constraint (PostgreSQL) or, on SQLite,
waits for the first ``BEGIN IMMEDIATE`` transaction and then sees its row. The loser gets a
:class:`DecisionConflictError` naming who answered, and never touches the graph: the thread
resumes once per decision. The guarantee lives in the database, not in a process lock.

Answers for *different* actions of the same day resume the same LangGraph thread; they take
turns through :func:`thread_lease` (a ``thread_leases`` row per thread, again a primary key
in the database), so two resumes never run side by side from one checkpoint.

If resuming fails after the claim, :func:`release_claims` removes the claims of actions that
are still pending, so the decision can be answered again. A process killed between its claim
and its resume cannot release it: a claim older than ``stale_s`` (10 minutes by default, well
past the thread lease's two-minute wait) on an action that is still pending is *stranded*,
and the next answer takes it over in its own claim transaction.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from agent.errors import ApprovalError, RunStateError

__all__ = [
    "DecisionConflictError",
    "ThreadBusyError",
    "claim_decisions",
    "release_claims",
    "thread_lease",
]


class DecisionConflictError(ApprovalError):
    """Another answer claimed (or already decided) this action first.

    Attributes:
        action_id: the contested action.
        by: who holds it (``None`` when unknown).
        status: the action's status when the conflict was found.
    """

    def __init__(self, action_id: int, by: str | None, status: str) -> None:
        self.action_id, self.by, self.status = action_id, by, status
        who = f" by {by}" if by else ""
        super().__init__(
            f"decision #{action_id} was already answered{who} (status {status}); "
            "nothing was changed"
        )


class ThreadBusyError(RunStateError):
    """A day's thread stayed busy with another answer longer than we were willing to wait."""


def _claim_owner(store: Any, action_id: int) -> tuple[str | None, str]:
    from sqlalchemy import select

    from agent.store.auth import DecisionClaim
    from agent.store.models import Action, Approval

    with store.session() as s:
        by = s.scalar(select(DecisionClaim.by).where(DecisionClaim.action_id == action_id))
        if by is None:
            by = s.scalar(select(Approval.by).where(Approval.action_id == action_id))
        status = s.scalar(select(Action.status).where(Action.id == action_id)) or "unknown"
    return by, status


def claim_decisions(
    store: Any, run_id: str, day: int, decisions: Mapping[str, Mapping[str, Any]], by: str,
    *, stale_s: float = 600.0,
) -> None:
    """Claim every action of ``decisions`` (a validated answer's ``decisions``) for ``by``.

    All or nothing: one transaction; if any action is no longer pending or already claimed,
    nothing is claimed. A claim older than ``stale_s`` seconds on a still-pending action was
    stranded by a process that died before resuming: it is removed and claimed anew.

    Raises:
        DecisionConflictError: an action was answered or claimed first (names who).
    """
    from sqlalchemy import delete, select
    from sqlalchemy.exc import IntegrityError

    from agent.store.auth import DecisionClaim
    from agent.store.models import Action, utcnow

    ids = sorted(int(k) for k in decisions)
    lost: int | None = None
    try:
        with store.session() as s:
            status = dict(
                s.execute(
                    select(Action.id, Action.status).where(
                        Action.id.in_(ids), Action.run_id == run_id, Action.day == day
                    )
                ).all()
            )
            # compared in Python, as thread_lease does (no database time-zone arithmetic)
            stale = dt.timedelta(seconds=stale_s)
            stranded = [
                claim_id for claim_id, aid, at in s.execute(
                    select(DecisionClaim.id, DecisionClaim.action_id, DecisionClaim.claimed_at)
                    .where(DecisionClaim.action_id.in_(ids)))
                if status.get(aid) == "pending" and utcnow() - at > stale
            ]
            if stranded:  # by row id: a fresh claim made meanwhile is never removed
                s.execute(delete(DecisionClaim).where(DecisionClaim.id.in_(stranded)))
            taken = set(
                s.scalars(select(DecisionClaim.action_id).where(DecisionClaim.action_id.in_(ids)))
            )
            for aid in ids:
                if status.get(aid) != "pending" or aid in taken:
                    lost = aid
                    raise _Lost
            for aid in ids:
                d = decisions[str(aid)]
                s.add(
                    DecisionClaim(
                        action_id=aid,
                        run_id=run_id,
                        day=day,
                        by=str(d.get("by") or by),
                        choice=str(d["choice"]),
                    )
                )
            s.flush()
    except _Lost:
        pass
    except IntegrityError:
        lost = _first_taken(store, ids)
    if lost is not None:
        owner, status_now = _claim_owner(store, lost)
        raise DecisionConflictError(lost, owner, status_now)


class _Lost(Exception):
    """Internal: abort the claim transaction (rolled back by the session)."""


def _first_taken(store: Any, ids: list[int]) -> int:
    from sqlalchemy import select

    from agent.store.auth import DecisionClaim

    with store.session() as s:
        taken = sorted(
            s.scalars(select(DecisionClaim.action_id).where(DecisionClaim.action_id.in_(ids)))
        )
    return taken[0] if taken else ids[0]


def release_claims(store: Any, action_ids: Iterable[int]) -> int:
    """Remove the claims of those ``action_ids`` that are still pending; returns how many."""
    from sqlalchemy import delete, select

    from agent.store.auth import DecisionClaim
    from agent.store.models import Action

    ids = [int(a) for a in action_ids]
    if not ids:
        return 0
    with store.session() as s:
        still = list(
            s.scalars(select(Action.id).where(Action.id.in_(ids), Action.status == "pending"))
        )
        if not still:
            return 0
        res = s.execute(delete(DecisionClaim).where(DecisionClaim.action_id.in_(still)))
        return int(res.rowcount or 0)


@contextlib.contextmanager
def thread_lease(
    store: Any, thread: str, *, wait_s: float = 120.0, stale_s: float = 600.0
) -> Iterator[str]:
    """Hold the ``thread_leases`` row of ``thread`` while the body runs (see module docs).

    Waits (polling) while another holder has it; a lease older than ``stale_s`` (its holder
    died) is taken over.

    Raises:
        ThreadBusyError: still held by someone else after ``wait_s`` seconds.
    """
    from sqlalchemy import delete, select
    from sqlalchemy.exc import IntegrityError

    from agent.store.auth import ThreadLease
    from agent.store.models import utcnow

    holder = uuid.uuid4().hex
    deadline = time.monotonic() + wait_s
    pause = 0.01
    while True:
        try:
            with store.session() as s:
                row = s.get(ThreadLease, thread)
                if row is not None and utcnow() - row.acquired_at > dt.timedelta(seconds=stale_s):
                    s.execute(
                        delete(ThreadLease).where(
                            ThreadLease.thread_id == thread,
                            ThreadLease.holder == row.holder,
                        )
                    )
                    row = None
                if row is None:
                    s.add(ThreadLease(thread_id=thread, holder=holder))
                    s.flush()
                    break
        except IntegrityError:
            pass
        if time.monotonic() > deadline:
            with store.session() as s:
                since = s.scalar(
                    select(ThreadLease.acquired_at).where(ThreadLease.thread_id == thread)
                )
            raise ThreadBusyError(
                f"thread {thread} is busy with another answer (since {since}); try again"
            )
        time.sleep(pause)
        pause = min(pause * 2, 0.2)
    try:
        yield holder
    finally:
        with store.session() as s:
            s.execute(
                delete(ThreadLease).where(
                    ThreadLease.thread_id == thread, ThreadLease.holder == holder
                )
            )
