"""The knowledge base: a shop's documents, the directives read from them, and search.

A *document* is a text the shop was given (a compliance rule, a supplier notice, a brand or
pricing policy, a marketing calendar note, a merchant instruction). A language-model reader
turns it into typed *directives* (:mod:`envs.directives`); only directives ever reach
decisions, and only through :func:`directives_in_force`.

Tables:

* ``kb_documents``: one row per version of a document. ``doc_key`` is the document's identity
  across versions (unique per shop with ``version``: 1, 2, ...). ``shop_id`` is the shop's
  name as a plain key, like ``real_outbox`` and ``api_grants``, not a foreign key to
  ``shops``: a merchant can file documents before the shop's first run creates its row.
  ``doc_date`` is the date the text is dated or was received: relative dates in the text
  resolve against it, and the shop cannot know a document before it. ``valid_from`` and
  ``valid_to`` (inclusive, either may be open) bound when it applies. The scope lists
  ``skus``, ``categories`` and ``suppliers`` (JSON lists of catalogue names) name what it is
  about; all three empty means the whole shop.
* ``kb_directives``: the directives read from one document version, in reading order
  (``position`` 0, 1, ...); ``payload`` is the directive's ``model_dump(mode="json")``,
  validated on the way in; ``reader`` names the model or checkpoint that read it;
  ``original_payload`` keeps the reader's version when a person edits one.

Life of a document version (``kb_documents.status``)::

    active ──┬──> superseded   add_document(supersedes=doc_key) filed version n+1;
             │                 ``superseded_by`` points at it (same transaction)
             └──> retired      retire_document: who, when and why are kept

Life of a directive (``kb_directives.status``)::

    proposed ───────┬── confirm ──> confirmed     a person agreed
    pending_review ─┼── edit ─────> edited        a person replaced the payload
                    └── reject ───> rejected      a person refused it

The reader files directives as ``proposed`` (it is confident) or ``pending_review`` (it
wants a person); a review is final: a second review of the same directive is refused.

What "valid on a date" means (every function that takes ``on_date``): ``doc_date <=
on_date``, ``valid_from`` open or ``<= on_date``, ``valid_to`` open or ``>= on_date``.

What "in force for decisions" means (:func:`directives_in_force`, the one place that says
it): the document version is active and valid on the date, and the directive is confirmed
or edited, or proposed with a confidence at or above the threshold the caller passes. A
directive's own window (``start``/``end``) is not checked here: a planner looking ahead
needs the ones that start later; :func:`envs.directives.compile_directives` decides per
date. ``none`` directives are never in force.

Search (:func:`search`) uses the database's own full-text engine; the index lives in the
database, not in these models, and migration ``0005`` creates it:

* SQLite: ``kb_documents_fts``, an FTS5 table over ``title`` and ``text`` with the
  ``porter unicode61`` tokenizer, external content (``kb_documents``), kept in sync by
  triggers on insert, delete and update of ``id``, ``title`` or ``text``: any writer keeps it
  right. Ranked by ``bm25`` (title counts twice).
* PostgreSQL: the generated column ``kb_documents.search_vector``
  (``to_tsvector('english', ...)``, title weighted ``A``, text ``B``, ``STORED``) with a GIN
  index. Ranked by ``ts_rank`` normalised by document length.

A query is untrusted text: it is cut into words (:func:`query_words`) and each word is sent
as a quoted FTS5 string or through ``plainto_tsquery``, so no text can reach either engine's
query syntax; a document matches when it has any of the words. A query without words lists
the matching documents newest first.

Concurrency: a supersede, retire or review locks the row it changes (``SELECT ... FOR
UPDATE`` on PostgreSQL; SQLite transactions are already one writer at a time), and a partial
unique index allows one active version per ``(shop_id, doc_key)``. Of two racing reviews of a
directive, or retires of a document, the second sees the first's result and is refused with
a conflict error; of two racing supersedes, both are filed, one after the other (versions
n+1 and n+2), on both databases.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    and_,
    column,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
    true,
)
from sqlalchemy.orm import Session

from agent.store import kb_models
from agent.store.kb_models import (
    DOCUMENT_KINDS,
    DOCUMENT_STATUSES,
    MAX_QUERY_WORDS,
    MAX_TEXT_CHARS,
    REVIEW_VERDICTS,
    DirectiveNotFoundError,
    DocumentDirective,
    DocumentNotFoundError,
    KbDirective,
    KbDocument,
    KnowledgeBaseConflictError,
    KnowledgeBaseError,
    KnowledgeBaseInputError,
    SearchHit,
)
from agent.store.models import utcnow

__all__ = [
    *kb_models.__all__,
    "add_directives",
    "add_document",
    "directives_in_force",
    "get_document",
    "list_documents",
    "pending_reviews",
    "query_words",
    "retire_document",
    "review_directive",
    "search",
]

#: The SQLite FTS5 table made by migration 0005 (rowid = kb_documents.id).
_FTS = table("kb_documents_fts", column("rowid", Integer))
_FILED_STATUSES = ("proposed", "pending_review")
_REVIEWED = {"confirm": "confirmed", "edit": "edited", "reject": "rejected"}
_MAX_SCOPE = 500  # names per scope list, the same cap as a directive's SKU list
_LIMITS = {
    "title": 200,
    "source": 1000,
    "author": 128,
    "by": 128,
    "reader": 128,
    "reason": 2000,
    "name": 160,
}


# ---------------------------------------------------------------------------------- input checks
def _name(field: str, value: Any, limit: int) -> str:
    """A non-empty string (not only whitespace) of at most ``limit`` characters, no NUL."""
    if not isinstance(value, str) or not value.strip():
        raise KnowledgeBaseInputError(field, f"must be a non-empty string, got {value!r:.80}")
    if len(value) > limit:
        raise KnowledgeBaseInputError(
            field, f"is {len(value)} characters long; at most {limit} are allowed"
        )
    if "\x00" in value:
        raise KnowledgeBaseInputError(field, "contains a NUL character (\\x00); remove it")
    return value


def _opt_name(field: str, value: Any, limit: int) -> str | None:
    return None if value is None else _name(field, value, limit)


def _reason(field: str, value: Any) -> str:
    """A free-text reason: any string (empty allowed) of at most the reason limit."""
    if not isinstance(value, str):
        raise KnowledgeBaseInputError(field, f"must be a string, got {type(value).__name__}")
    if len(value) > _LIMITS["reason"]:
        raise KnowledgeBaseInputError(
            field, f"is {len(value)} characters long; at most {_LIMITS['reason']} are allowed"
        )
    if "\x00" in value:
        raise KnowledgeBaseInputError(field, "contains a NUL character (\\x00); remove it")
    return value


def _date(field: str, value: Any) -> dt.date:
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise KnowledgeBaseInputError(
            field, f"must be a datetime.date (a calendar date), got {value!r:.80}"
        )
    return value


def _opt_date(field: str, value: Any) -> dt.date | None:
    return None if value is None else _date(field, value)


def _names(field: str, values: Iterable[str]) -> list[str]:
    """A scope list: distinct non-empty names, in the order given."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise KnowledgeBaseInputError(
            field, f"must be a list of names, got {values!r:.80}; wrap one name in a list"
        )
    out: dict[str, None] = {}  # ordered and distinct
    for i, v in enumerate(values):
        out[_name(f"{field}[{i}]", v, _LIMITS["name"])] = None
        if len(out) > _MAX_SCOPE:
            raise KnowledgeBaseInputError(
                field, f"names more than {_MAX_SCOPE} items; at most {_MAX_SCOPE} are allowed"
            )
    return list(out)


