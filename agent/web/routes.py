"""The API's endpoints (all under ``/api``; every one needs a bearer token).

==========================================  ==========================================
``GET  /api/me``                            who the token belongs to
``GET  /api/decisions``                     pending decisions, highest risk and nearest
                                            deadline first (``?status=``, ``?run_id=``,
                                            ``?shop_id=``)
``GET  /api/decisions/{id}``                one decision, its answer and its execution
``POST /api/decisions/{id}/answer``         accept / edit / reject (approvers, admins)
``POST /api/decisions/{id}/ask``            a question about it, answered from its card
                                            and the knowledge base (``--chat-llm``)
``GET  /api/runs``                          run history
``GET  /api/runs/{run_id}``                 a run's KPIs and daily series
``GET  /api/alerts``                        drift alerts and anomalies
``POST /api/chat``                          one line of the approval chat about a run
==========================================  ==========================================

Answering goes through :func:`agent.runner.answer_pending` (:mod:`agent.answers`): one
transaction that locks the run, checks the decision is still pending, records the answer and
executes it re-checked by the rules. Of two approvers answering the same decision at once,
exactly one gets 200 and the other 409 with the decision's real status; a failed answer
leaves nothing behind and blocks nothing else.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agent.approvals import EDIT_FIELDS
from agent.web.auth import Principal, authenticate
from agent.web.schemas import (
    Alert,
    AnswerRequest,
    AnswerResult,
    AskReply,
    AskRequest,
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

EDIT_FIELDS_ALL = ("quantity", "discount", "duration_days")

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
#: A decision id in a path: a whole number that fits the store's integer column (422 else).
DecisionId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the decision's id")]


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
def decision(request: Request, who: Who, action_id: DecisionId) -> dict[str, Any]:
    """One decision with its card, answer (who, what, why) and execution."""
    from agent.web.queries import get_decision

    return get_decision(_store(request), who, action_id)


@router.post(
    "/decisions/{action_id}/answer",
    response_model=AnswerResult,
    responses={
        404: {"model": Problem, "description": "no such decision"},
        409: {
            "model": Problem,
            "description": "no longer pending (answered by whom, expired or superseded: "
            "`status` says which); nothing changed",
        },
    },
)
def answer(request: Request, who: Who, action_id: DecisionId, body: AnswerRequest
           ) -> dict[str, Any]:
    """Accept, edit or reject a pending decision; accepted and edited lines execute at once.

    What executes is re-checked against the rules (budgets, caps, cover) on the shop's open
    day; ``message`` and ``notes`` say anything they clipped or refused. Recorded with the
    caller's name and reason. 409 (with the real ``status``) when it is no longer pending.
    """
    from agent.queries import pending_ids
    from agent.runner import answer_pending
    from agent.web.queries import get_decision

    store = _store(request)
    d = get_decision(store, who, action_id)  # 404 / 403 (cannot see)
    who.require_answer(d["shop_id"])  # 403 (role or grant)
    item: dict[str, Any] = {"choice": body.choice, "reason": body.reason}
    given = {f: v for f in EDIT_FIELDS_ALL if (v := getattr(body, f)) is not None}
    if body.choice == "edit":  # the edit rules' one home is agent.approvals.EDIT_FIELDS;
        allowed = EDIT_FIELDS[d["kind"]]  # here they only become field errors (422 + loc)
        wrong = [f for f in given if f not in allowed]
        if wrong or not given:
            raise RequestValidationError([{
                "loc": ("body", wrong[0] if wrong else allowed[0]),
                "msg": f"an edit of a {d['kind']} takes {' and/or '.join(allowed)}",
                "type": "value_error",
            }])
    item.update(given)
    res = answer_pending(
        store, d["run_id"], {"by": who.name, "decisions": {str(action_id): item}}
    )
    done = res.decisions[0]
    after = get_decision(store, who, action_id)
    return {
        "action_id": action_id,
        "status": after["status"],
        "by": done.by,
        "run_id": d["run_id"],
        "day": d["day"],
        "executed": after["execution"] is not None,
        "execution": after["execution"],
        "message": done.sentence(),
        "notes": done.notes,
        "still_pending": pending_ids(store, d["run_id"]),
    }


@router.post(
    "/decisions/{action_id}/ask",
    response_model=AskReply,
    responses={
        404: {"model": Problem, "description": "no such decision"},
        503: {"model": Problem, "description": "this server has no language model"},
    },
)
def ask(request: Request, who: Who, action_id: DecisionId, body: AskRequest) -> dict[str, Any]:
    """A free-form question about one decision (pending or answered), answered from its card
    (forecast, stock, risk, what-if, rules, signals) and the shop's knowledge base, citing
    them. Every number in the answer appears in the sources."""
    from agent.ask import ask_card
    from agent.errors import AgentConfigError
    from agent.web.queries import get_decision

    answerer = getattr(request.app.state, "answerer", None)
    if answerer is None:
        raise AgentConfigError(
            "this server has no language model for questions; start it with "
            "`shopops serve --chat-llm default`"
        )
    store = _store(request)
    d = get_decision(store, who, action_id)  # 404 / 403 (cannot see)
    return ask_card(
        store, answerer, {**d["card"], "action_id": action_id}, body.question, d["shop_id"],
        style=body.style,
    ).to_json()  # fmt: skip


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
    from agent.web.chat import WebChatSession, reply_text
    from agent.web.queries import run_shop

    store = _store(request)
    shop = run_shop(store, body.run_id)
    who.require_see(shop)
    model = request.app.state.chat_model
    tools: list[Any] = []
    if model is not None:
        from agent.chat import read_tools

        tools = read_tools(store, body.run_id)
    state = request.app.state
    session = WebChatSession(
        store, who, body.run_id, shop, model, tools, getattr(state, "answerer", None),
        getattr(state, "kb_reader", None), body.action_id, memory=state.chat_memory,
    )  # fmt: skip
    reply = session.handle(body.line)
    return {"reply": reply_text(reply), "quit": reply is None}
