"""The API's request and response models; the OpenAPI document is generated from them.

Malformed requests are refused with HTTP 422 and FastAPI's field errors::

    {"detail": [{"loc": ["body", "reason"], "msg": "...", "type": "value_error", ...}]}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationInfo, field_validator

__all__ = [
    "Alert",
    "AnswerRequest",
    "AnswerResult",
    "ChatReply",
    "ChatRequest",
    "Decision",
    "DecisionDetail",
    "Me",
    "Problem",
    "RunDetail",
    "RunItem",
]


class Problem(BaseModel):
    """An error: what went wrong, in one sentence (401, 403, 404, 409, 422)."""

    detail: str
    status: str | None = Field(
        None, description="with 409: the decision's real status (executed, rejected, expired, "
        "superseded, ...)"
    )
    code: str = Field(description="auth | forbidden | not_found | conflict | invalid | state")


class Me(BaseModel):
    """The caller."""

    name: str
    role: Literal["viewer", "approver", "admin"]
    shops: list[str] | None = Field(description="granted shops; null means every shop")


class Decision(BaseModel):
    """A decision (an action that waits or waited for a person) with its card."""

    action_id: int
    run_id: str
    shop_id: str
    day: int
    sku: str
    kind: Literal["restock", "promotion"]
    status: str = Field(description="pending, approved, edited, rejected, expired, executed")
    risk: float
    expires_day: int | None
    summary: str
    card: dict[str, Any] = Field(description="the decision card (see agent/cards.py)")


class Execution(BaseModel):
    """What reached the shop for an action."""

    applied_day: int
    params: dict[str, Any]
    executed_at: str


class Verdict(BaseModel):
    """The recorded answer to a decision."""

    decision: str
    by: str
    reason: str
    edit: dict[str, Any] | None
    at: str


class DecisionDetail(Decision):
    """A decision with its answer and execution, once there are any."""

    answer: Verdict | None = None
    execution: Execution | None = None
    can_answer: bool = Field(description="whether the caller may answer it now")


class AnswerRequest(BaseModel):
    """Approve, edit or reject one decision.

    ``accept``: nothing else needed. ``edit``: ``quantity`` for a restock, ``discount`` and/or
    ``duration_days`` for a promotion (the edited line goes through the rules again).
    ``reject``: a ``reason`` is required. A reason is recorded with every answer.
    """

    model_config = ConfigDict(extra="forbid")

    choice: Literal["accept", "edit", "reject"]
    reason: str = Field("", max_length=2000, validate_default=True)
    # strict: true is not 1, 40.5 is not 40; NaN and Infinity are refused
    quantity: StrictInt | None = Field(None, ge=0, le=10_000_000)
    discount: float | None = Field(None, ge=0.0, lt=1.0, allow_inf_nan=False, strict=True)
    duration_days: StrictInt | None = Field(None, ge=1, le=365)

    @field_validator("reason")
    @classmethod
    def _reason_for_reject(cls, v: str, info: ValidationInfo) -> str:
        from agent.approvals import clean_text
        from agent.errors import ApprovalError

        try:
            v = clean_text(v, "reason").strip()
        except ApprovalError as exc:
            raise ValueError(str(exc).removeprefix("reason: ")) from None
        if info.data.get("choice") == "reject" and not v:
            raise ValueError("a rejection needs a reason")
        return v

    @field_validator("quantity", "discount", "duration_days")
    @classmethod
    def _only_for_edit(cls, v: Any, info: ValidationInfo) -> Any:
        if v is not None and info.data.get("choice") != "edit":
            raise ValueError(f"only an edit takes {info.field_name}")
        return v


class AnswerResult(BaseModel):
    """What the answer did, in one transaction: the decision's status now, what reached the
    shop (re-checked by the rules at execution) and, in ``message`` and ``notes``, anything
    the rules clipped or refused."""

    action_id: int
    status: str = Field(description="executed, refused (by the rules at execution), rejected")
    by: str
    run_id: str
    day: int
    executed: bool
    execution: Execution | None
    message: str = Field(description="what happened, in one sentence, for the person")
    notes: list[str] = Field(description="what the rules changed at execution, if anything")
    still_pending: list[int] = Field(description="other decisions of that run still waiting")


class RunItem(BaseModel):
    """One run in the history."""

    run_id: str
    shop_id: str
    scenario: str | None
    policy: str
    approval_mode: str
    status: str
    current_day: int
    days_closed: int
    profit: float
    pending: int
    created_at: str


class RunDetail(BaseModel):
    """A run's KPIs, its daily series (for the charts) and recent decisions."""

    run: RunItem
    kpis: dict[str, float | None]
    statuses: dict[str, int]
    decisions: dict[str, int]
    series: dict[str, list[float | None]] = Field(
        description="per closed day: day, profit, fill_rate, lost, inventory, ordered"
    )
    recent: list[dict[str, Any]] = Field(description="the last answers: who, what, why")


class Alert(BaseModel):
    """A drift alert or an anomaly from a run's latest sensing."""

    kind: Literal["drift", "anomaly"]
    run_id: str
    shop_id: str
    day: int
    sku: str | None
    detail: dict[str, Any]


class ChatRequest(BaseModel):
    """One line for the chat (same commands as ``shopops chat``) about one run."""

    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(min_length=1, max_length=32)
    line: str = Field(min_length=1, max_length=2000)
    action_id: int | None = Field(
        default=None, ge=1, description="The decision open in the console: free-form "
        "questions that name none are about it."
    )


class AskRequest(BaseModel):
    """A free-form question about one decision."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=500)
    style: Literal["quote", "write"] = Field(
        default="quote", description="quote: the best facts word for word; write: the model "
        "writes an answer that can hold no number outside the facts."
    )


class AskSource(BaseModel):
    """One fact an answer rests on."""

    letter: str
    text: str
    source: str
    link: str | None = None


class AskReply(BaseModel):
    """A grounded answer: every number in ``answer`` appears in ``sources``."""

    answer: str
    sources: list[AskSource]
    seconds: float
    model: str
    fallback: str | None = None


class ChatReply(BaseModel):
    """The chat's answer as plain text."""

    reply: str
    quit: bool = False
