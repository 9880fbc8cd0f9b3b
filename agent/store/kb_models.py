"""The knowledge base's tables, constants and errors (the functions are in
:mod:`agent.store.kb`, whose docstring describes the tables; the search structures per
dialect are made by migration 0005).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from agent.store.models import Base, utcnow
from envs.errors import ShopOpsError

__all__ = [
    "DIRECTIVE_STATUSES",
    "DOCUMENT_KINDS",
    "DOCUMENT_STATUSES",
    "MAX_QUERY_WORDS",
    "MAX_TEXT_CHARS",
    "REVIEW_VERDICTS",
    "DirectiveNotFoundError",
    "DocumentDirective",
    "DocumentNotFoundError",
    "KbDirective",
    "KbDocument",
    "KnowledgeBaseConflictError",
    "KnowledgeBaseError",
    "KnowledgeBaseInputError",
    "SearchHit",
]

#: What a document is, as filed.
DOCUMENT_KINDS = (
    "compliance",
    "supplier_notice",
    "brand_policy",
    "pricing_policy",
    "marketing",
    "instruction",
    "other",
)
#: Every status a document version can have, in lifecycle order.
DOCUMENT_STATUSES = ("active", "superseded", "retired")
#: Every status a directive can have: the two a reader files, then the three reviews give.
DIRECTIVE_STATUSES = ("proposed", "pending_review", "confirmed", "edited", "rejected")
#: The answers a review can give.
REVIEW_VERDICTS = ("confirm", "edit", "reject")
#: The longest document text accepted, in characters.
MAX_TEXT_CHARS = 20_000
#: Words of a search query beyond this many (after dropping repeats) are ignored.
MAX_QUERY_WORDS = 32


# ---------------------------------------------------------------------------------- errors
class KnowledgeBaseError(ShopOpsError):
    """Base class of the knowledge base's errors."""


class KnowledgeBaseInputError(KnowledgeBaseError, ValueError):
    """An argument is invalid.

    Attributes:
        field: the argument (``text``, ``valid_to``, ``directives[2]``, ``limit``).
        problem: what is wrong and what is allowed.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field, self.problem = field, problem
        super().__init__(f"{field}: {problem}")


class DocumentNotFoundError(KnowledgeBaseError, LookupError):
    """No document of the shop has that id or key (or that version)."""


class DirectiveNotFoundError(KnowledgeBaseError, LookupError):
    """No directive has that id (in that shop)."""


class KnowledgeBaseConflictError(KnowledgeBaseError, RuntimeError):
    """The row is not in a state that allows the change (the message names the state)."""


# ---------------------------------------------------------------------------------- tables
class KbDocument(Base):
    __tablename__ = "kb_documents"
    __table_args__ = (
        UniqueConstraint("shop_id", "doc_key", "version", name="uq_kb_documents_version"),
        Index("ix_kb_documents_shop_status", "shop_id", "status"),
        Index(
            "uq_kb_documents_active",
            "shop_id",
            "doc_key",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shop_id: Mapped[str] = mapped_column(String(64))
    doc_key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    kind: Mapped[str] = mapped_column(String(32))  # one of DOCUMENT_KINDS
    title: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)  # "email from Dry Goods Co.", a URL
    author: Mapped[str | None] = mapped_column(String(128))
    doc_date: Mapped[dt.date] = mapped_column(Date)
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    skus: Mapped[list[Any]] = mapped_column(JSON, default=list)
    categories: Mapped[list[Any]] = mapped_column(JSON, default=list)
    suppliers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="active")
    superseded_by: Mapped[int | None] = mapped_column(ForeignKey("kb_documents.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    retired_by: Mapped[str | None] = mapped_column(String(128))
    retire_reason: Mapped[str | None] = mapped_column(Text)

    def valid_on(self, day: dt.date) -> bool:
        """True when the version is valid on ``day`` (see the module docstring)."""
        return (
            self.doc_date <= day
            and (self.valid_from is None or self.valid_from <= day)
            and (self.valid_to is None or day <= self.valid_to)
        )


class KbDirective(Base):
    __tablename__ = "kb_directives"
    __table_args__ = (
        UniqueConstraint("document_id", "position", name="uq_kb_directives_position"),
        Index("ix_kb_directives_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("kb_documents.id"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))  # the payload's kind
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    original_payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # before an edit
    confidence: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    reader: Mapped[str] = mapped_column(String(128))
    reviewed_by: Mapped[str | None] = mapped_column(String(128))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    review_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def directive(self) -> Any:
        """The payload as its typed :data:`envs.directives.Directive`."""
        from envs.directives import directive_adapter

        return directive_adapter().validate_python(self.payload)


class SearchHit(NamedTuple):
    """One search result: the document version and the engine's score (higher is more
    relevant; comparable only within one query on one database; 0.0 without query words)."""

    document: KbDocument
    score: float


class DocumentDirective(NamedTuple):
    """A directive with the document version it was read from."""

    directive: KbDirective
    document: KbDocument
