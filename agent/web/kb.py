"""The knowledge base's API (under ``/api/kb``; every endpoint needs a bearer token).

=================================================  =========================================
``GET  /api/kb/shops``                             the shops the caller may see, with their
                                                   active documents and waiting readings
``GET  /api/kb/documents``                         document versions, newest first
                                                   (``?shop_id=`` else every visible shop,
                                                   ``?status=``, ``?kind=``, ``?on=``)
``GET  /api/kb/documents/{id}``                    one version: text, directives, versions
``POST /api/kb/documents``                         file a document (``read: true`` reads it)
``POST /api/kb/documents/{id}/retire``             retire an active version
``GET  /api/kb/search``                            full-text search in one shop
``GET  /api/kb/pending``                           readings waiting for a person, with their
                                                   documents (``?shop_id=`` else every shop)
``POST /api/kb/directives/{id}/review``            confirm, edit or reject one reading
=================================================  =========================================

Who may do what (:class:`~agent.web.auth.Principal`, as for decisions): viewers read the shops
they are granted; approvers also write (file, retire, review) in those shops; admins read and
write everywhere. Writing elsewhere is 403; a document or directive of a shop the caller may
not see is 403 too (as a decision is), an unknown id 404. The person recorded with a
retirement or a review is the token's user, never a name from the body.

Reading on the server: ``read: true`` reads the text with ``app.state.kb_reader``, a loaded
:class:`policies.llm.reader.Reader` (anything with ``read(text, doc_date, names)``), one
reading at a time, *before* the filing transaction opens (a reading takes seconds; the
transaction stays short). The app is created without one; ``shopops serve --kb-reader
default`` loads it at start (about half a gigabyte and a few seconds). Without it ``read:
true`` is refused with 409 ``no_reader`` and nothing is filed; file with ``read: false``
(the default) and read where the model is (``shopops kb add --read``). Names resolve
against the catalogue of the shipped scenario ``scenario`` (default: the shop id as a
scenario name); only shipped names are taken, never a path.

Errors (JSON ``{"detail", "code"}``): the store's input errors are 422 with ``field`` naming
the field (``valid_to``, ``skus[3]``, ``edit.stop_sale.start``); malformed bodies keep
FastAPI's 422 field list; a review of a reviewed directive, or a retirement of a version that
is not active, is 409 ``conflict`` with its real ``status``.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictStr,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from sqlalchemy import func, select

from agent.kb_json import directive_counts, directive_json, document_detail, document_json
from agent.store.kb import (
    DOCUMENT_KINDS,
    DOCUMENT_STATUSES,
    REVIEW_VERDICTS,
    DirectiveNotFoundError,
    DocumentNotFoundError,
    KbDirective,
    KbDocument,
    KnowledgeBaseConflictError,
    KnowledgeBaseError,
    KnowledgeBaseInputError,
    list_documents,
    pending_reviews,
    retire_document,
    review_directive,
    search,
)
from agent.web.auth import Principal
from agent.web.errors import ForbiddenError, NotFoundError
from agent.web.routes import principal
from agent.web.schemas import Problem

__all__ = ["ReaderUnavailableError", "install", "router"]


# ---------------------------------------------------------------------------------- errors
class ReaderUnavailableError(KnowledgeBaseConflictError):
    """``read: true`` on a server without a reader (HTTP 409, code ``no_reader``)."""


class _StatusConflict(KnowledgeBaseConflictError):
    """A conflict with the row's real status, for the 409 body."""

    def __init__(self, message: str, status: str | None) -> None:
        super().__init__(message)
        self.status = status


_STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (KnowledgeBaseInputError, 422, "invalid"),
    (DocumentNotFoundError, 404, "not_found"),
    (DirectiveNotFoundError, 404, "not_found"),
    (ReaderUnavailableError, 409, "no_reader"),
    (KnowledgeBaseConflictError, 409, "conflict"),
)


def _problem(_request: Request, exc: Exception) -> JSONResponse:
    status, code = 500, "error"
    for cls, st, c in _STATUS:
        if isinstance(exc, cls):
            status, code = st, c
            break
    body: dict[str, Any] = {"detail": str(exc), "code": code}
    if isinstance(exc, KnowledgeBaseInputError):
        body["field"] = exc.field
    if isinstance(exc, _StatusConflict):
        body["status"] = exc.status
    return JSONResponse(body, status_code=status)


