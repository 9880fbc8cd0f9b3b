"""The API's endpoints (all under ``/api``; every one needs a bearer token).

==========================================  ==========================================
``GET  /api/me``                            who the token belongs to
``GET  /api/decisions``                     pending decisions, highest risk and nearest
                                            deadline first (``?status=``, ``?run_id=``,
                                            ``?shop_id=``)
``GET  /api/decisions/{id}``                one decision, its answer and its execution
``POST /api/decisions/{id}/answer``         accept / edit / reject (approvers, admins)
``GET  /api/runs``                          run history
``GET  /api/runs/{run_id}``                 a run's KPIs and daily series
``GET  /api/alerts``                        drift alerts and anomalies
``POST /api/chat``                          one line of the approval chat about a run
==========================================  ==========================================

Answering goes through :func:`agent.runner.answer_pending`, which claims the decision in the
database before resuming the graph (:mod:`agent.claims`): of two approvers answering the same
decision at once, exactly one gets 200 and the other 409; the graph resumes once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agent.web.auth import Principal, authenticate
from agent.web.schemas import (
    Alert,
    AnswerRequest,
    AnswerResult,
    ChatReply,
    ChatRequest,
    DecisionDetail,
    Me,
    Problem,
    RunDetail,
    RunItem,
)
from agent.web.schemas import Decision as DecisionOut

__all__ = ["router"]

_bearer = HTTPBearer(auto_error=False, description="An API token from `shopops tokens create`.")
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "missing, unknown or revoked token"},
    403: {"model": Problem, "description": "the role or shop grants do not allow it"},
}

router = APIRouter(prefix="/api", responses=_ERRORS)


def _store(request: Request) -> Any:
    return request.app.state.store


def principal(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from ``Authorization: Bearer <token>`` (401 otherwise)."""
    return authenticate(_store(request), creds.credentials if creds else None)


Who = Annotated[Principal, Depends(principal)]


@router.get("/me", response_model=Me)
def me(who: Who) -> dict[str, Any]:
    """The caller's name, role and shops."""
    return {
        "name": who.name,
        "role": who.role,
        "shops": None if who.shops is None else sorted(who.shops),
    }


@router.get("/decisions", response_model=list[DecisionOut])
def decisions(
    request: Request,
    who: Who,
    status: Annotated[str | None, Query(max_length=16)] = "pending",
    run_id: Annotated[str | None, Query(max_length=32)] = None,
    shop_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    """Decisions in the caller's shops; ``status=`` empty lists every status."""
    from agent.web.queries import list_decisions

    return list_decisions(
        _store(request), who, status=status or None, run_id=run_id, shop_id=shop_id, limit=limit
    )


@router.get(
    "/decisions/{action_id}", response_model=DecisionDetail, responses={404: {"model": Problem}}
)
def decision(request: Request, who: Who, action_id: int) -> dict[str, Any]:
    """One decision with its card, answer (who, what, why) and execution."""
    from agent.web.queries import get_decision

    return get_decision(_store(request), who, action_id)


_EDIT_FIELDS = {"restock": ("quantity",), "promotion": ("discount", "duration_days")}


@router.post(
    "/decisions/{action_id}/answer",
    response_model=AnswerResult,
    responses={
        404: {"model": Problem, "description": "no such decision"},
        409: {"model": Problem, "description": "already answered (by whom); nothing changed"},
        503: {"model": Problem, "description": "the day's thread stayed busy; retry"},
    },
)
def answer(request: Request, who: Who, action_id: int, body: AnswerRequest) -> dict[str, Any]:
    """Accept, edit or reject a pending decision; the run's graph resumes and executes it.

    Recorded with the caller's name and reason. 409 when someone answered it first.
    """
    from agent.checkpoint import open_checkpointer
    from agent.claims import DecisionConflictError
    from agent.errors import ApprovalError
    from agent.runner import answer_pending
    from agent.web.queries import get_decision

    store = _store(request)
    d = get_decision(store, who, action_id)  # 404 / 403 (cannot see)
    who.require_answer(d["shop_id"])  # 403 (role or grant)
    if d["status"] != "pending":
        by = d["answer"]["by"] if d["answer"] else None
        raise DecisionConflictError(action_id, by, d["status"])
    item: dict[str, Any] = {"choice": body.choice, "reason": body.reason}
    if body.choice == "edit":
        fields = _EDIT_FIELDS[d["kind"]]
        given = {f: getattr(body, f) for f in fields if getattr(body, f) is not None}
        wrong = [
            f
            for f in ("quantity", "discount", "duration_days")
            if f not in fields and getattr(body, f) is not None
        ]
        if wrong or not given:
            raise RequestValidationError(
                [
                    {
                        "loc": ("body", wrong[0] if wrong else fields[0]),
                        "msg": f"an edit of a {d['kind']} takes {' and/or '.join(fields)}",
                        "type": "value_error",
                    }
                ]
            )
        item.update(given)
    ans = {"by": who.name, "decisions": {str(action_id): item}}
    try:
        with open_checkpointer(store.url) as saver:
            res = answer_pending(store, saver, d["run_id"], d["day"], ans)
    except DecisionConflictError:
        raise
    except ApprovalError:
        now = get_decision(store, who, action_id)
        if now["status"] != "pending":  # answered between our check and the claim
            raise DecisionConflictError(
                action_id, now["answer"]["by"] if now["answer"] else None, now["status"]
            ) from None
        raise
    after = get_decision(store, who, action_id)
    return {
        "action_id": action_id,
        "status": after["status"],
        "by": after["answer"]["by"] if after["answer"] else who.name,
        "run_id": d["run_id"],
        "day": d["day"],
        "executed": after["execution"] is not None,
        "execution": after["execution"],
        "still_pending": res["still_pending"],
        "day_finished": res["finished"],
    }


@router.get("/runs", response_model=list[RunItem])
def runs(
    request: Request, who: Who, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[dict[str, Any]]:
    """Runs in the caller's shops, newest first."""
    from agent.web.queries import list_runs

    return list_runs(_store(request), who, limit=limit)


@router.get("/runs/{run_id}", response_model=RunDetail, responses={404: {"model": Problem}})
def run(request: Request, who: Who, run_id: str) -> dict[str, Any]:
    """A run's KPIs, per-day series (profit, fill rate, lost, inventory, ordered), answers."""
    from agent.web.queries import run_detail

    return run_detail(_store(request), who, run_id)


@router.get("/alerts", response_model=list[Alert])
def alerts(
    request: Request, who: Who, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    """Drift alerts and anomalies from the latest sensing of recent runs."""
    from agent.web.queries import list_alerts

    return list_alerts(_store(request), who, limit=limit)


@router.post("/chat", response_model=ChatReply, responses={404: {"model": Problem}})
def chat(request: Request, who: Who, body: ChatRequest) -> dict[str, Any]:
    """One line of the approval chat (``help`` lists the commands), as ``shopops chat``."""
    from agent.checkpoint import open_checkpointer
    from agent.web.chat import WebChatSession, reply_text
    from agent.web.queries import run_shop

    store = _store(request)
    shop = run_shop(store, body.run_id)
    who.require_see(shop)
    model = request.app.state.chat_model
    tools: list[Any] = []
    if model is not None:
        from agent.commands.chat import _read_tools

        tools = _read_tools(store, body.run_id)
    with open_checkpointer(store.url) as saver:
        session = WebChatSession(store, saver, who, body.run_id, shop, model, tools)
        reply = session.handle(body.line)
    return {"reply": reply_text(reply), "quit": reply is None}