def _choice(field: str, value: Any, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise KnowledgeBaseInputError(field, f"{value!r:.80} is not one of {', '.join(allowed)}")
    return value


def _row_id(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise KnowledgeBaseInputError(field, f"must be an integer id, got {value!r:.80}")
    return value


def _confidence(field: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise KnowledgeBaseInputError(field, f"must be a number in [0, 1] or None, got {value!r}")
    if not 0.0 <= value <= 1.0:
        raise KnowledgeBaseInputError(field, f"must lie in [0, 1], got {value}")
    return float(value)


def _directive_payload(field: str, value: Any) -> dict[str, Any]:
    """Validate one directive (a mapping or a directive model); its JSON form."""
    from pydantic import BaseModel, ValidationError

    from envs.directives import directive_adapter

    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if not isinstance(value, Mapping):
        raise KnowledgeBaseInputError(
            field, f"must be a directive mapping with a 'kind', got {type(value).__name__}"
        )
    try:
        directive = directive_adapter().validate_python(dict(value))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise KnowledgeBaseInputError(
            f"{field}.{where}" if where else field,
            f"{first['msg']} ({exc.error_count()} "
            "error(s)); see envs.directives for the kinds and their fields",
        ) from exc
    return directive.model_dump(mode="json")


# ---------------------------------------------------------------------------------- queries
def _valid_on(day: dt.date) -> ColumnElement[bool]:
    d = KbDocument
    return and_(
        d.doc_date <= day,
        or_(d.valid_from.is_(None), d.valid_from <= day),
        or_(d.valid_to.is_(None), d.valid_to >= day),
    )


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _scope_clause(
    dialect: str, skus: list[str], categories: list[str], suppliers: list[str]
) -> ColumnElement[bool]:
    """Documents whose scope is the whole shop or shares a name with the given lists (no
    lists given: every document)."""
    if not (skus or categories or suppliers):
        return true()
    elements = "json_each" if dialect == "sqlite" else "json_array_elements_text"
    d = KbDocument
    clauses: list[ColumnElement[bool]] = [
        and_(
            func.json_array_length(d.skus) == 0,
            func.json_array_length(d.categories) == 0,
            func.json_array_length(d.suppliers) == 0,
        )
    ]
    for col, wanted in ((d.skus, skus), (d.categories, categories), (d.suppliers, suppliers)):
        if wanted:
            each = getattr(func, elements)(col).table_valued("value")
            clauses.append(exists(select(1).select_from(each).where(each.c.value.in_(wanted))))
    return or_(*clauses)


def query_words(query: str) -> list[str]:
    """The words of a search query: runs of letters, digits and ``_`` after NFKC
    normalisation, lowercased, repeats dropped, at most :data:`MAX_QUERY_WORDS`.

    Everything else (quotes, ``*``, parentheses, operators' punctuation) is a separator, so
    no query can reach a full-text engine's syntax:

    >>> query_words('"); DROP TABLE kb_documents; --')
    ['drop', 'table', 'kb_documents']
    >>> query_words('NEAR(recall* "kettle"  Recall')
    ['near', 'recall', 'kettle']
    >>> query_words("*** !!")
    []
    """
    if not isinstance(query, str):
        raise KnowledgeBaseInputError("query", f"must be a string, got {type(query).__name__}")
    seen: list[str] = []
    for word in re.findall(r"\w+", unicodedata.normalize("NFKC", query)):
        w = word.lower()
        if w not in seen:
            seen.append(w)
            if len(seen) == MAX_QUERY_WORDS:
                break
    return seen


# ---------------------------------------------------------------------------------- documents
def add_document(
    session: Session,
    shop_id: str,
    *,
    text: str,
    kind: str,
    doc_date: dt.date,
    title: str | None = None,
    source: str | None = None,
    author: str | None = None,
    valid_from: dt.date | None = None,
    valid_to: dt.date | None = None,
    skus: Iterable[str] = (),
    categories: Iterable[str] = (),
    suppliers: Iterable[str] = (),
    supersedes: str | None = None,
) -> KbDocument:
    """File a document (or a new version of one) for ``shop_id``; the new row, flushed.

    Args:
        text: the document, 1 to :data:`MAX_TEXT_CHARS` characters, not only whitespace.
        kind: one of :data:`DOCUMENT_KINDS`.
        doc_date: the date the text is dated or was received.
        title, source, author: optional labels (at most 200, 1,000 and 128 characters).
        valid_from, valid_to: the inclusive window it applies in (open when ``None``);
            ``valid_to`` may not be before ``valid_from``.
        skus, categories, suppliers: its scope (lists of names; all empty: the whole shop).
        supersedes: the ``doc_key`` of a document whose active version this one replaces:
            the new row gets that key and the next version number, and the old version
            becomes ``superseded`` with ``superseded_by`` set, in the caller's transaction.
            The old version's directives stay with it (no longer in force); read the new
            version to get its own.

    Raises:
        KnowledgeBaseInputError: an argument is invalid (``field`` names it).
        DocumentNotFoundError: ``supersedes`` names no document of the shop.
        KnowledgeBaseConflictError: ``supersedes`` names a document with no active version.
    """
    shop = _name("shop_id", shop_id, 64)
    if not isinstance(text, str) or not text.strip():
        raise KnowledgeBaseInputError("text", "must be a non-empty string (not only whitespace)")
    if len(text) > MAX_TEXT_CHARS:
        raise KnowledgeBaseInputError(
            "text",
            f"is {len(text):,} characters long; at most {MAX_TEXT_CHARS:,} are allowed: "
            "split the document",
        )
    if "\x00" in text:
        raise KnowledgeBaseInputError("text", "contains a NUL character (\\x00); remove it")
    _choice("kind", kind, DOCUMENT_KINDS)
    row = KbDocument(
        shop_id=shop,
        kind=kind,
        title=_opt_name("title", title, _LIMITS["title"]),
        text=text,
        source=_opt_name("source", source, _LIMITS["source"]),
        author=_opt_name("author", author, _LIMITS["author"]),
        doc_date=_date("doc_date", doc_date),
        valid_from=_opt_date("valid_from", valid_from),
        valid_to=_opt_date("valid_to", valid_to),
        skus=_names("skus", skus),
        categories=_names("categories", categories),
        suppliers=_names("suppliers", suppliers),
        status="active",
    )
    if row.valid_from is not None and row.valid_to is not None and row.valid_to < row.valid_from:
        raise KnowledgeBaseInputError(
            "valid_to",
            f"{row.valid_to} is before valid_from {row.valid_from}; a window's end "
            "must be on or after its start",
        )
    if supersedes is None:
        row.doc_key, row.version = uuid.uuid4().hex[:12], 1
        session.add(row)
        session.flush()
        return row
    key = _name("supersedes", supersedes, 64)
    old = _active_version(session, shop, key, lock=True)
    last = session.scalar(
        select(func.max(KbDocument.version)).where(
            KbDocument.shop_id == shop, KbDocument.doc_key == key
        )
    )
    old.status = "superseded"
    session.flush()  # the one-active-version index sees the old row leave first
    row.doc_key, row.version = key, int(last or 0) + 1
    session.add(row)
    session.flush()
    old.superseded_by = row.id
    session.flush()
    return row


def _active_version(session: Session, shop_id: str, doc_key: str, *, lock: bool) -> KbDocument:
    """The active version of ``doc_key`` (locked for update when ``lock``).

    On PostgreSQL a transaction that waited for the lock of a version another one has just
    superseded finds no row; it looks again and takes the new active version, as the same
    race ends on SQLite (one writer at a time).
    """
    stmt = select(KbDocument).where(
        KbDocument.shop_id == shop_id,
        KbDocument.doc_key == doc_key,
        KbDocument.status == "active",
    )
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    for _ in range(3):
        row = session.scalar(stmt)
        if row is not None:
            return row
        latest = _latest_version(session, shop_id, doc_key)
        if latest.status != "active":
            raise KnowledgeBaseConflictError(
                f"document {doc_key!r} of shop {shop_id!r} has no active version: version "
                f"{latest.version} is {latest.status}"
            )
    raise KnowledgeBaseConflictError(
        f"document {doc_key!r} of shop {shop_id!r} kept changing while waiting for its lock; "
        "try again"
    )


def _latest_version(session: Session, shop_id: str, doc_key: str) -> KbDocument:
    row = session.scalar(
        select(KbDocument)
        .where(KbDocument.shop_id == shop_id, KbDocument.doc_key == doc_key)
        .order_by(KbDocument.version.desc())
        .limit(1)
    )
    if row is None:
        raise DocumentNotFoundError(f"shop {shop_id!r} has no document with key {doc_key!r}")
    return row


def get_document(
    session: Session, shop_id: str, doc_key_or_id: str | int, *, version: int | None = None
) -> KbDocument:
    """One document version of ``shop_id``.

    ``doc_key_or_id`` is a row id (``int``: that version) or a ``doc_key`` (``str``: its
    active version, else its latest; with ``version``, that version).

    Raises:
        KnowledgeBaseInputError: ``doc_key_or_id`` is neither, or ``version`` is given with
            a row id.
        DocumentNotFoundError: the shop has no such document or version.
    """
    shop = _name("shop_id", shop_id, 64)
    if isinstance(doc_key_or_id, bool) or not isinstance(doc_key_or_id, int | str):
        raise KnowledgeBaseInputError(
            "doc_key_or_id", f"must be a document id (int) or key (str), got {doc_key_or_id!r}"
        )
    if isinstance(doc_key_or_id, int):
        if version is not None:
            raise KnowledgeBaseInputError("version", "pass a version only with a doc_key")
        row = session.get(KbDocument, doc_key_or_id)
        if row is None or row.shop_id != shop:
            raise DocumentNotFoundError(f"shop {shop!r} has no document with id {doc_key_or_id}")
        return row
    key = _name("doc_key_or_id", doc_key_or_id, 64)
    if version is not None:
        row = session.scalar(
            select(KbDocument).where(
                KbDocument.shop_id == shop,
                KbDocument.doc_key == key,
                KbDocument.version == _row_id("version", version),
            )
        )
        if row is None:
            raise DocumentNotFoundError(
                f"shop {shop!r} has no version {version} of document {key!r}"
            )
        return row
    active = session.scalar(
        select(KbDocument).where(
            KbDocument.shop_id == shop, KbDocument.doc_key == key, KbDocument.status == "active"
        )
    )
    return active if active is not None else _latest_version(session, shop, key)


def retire_document(
    session: Session, shop_id: str, doc_key_or_id: str | int, *, by: str, reason: str
) -> KbDocument:
    """Retire a document: its active version becomes ``retired`` (who, when, why kept), so
    it is no longer searched and its directives are no longer in force.

    ``doc_key_or_id`` is a ``doc_key`` (its active version) or the id of an active version.

    Raises:
        KnowledgeBaseInputError: ``by`` is empty, or an argument has the wrong type.
        DocumentNotFoundError: the shop has no such document.
        KnowledgeBaseConflictError: the version is not active (superseded or retired).
    """
    shop = _name("shop_id", shop_id, 64)
    who = _name("by", by, _LIMITS["by"])
    why = _reason("reason", reason)
    if isinstance(doc_key_or_id, str):
        row = _active_version(session, shop, _name("doc_key_or_id", doc_key_or_id, 64), lock=True)
    else:
        row = get_document(session, shop, doc_key_or_id)
        row = session.scalar(
            select(KbDocument)
            .where(KbDocument.id == row.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        assert row is not None
        if row.status != "active":
            raise KnowledgeBaseConflictError(
                f"document {row.id} ({row.doc_key!r} version {row.version}) is {row.status}; "
                "only an active version can be retired"
            )
    row.status = "retired"
    row.retired_at = utcnow()
    row.retired_by = who
    row.retire_reason = why
    session.flush()
    return row


def list_documents(
    session: Session,
    shop_id: str,
    *,
    status: str | None = None,
    kind: str | None = None,
    on_date: dt.date | None = None,
) -> list[KbDocument]:
    """The document versions of ``shop_id``, newest ``doc_date`` first (then newest filed).

    Args:
        status: only this status (default: every version, superseded and retired included).
        kind: only this kind.
        on_date: only versions valid on that date (see the module docstring).
    """
    shop = _name("shop_id", shop_id, 64)
    stmt = select(KbDocument).where(KbDocument.shop_id == shop)
    if status is not None:
        stmt = stmt.where(KbDocument.status == _choice("status", status, DOCUMENT_STATUSES))
    if kind is not None:
        stmt = stmt.where(KbDocument.kind == _choice("kind", kind, DOCUMENT_KINDS))
    if on_date is not None:
        stmt = stmt.where(_valid_on(_date("on_date", on_date)))
    stmt = stmt.order_by(KbDocument.doc_date.desc(), KbDocument.id.desc())
    return list(session.scalars(stmt))


def search(
    session: Session,
    shop_id: str,
    query: str,
    *,
    on_date: dt.date | None = None,
    skus: Iterable[str] = (),
    categories: Iterable[str] = (),
    suppliers: Iterable[str] = (),
    limit: int = 10,
) -> list[SearchHit]:
    """Full-text search over the shop's active documents, most relevant first.

    Args:
        query: untrusted text; its words (:func:`query_words`) are matched, any of them,
            with the engine's stemming. Without words (empty, only punctuation), the
            documents that pass the other filters come newest first, score 0.0.
        on_date: only documents valid on that date (default: any date).
        skus, categories, suppliers: only documents about the whole shop or sharing a name
            with one of these lists (default: no scope filter).
        limit: at most this many hits, 1 to 100.

    Returns:
        :class:`SearchHit` rows: ``bm25`` (negated) on SQLite, ``ts_rank`` on PostgreSQL;
        ties go to the newer document.
    """
    shop = _name("shop_id", shop_id, 64)
    words = query_words(query)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
        raise KnowledgeBaseInputError("limit", f"must be an integer from 1 to 100, got {limit!r}")
    dialect = _dialect(session)
    where = [
        KbDocument.shop_id == shop,
        KbDocument.status == "active",
        _scope_clause(
            dialect,
            _names("skus", skus),
            _names("categories", categories),
            _names("suppliers", suppliers),
        ),
    ]
    if on_date is not None:
        where.append(_valid_on(_date("on_date", on_date)))
    newest = (KbDocument.doc_date.desc(), KbDocument.id.desc())
    if not words:
        stmt = select(KbDocument).where(*where).order_by(*newest).limit(limit)
        return [SearchHit(row, 0.0) for row in session.scalars(stmt)]
    if dialect == "sqlite":
        match = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
        bm25 = literal_column("bm25(kb_documents_fts, 2.0, 1.0)", Float)
        stmt = (
            select(KbDocument, (-bm25).label("score"))
            .join(_FTS, _FTS.c.rowid == KbDocument.id)
            .where(text("kb_documents_fts MATCH :kb_match").bindparams(kb_match=match), *where)
            .order_by(bm25, *newest)
            .limit(limit)
        )
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR

        english = literal_column("'english'::regconfig")
        tsq: Any = None
        for w in words:
            part = func.plainto_tsquery(english, w, type_=TSQUERY)
            tsq = part if tsq is None else tsq.op("||", return_type=TSQUERY)(part)
        vector = literal_column("kb_documents.search_vector", TSVECTOR)
        rank = func.ts_rank(vector, tsq, 1, type_=Float)
        stmt = (
            select(KbDocument, rank.label("score"))
            .where(vector.bool_op("@@")(tsq), *where)
            .order_by(rank.desc(), *newest)
            .limit(limit)
        )
    else:  # pragma: no cover - the store runs on SQLite and PostgreSQL only
        raise KnowledgeBaseError(f"full-text search is not available on {dialect}")
    return [SearchHit(row, float(score)) for row, score in session.execute(stmt)]


# ---------------------------------------------------------------------------------- directives
def add_directives(
    session: Session,
    document_id: int,
    directives: Sequence[Mapping[str, Any] | Any],
    *,
    reader: str,
    confidences: Sequence[float | None] | None = None,
    statuses: Sequence[str] | None = None,
) -> list[KbDirective]:
    """File the directives a reader read from an active document version; the new rows.

    Args:
        directives: directive mappings (or :mod:`envs.directives` models), validated; the
            stored payload is the validated ``model_dump(mode="json")``. Positions continue
            after the document's existing directives.
        reader: the model or checkpoint that read them.
        confidences: one per directive, in [0, 1] or ``None`` (default: all ``None``).
        statuses: one per directive, ``proposed`` or ``pending_review`` (default: all
            ``proposed``); confirming is a review's job (:func:`review_directive`), so the
            store always records who confirmed.

    Raises:
        KnowledgeBaseInputError: a directive, confidence or status is invalid, or a list's
            length differs from ``directives`` (``field`` names it: ``directives[2].skus``).
        DocumentNotFoundError: no document has that id.
        KnowledgeBaseConflictError: the document version is not active.
    """
    doc = session.get(KbDocument, _row_id("document_id", document_id))
    if doc is None:
        raise DocumentNotFoundError(f"no document has id {document_id}")
    if doc.status != "active":
        raise KnowledgeBaseConflictError(
            f"document {doc.id} ({doc.doc_key!r} version {doc.version}) is {doc.status}; "
            "directives are filed only for an active version"
        )
    who = _name("reader", reader, _LIMITS["reader"])
    if isinstance(directives, Mapping) or not isinstance(directives, Sequence):
        raise KnowledgeBaseInputError("directives", "must be a list of directives")
    n = len(directives)
    confs = [None] * n if confidences is None else list(confidences)
    stats = ["proposed"] * n if statuses is None else list(statuses)
    for field, values in (("confidences", confs), ("statuses", stats)):
        if len(values) != n:
            raise KnowledgeBaseInputError(
                field, f"has {len(values)} items for {n} directives; give one per directive"
            )
    payloads = [_directive_payload(f"directives[{i}]", d) for i, d in enumerate(directives)]
    confs = [_confidence(f"confidences[{i}]", c) for i, c in enumerate(confs)]
    stats = [_choice(f"statuses[{i}]", s, _FILED_STATUSES) for i, s in enumerate(stats)]
    last = session.scalar(
        select(func.max(KbDirective.position)).where(KbDirective.document_id == doc.id)
    )
    start = 0 if last is None else int(last) + 1
    rows = [
        KbDirective(
            document_id=doc.id,
            position=start + i,
            kind=payload["kind"],
            payload=payload,
            confidence=confs[i],
            status=stats[i],
            reader=who,
        )
        for i, payload in enumerate(payloads)
    ]
    session.add_all(rows)
    session.flush()
    return rows


def review_directive(
    session: Session,
    directive_id: int,
    *,
    verdict: str,
    by: str,
    reason: str,
    edited_payload: Mapping[str, Any] | Any | None = None,
    shop_id: str | None = None,
) -> KbDirective:
    """A person's review of one directive: ``confirm``, ``edit`` or ``reject``; the row.

    ``edit`` needs ``edited_payload`` (validated like a reader's directive; its kind may
    differ): it replaces ``payload`` (the reader's is kept in ``original_payload``) and the
    status becomes ``edited``. A review is final.

    Args:
        shop_id: when given, a directive of another shop is not found (for callers that
            check a person's shop grants).

    Raises:
        KnowledgeBaseInputError: unknown verdict, empty ``by``, an ``edited_payload`` missing
            for ``edit``, given for another verdict, or invalid.
        DirectiveNotFoundError: no directive has that id (in that shop).
        KnowledgeBaseConflictError: the directive was reviewed already (the message names its
            status and reviewer), or its document version is no longer active.
    """
    _choice("verdict", verdict, REVIEW_VERDICTS)
    who = _name("by", by, _LIMITS["by"])
    why = _reason("reason", reason)
    if verdict == "edit":
        if edited_payload is None:
            raise KnowledgeBaseInputError("edited_payload", "is required for the edit verdict")
        new_payload = _directive_payload("edited_payload", edited_payload)
    elif edited_payload is not None:
        raise KnowledgeBaseInputError(
            "edited_payload", f"is only for the edit verdict, not {verdict}"
        )
    row = session.scalar(
        select(KbDirective)
        .where(KbDirective.id == _row_id("directive_id", directive_id))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    doc = None if row is None else session.get(KbDocument, row.document_id)
    if row is None or doc is None or (shop_id is not None and doc.shop_id != shop_id):
        where = "" if shop_id is None else f" in shop {shop_id!r}"
        raise DirectiveNotFoundError(f"no directive has id {directive_id}{where}")
    if row.status not in _FILED_STATUSES:
        raise KnowledgeBaseConflictError(
            f"directive {row.id} was already reviewed: it is {row.status} (by "
            f"{row.reviewed_by} at {row.reviewed_at:%Y-%m-%d %H:%M} UTC); a review is final"
            if row.reviewed_at is not None
            else f"directive {row.id} is {row.status}; a review is final"
        )
    if doc.status != "active":
        raise KnowledgeBaseConflictError(
            f"directive {row.id} belongs to document {doc.id} ({doc.doc_key!r} version "
            f"{doc.version}), which is {doc.status}; review the directives of its active "
            "version"
        )
    if verdict == "edit":
        row.original_payload = row.payload
        row.payload = new_payload
        row.kind = new_payload["kind"]
    row.status = _REVIEWED[verdict]
    row.reviewed_by = who
    row.reviewed_at = utcnow()
    row.review_reason = why
    session.flush()
    return row


def directives_in_force(
    session: Session, shop_id: str, on_date: dt.date, *, min_confidence: float | None
) -> list[DocumentDirective]:
    """The directives that may steer decisions on ``on_date`` (see the module docstring).

    Args:
        min_confidence: also take ``proposed`` directives whose confidence is at least this
            (in [0, 1]); ``None``: only reviewed ones (confirmed or edited).

    Returns:
        :class:`DocumentDirective` pairs, oldest document first, then in reading order.
    """
    shop = _name("shop_id", shop_id, 64)
    day = _date("on_date", on_date)
    threshold = _confidence("min_confidence", min_confidence)
    unreviewed: ColumnElement[bool] = false()
    if threshold is not None:
        unreviewed = and_(
            KbDirective.status == "proposed",
            KbDirective.confidence.is_not(None),
            KbDirective.confidence >= threshold,
        )
    stmt = (
        select(KbDirective, KbDocument)
        .join(KbDocument, KbDirective.document_id == KbDocument.id)
        .where(
            KbDocument.shop_id == shop,
            KbDocument.status == "active",
            _valid_on(day),
            KbDirective.kind != "none",
            or_(KbDirective.status.in_(("confirmed", "edited")), unreviewed),
        )
        .order_by(KbDocument.doc_date, KbDocument.id, KbDirective.position)
    )
    return [DocumentDirective(d, doc) for d, doc in session.execute(stmt)]


def pending_reviews(
    session: Session, shop_id: str, *, include_proposed: bool = False
) -> list[DocumentDirective]:
    """The directives of the shop's active documents that wait for a person, oldest first:
    ``pending_review`` ones, and ``proposed`` ones too with ``include_proposed``."""
    shop = _name("shop_id", shop_id, 64)
    waiting = ("pending_review", "proposed") if include_proposed else ("pending_review",)
    stmt = (
        select(KbDirective, KbDocument)
        .join(KbDocument, KbDirective.document_id == KbDocument.id)
        .where(
            KbDocument.shop_id == shop,
            KbDocument.status == "active",
            KbDirective.status.in_(waiting),
        )
        .order_by(KbDirective.created_at, KbDirective.id)
    )
    return [DocumentDirective(d, doc) for d, doc in session.execute(stmt)]