def install(app: FastAPI) -> None:
    """Mount :data:`router` on ``app`` and map the knowledge base's errors to HTTP statuses;
    ``app.state.kb_reader`` starts unset (``None``: no reading on this server)."""
    app.include_router(router)
    app.add_exception_handler(KnowledgeBaseError, _problem)
    app.state.kb_reader = None
    app.state.kb_read_lock = threading.Lock()


# ---------------------------------------------------------------------------------- schemas
def _iso_date(value: Any) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"expected a date as YYYY-MM-DD, got {value!r:.40}")


#: A calendar date written ``YYYY-MM-DD`` (nothing else: no timestamps, no datetimes).
IsoDate = Annotated[
    dt.date,
    PlainValidator(_iso_date),
    WithJsonSchema({"type": "string", "format": "date", "examples": ["2026-01-05"]}),
]
DocumentKind = Literal[DOCUMENT_KINDS]  # type: ignore[valid-type]


class DocumentIn(BaseModel):
    """A document to file. Lengths, NULs, the window's order and the scope lists are checked
    by the store (422 with ``field``); see :func:`agent.store.kb.add_document`."""

    model_config = ConfigDict(extra="forbid")

    shop_id: StrictStr
    text: StrictStr = Field(description="the document, up to 20,000 characters")
    kind: DocumentKind
    doc_date: IsoDate = Field(description="the date the text is dated or was received")
    title: StrictStr | None = None
    source: StrictStr | None = None
    author: StrictStr | None = None
    valid_from: IsoDate | None = None
    valid_to: IsoDate | None = Field(None, description="inclusive")
    skus: list[StrictStr] = Field(default_factory=list)
    categories: list[StrictStr] = Field(default_factory=list)
    suppliers: list[StrictStr] = Field(default_factory=list)
    supersedes: StrictStr | None = Field(None, description="the doc_key this version replaces")
    read: StrictBool = Field(
        False, description="read it into directives now (409 no_reader without a reader)"
    )
    scenario: StrictStr | None = Field(
        None,
        description="with read: the shipped scenario whose catalogue names the reading "
        "resolves against (default: shop_id)",
    )


class RetireIn(BaseModel):
    """Why the document is retired (recorded with the caller's name)."""

    model_config = ConfigDict(extra="forbid")

    reason: StrictStr

    @field_validator("reason")
    @classmethod
    def _given(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("say why the document is retired")
        return v


class ReviewIn(BaseModel):
    """A review of one reading: ``confirm``, ``edit`` (with ``edit``: the directive as it
    should read, validated like a reader's) or ``reject`` (with a ``reason``)."""

    model_config = ConfigDict(extra="forbid")

    verdict: Literal[REVIEW_VERDICTS]  # type: ignore[valid-type]
    reason: StrictStr = Field("", validate_default=True)
    edit: dict[str, Any] | None = None

    @field_validator("reason")
    @classmethod
    def _reason_for_reject(cls, v: str, info: ValidationInfo) -> str:
        if info.data.get("verdict") == "reject" and not v.strip():
            raise ValueError("a rejection needs a reason")
        return v


class DirectiveOut(BaseModel):
    """A reading: one directive, its confidence and status, and its review once made."""

    id: int
    document_id: int
    position: int
    kind: str
    summary: str = Field(description="one line for a person")
    payload: dict[str, Any]
    original_payload: dict[str, Any] | None = Field(description="the reader's, after an edit")
    confidence: float | None
    status: str = Field(description="proposed, pending_review, confirmed, edited, rejected")
    reader: str
    reviewed_by: str | None
    reviewed_at: str | None
    review_reason: str | None
    created_at: str


class DocumentBase(BaseModel):
    """A document version's fields (see :class:`agent.store.kb.KbDocument`)."""

    id: int
    shop_id: str
    doc_key: str
    version: int
    kind: str
    title: str | None
    source: str | None
    author: str | None
    doc_date: str
    valid_from: str | None
    valid_to: str | None
    skus: list[str]
    categories: list[str]
    suppliers: list[str]
    status: str = Field(description="active, superseded, retired")
    superseded_by: int | None
    created_at: str
    retired_at: str | None
    retired_by: str | None
    retire_reason: str | None


class DocumentItem(DocumentBase):
    """A document version in a list (without its text), with its readings per status."""

    directive_count: int
    directive_statuses: dict[str, int]


class VersionRef(BaseModel):
    id: int
    version: int
    status: str


class DocumentDetail(DocumentBase):
    """A document version with its text, its readings and the versions of its key."""

    text: str
    directives: list[DirectiveOut]
    versions: list[VersionRef]
    can_write: bool = Field(description="whether the caller may retire it and review readings")


class SearchHitOut(DocumentItem):
    score: float = Field(description="relevance within this query (0.0 without query words)")
    excerpt: str = Field(description="the text's first 280 characters")


class PendingDocument(DocumentBase):
    text: str


class PendingOut(DirectiveOut):
    """A reading waiting for a person, with the document it was read from (text included)."""

    document: PendingDocument
    can_write: bool


class ShopOut(BaseModel):
    shop_id: str
    documents: int = Field(description="active document versions")
    pending: int = Field(description="readings waiting for a person (pending_review)")
    can_write: bool


class AddedOut(BaseModel):
    """The filed version and, with ``read``, its readings."""

    document: DocumentDetail
    reader: str | None = Field(description="the model that read it (null when not read)")


# ---------------------------------------------------------------------------------- routes
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "missing, unknown or revoked token"},
    403: {"model": Problem, "description": "the role or shop grants do not allow it"},
}
router = APIRouter(prefix="/api/kb", tags=["knowledge base"], responses=_ERRORS)
Who = Annotated[Principal, Depends(principal)]
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ShopQuery = Annotated[str | None, Query(min_length=1, max_length=64, description="one shop")]


