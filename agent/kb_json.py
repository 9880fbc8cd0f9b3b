"""The knowledge base's JSON shapes, one for the CLI's ``--json`` and the API alike."""

from __future__ import annotations

from typing import Any

__all__ = ["directive_counts", "directive_json", "document_detail", "document_json"]


def _iso(x: Any) -> str | None:
    return None if x is None else x.isoformat()


def _when(x: Any) -> str | None:
    return None if x is None else x.isoformat(timespec="seconds")


def directive_json(row: Any) -> dict[str, Any]:
    """One :class:`~agent.store.kb.KbDirective` as JSON, with its one-line ``summary``."""
    from envs.directives import directive_summary

    return {
        "id": row.id,
        "document_id": row.document_id,
        "position": row.position,
        "kind": row.kind,
        "summary": directive_summary(row.directive()),
        "payload": row.payload,
        "original_payload": row.original_payload,
        "confidence": row.confidence,
        "status": row.status,
        "reader": row.reader,
        "reviewed_by": row.reviewed_by,
        "reviewed_at": _when(row.reviewed_at),
        "review_reason": row.review_reason,
        "created_at": _when(row.created_at),
    }


def document_json(
    doc: Any, counts: dict[str, int] | None = None, *, text: bool = True
) -> dict[str, Any]:
    """One :class:`~agent.store.kb.KbDocument` version as JSON.

    Args:
        counts: its directives per status (:func:`directive_counts`); ``directive_count``
            is then their total and ``directive_statuses`` the counts.
        text: include the full text (lists leave it out: up to 20,000 characters each).
    """
    out: dict[str, Any] = {
        "id": doc.id,
        "shop_id": doc.shop_id,
        "doc_key": doc.doc_key,
        "version": doc.version,
        "kind": doc.kind,
        "title": doc.title,
        "source": doc.source,
        "author": doc.author,
        "doc_date": _iso(doc.doc_date),
        "valid_from": _iso(doc.valid_from),
        "valid_to": _iso(doc.valid_to),
        "skus": list(doc.skus or []),
        "categories": list(doc.categories or []),
        "suppliers": list(doc.suppliers or []),
        "status": doc.status,
        "superseded_by": doc.superseded_by,
        "created_at": _when(doc.created_at),
        "retired_at": _when(doc.retired_at),
        "retired_by": doc.retired_by,
        "retire_reason": doc.retire_reason,
    }
    if text:
        out["text"] = doc.text
    if counts is not None:
        out["directive_count"] = sum(counts.values())
        out["directive_statuses"] = counts
    return out


def directive_counts(session: Any, document_ids: list[int]) -> dict[int, dict[str, int]]:
    """Directives per status of each document id (``{}`` for one without directives)."""
    from sqlalchemy import func, select

    from agent.store.kb import KbDirective

    out: dict[int, dict[str, int]] = {i: {} for i in document_ids}
    if not document_ids:
        return out
    rows = session.execute(
        select(KbDirective.document_id, KbDirective.status, func.count())
        .where(KbDirective.document_id.in_(document_ids))
        .group_by(KbDirective.document_id, KbDirective.status)
    )
    for doc_id, status, n in rows:
        out[doc_id][status] = int(n)
    return out


def document_detail(session: Any, doc: Any) -> dict[str, Any]:
    """A document version with its text, its ``directives`` in reading order and the
    ``versions`` of its key (id, version, status, oldest first)."""
    from sqlalchemy import select

    from agent.store.kb import KbDirective, KbDocument

    out = document_json(doc)
    out["directives"] = [
        directive_json(r)
        for r in session.scalars(
            select(KbDirective)
            .where(KbDirective.document_id == doc.id)
            .order_by(KbDirective.position)
        )
    ]
    out["versions"] = [
        {"id": i, "version": v, "status": st}
        for i, v, st in session.execute(
            select(KbDocument.id, KbDocument.version, KbDocument.status)
            .where(KbDocument.shop_id == doc.shop_id, KbDocument.doc_key == doc.doc_key)
            .order_by(KbDocument.version)
        )
    ]
    return out