def _store(request: Request) -> Any:
    return request.app.state.store


def _can_write(who: Principal, shop: str) -> bool:
    return who.can_answer(shop)  # approvers in their shops, admins everywhere


def _require_write(who: Principal, shop: str) -> None:
    if who.role not in ("approver", "admin"):
        raise ForbiddenError(
            f"user {who.name} is a {who.role}; only approvers and admins may change the "
            "knowledge base"
        )
    if not _can_write(who, shop):
        raise ForbiddenError(
            f"user {who.name} may not change the knowledge base of shop {shop!r} (no grant)"
        )


def _visible_shops(session: Any, who: Principal) -> list[str]:
    """The shops whose knowledge base the caller may read: every shop with documents for an
    admin or a ``*`` grant, else the granted shops (with documents or not)."""
    if who.role == "admin" or who.shops is None:
        return sorted(set(session.scalars(select(KbDocument.shop_id).distinct())))
    return sorted(who.shops)


def _shops(session: Any, who: Principal, shop_id: str | None) -> list[str]:
    if shop_id is None:
        return _visible_shops(session, who)
    who.require_see(shop_id)
    return [shop_id]


@router.get("/shops", response_model=list[ShopOut])
def shops(request: Request, who: Who) -> list[dict[str, Any]]:
    """The shops the caller may see, with counts; ``can_write`` says where they may write."""
    with _store(request).session() as s:
        names = _visible_shops(s, who)
        docs = dict(
            s.execute(
                select(KbDocument.shop_id, func.count())
                .where(KbDocument.status == "active", KbDocument.shop_id.in_(names))
                .group_by(KbDocument.shop_id)
            ).all()
        )
        waiting = dict(
            s.execute(
                select(KbDocument.shop_id, func.count())
                .join(KbDirective, KbDirective.document_id == KbDocument.id)
                .where(
                    KbDocument.status == "active",
                    KbDirective.status == "pending_review",
                    KbDocument.shop_id.in_(names),
                )
                .group_by(KbDocument.shop_id)
            ).all()
        )
    return [
        {
            "shop_id": n,
            "documents": int(docs.get(n, 0)),
            "pending": int(waiting.get(n, 0)),
            "can_write": _can_write(who, n),
        }
        for n in names
    ]


@router.get("/documents", response_model=list[DocumentItem])
def documents(
    request: Request,
    who: Who,
    shop_id: ShopQuery = None,
    status: Annotated[Literal[DOCUMENT_STATUSES] | None, Query()] = None,  # type: ignore[valid-type]
    kind: Annotated[DocumentKind | None, Query()] = None,
    on: Annotated[IsoDate | None, Query(description="valid on this date")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    """Document versions (every status unless ``status=``), newest ``doc_date`` first."""
    with _store(request).session() as s:
        docs = [
            d
            for shop in _shops(s, who, shop_id)
            for d in list_documents(s, shop, status=status, kind=kind, on_date=on)
        ]
        docs.sort(key=lambda d: (d.doc_date, d.id), reverse=True)
        docs = docs[:limit]
        counts = directive_counts(s, [d.id for d in docs])
        return [document_json(d, counts[d.id], text=False) for d in docs]


def _document(session: Any, who: Principal, doc_id: int) -> KbDocument:
    doc = session.get(KbDocument, doc_id)
    if doc is None:
        raise NotFoundError(f"no document has id {doc_id}")
    who.require_see(doc.shop_id)
    return doc


def _detail(session: Any, who: Principal, doc: KbDocument) -> dict[str, Any]:
    return {**document_detail(session, doc), "can_write": _can_write(who, doc.shop_id)}


@router.get(
    "/documents/{doc_id}", response_model=DocumentDetail, responses={404: {"model": Problem}}
)
def document(request: Request, who: Who, doc_id: RowId) -> dict[str, Any]:
    """One document version with its text, its readings and the versions of its key."""
    with _store(request).session() as s:
        return _detail(s, who, _document(s, who, doc_id))


@router.post(
    "/documents",
    response_model=AddedOut,
    status_code=201,
    responses={
        404: {"model": Problem, "description": "supersedes names no document of the shop"},
        409: {
            "model": Problem,
            "description": "read without a reader on this server (code no_reader), or "
            "supersedes names a document with no active version; nothing was filed",
        },
        422: {"description": "a field is invalid (code invalid, field names it)"},
    },
)
def file_document(request: Request, who: Who, body: DocumentIn) -> dict[str, Any]:
    """File a document for ``shop_id`` and, with ``read``, the readings of it: those at or
    above :data:`agent.kb.DEFAULT_MIN_CONFIDENCE` are ``proposed`` (in force), the others
    ``pending_review``. With ``supersedes``, it is the next version of that document."""
    from agent.kb import DEFAULT_MIN_CONFIDENCE, add_and_read

    _require_write(who, body.shop_id)
    reading = names = None
    if body.read:
        names = _names(body.scenario or body.shop_id)
        if not body.text.strip():
            raise KnowledgeBaseInputError(
                "text", "must be a non-empty string (not only whitespace)"
            )
        reader = getattr(request.app.state, "kb_reader", None)
        if reader is None:
            raise ReaderUnavailableError(
                "this server has no document reader (shopops serve loads no language model); "
                "nothing was filed: send read=false to file the text, and read it with "
                "`shopops kb add --read` on a machine with the model"
            )
        with request.app.state.kb_read_lock:  # one reading at a time on one loaded model
            reading = reader.read(body.text, body.doc_date, names)
    fields = body.model_dump(exclude={"shop_id", "text", "doc_date", "read", "scenario"})
    with _store(request).session() as s:
        doc, _rows = add_and_read(
            s, body.shop_id, text=body.text, doc_date=body.doc_date,
            reader=None, reading=reading, names=names,
            min_confidence=DEFAULT_MIN_CONFIDENCE, **fields,
        )  # fmt: skip
        return {
            "document": _detail(s, who, doc),
            "reader": None if reading is None else reading.model,
        }


def _names(scenario: str) -> Any:
    """The catalogue names of a shipped scenario (422 on ``scenario`` otherwise)."""
    from agent.kb import shop_names
    from scenarios import scenario_names

    shipped = scenario_names()
    if scenario not in shipped:
        raise KnowledgeBaseInputError(
            "scenario",
            f"{scenario!r:.80} is not a shipped scenario ({', '.join(shipped)}); reading "
            "resolves names against a scenario's catalogue",
        )
    return shop_names(scenario)


@router.post(
    "/documents/{doc_id}/retire",
    response_model=DocumentDetail,
    responses={
        404: {"model": Problem},
        409: {"model": Problem, "description": "not active (status says what it is)"},
    },
)
def retire(request: Request, who: Who, doc_id: RowId, body: RetireIn) -> dict[str, Any]:
    """Retire an active document version: no longer searched, its readings out of force."""
    store = _store(request)
    with store.session() as s:
        shop = _document(s, who, doc_id).shop_id
    _require_write(who, shop)
    try:
        with store.session() as s:
            doc = retire_document(s, shop, doc_id, by=who.name, reason=body.reason)
            return _detail(s, who, doc)
    except KnowledgeBaseConflictError as exc:
        with store.session() as s:
            now = s.get(KbDocument, doc_id)
            raise _StatusConflict(str(exc), None if now is None else now.status) from None


@router.get("/search", response_model=list[SearchHitOut])
def search_documents(
    request: Request,
    who: Who,
    shop_id: Annotated[str, Query(min_length=1, max_length=64)],
    q: Annotated[str, Query(max_length=2000, description="words, any of them")] = "",
    on: Annotated[IsoDate | None, Query(description="valid on this date")] = None,
    sku: Annotated[list[str] | None, Query()] = None,
    category: Annotated[list[str] | None, Query()] = None,
    supplier: Annotated[list[str] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> list[dict[str, Any]]:
    """Full-text search over the shop's active documents, most relevant first; ``sku``,
    ``category``, ``supplier`` (repeatable) keep documents about them or the whole shop."""
    who.require_see(shop_id)
    with _store(request).session() as s:
        hits = search(
            s, shop_id, q, on_date=on, skus=sku or (), categories=category or (),
            suppliers=supplier or (), limit=limit,
        )  # fmt: skip
        counts = directive_counts(s, [h.document.id for h in hits])
        return [
            {
                **document_json(h.document, counts[h.document.id], text=False),
                "score": h.score,
                "excerpt": h.document.text[:280],
            }
            for h in hits
        ]


@router.get("/pending", response_model=list[PendingOut])
def pending(
    request: Request,
    who: Who,
    shop_id: ShopQuery = None,
    include_proposed: Annotated[
        bool, Query(description="also confident readings nobody reviewed (already in force)")
    ] = False,
) -> list[dict[str, Any]]:
    """Readings waiting for a person (``pending_review``), oldest first, each with its
    document and its text."""
    with _store(request).session() as s:
        pairs = [
            p
            for shop in _shops(s, who, shop_id)
            for p in pending_reviews(s, shop, include_proposed=include_proposed)
        ]
        pairs.sort(key=lambda p: (p.directive.created_at, p.directive.id))
        return [
            {
                **directive_json(d),
                "document": document_json(doc),
                "can_write": _can_write(who, doc.shop_id),
            }
            for d, doc in pairs
        ]


@router.post(
    "/directives/{directive_id}/review",
    response_model=DirectiveOut,
    responses={
        404: {"model": Problem},
        409: {
            "model": Problem,
            "description": "already reviewed, or its document is no longer active (status "
            "says what the directive is); nothing changed",
        },
    },
)
def review(request: Request, who: Who, directive_id: RowId, body: ReviewIn) -> dict[str, Any]:
    """Confirm, edit or reject one reading, recorded with the caller's name and reason. A
    review is final: of two reviews of one reading, one wins and the other gets 409."""
    store = _store(request)
    with store.session() as s:
        row = s.get(KbDirective, directive_id)
        doc = None if row is None else s.get(KbDocument, row.document_id)
        if row is None or doc is None:
            raise NotFoundError(f"no directive has id {directive_id}")
        who.require_see(doc.shop_id)
        shop = doc.shop_id
    _require_write(who, shop)
    try:
        with store.session() as s:
            try:
                done = review_directive(
                    s, directive_id, verdict=body.verdict, by=who.name, reason=body.reason,
                    edited_payload=body.edit, shop_id=shop,
                )  # fmt: skip
            except KnowledgeBaseInputError as exc:
                if exc.field.startswith("edited_payload"):  # the body calls it "edit"
                    raise KnowledgeBaseInputError(
                        "edit" + exc.field.removeprefix("edited_payload"), exc.problem
                    ) from None
                raise
            return directive_json(done)
    except KnowledgeBaseConflictError as exc:
        with store.session() as s:
            now = s.get(KbDirective, directive_id)
            raise _StatusConflict(str(exc), None if now is None else now.status) from None
