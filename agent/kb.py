"""The knowledge base as the agent uses it: documents in, directives in force out.

* :func:`add_and_read` stores a document (:mod:`agent.store.kb`) and, with a reader, reads it
  into directives in the same transaction. A directive at or above the confidence threshold
  is ``proposed`` and in force from the next decision; one below it is ``pending_review``: a
  person confirms, edits or rejects it (:func:`review`), and the verdict becomes training data
  for the reader.
* :func:`directives_for_day` returns the directives in force for a shop on a date, as typed
  objects, for the guardrails and the planners' view (:mod:`tools.knowledge`). It reads the
  store each time: adding, superseding or retiring a document changes the next decision
  without a restart.
* :func:`shop_names` gives the catalogue names a reading resolves against.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Sequence
from typing import Any, Protocol

from envs.directives import parse_directives

__all__ = [
    "DEFAULT_MIN_CONFIDENCE",
    "ReadingReviewer",
    "add_and_read",
    "attach_documents",
    "day_directives",
    "directives_for_day",
    "documents_about",
    "ingest_notices",
    "reconcile_reading",
    "shop_names",
]

#: Readings at or above this confidence take effect without a person; below it they wait.
DEFAULT_MIN_CONFIDENCE = 0.8


def shop_names(shop: str) -> Any:
    """The catalogue names (SKU ids, categories, suppliers) of a scenario name or file.

    Raises:
        ScenarioError: no such scenario (the message lists the shipped ones).
    """
    from envs.catalog import build_catalog
    from envs.scenario import load_scenario
    from policies.llm.reader import ShopNames

    catalog = build_catalog(load_scenario(shop))
    return ShopNames(
        tuple(catalog.sku_ids), tuple(catalog.category_names), tuple(catalog.supplier_names)
    )


def add_and_read(
    session: Any,
    shop_id: Any,
    *,
    text: str,
    doc_date: dt.date,
    reader: Any | None,
    names: Any | None,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    reading: Any | None = None,
    **document: Any,
) -> tuple[Any, list[Any]]:
    """Store a document and its directives (read now with ``reader`` and ``names``, or
    ``reading`` made beforehand, so a write transaction never waits on the model); return
    both.

    ``document`` holds the other fields of :func:`agent.store.kb.add_document` (kind, title,
    source, author, validity, scope, supersedes).
    """
    from agent.store import kb as store_kb

    doc = store_kb.add_document(session, shop_id, text=text, doc_date=doc_date, **document)
    rows: list[Any] = []
    if reading is None and reader is not None and names is not None:
        reading = reader.read(text, doc_date, names)
    if reading is not None:
        payloads = [d.model_dump(mode="json") for d in reading.directives]
        statuses = [
            "proposed" if c >= min_confidence else "pending_review" for c in reading.confidences
        ]
        rows = store_kb.add_directives(
            session,
            doc.id,
            payloads,
            reader=reading.model,
            confidences=reading.confidences,
            statuses=statuses,
        )
    return doc, rows


class ReadingReviewer(Protocol):
    """A person who reviews readings as they are filed (in simulations, inline)."""

    name: str

    def review(self, text: str, doc_date: dt.date) -> list[dict[str, Any]] | None:
        """The directives ``text`` truly asks for (payloads; ``[{"kind": "none"}]`` for
        nothing), or ``None`` to leave the readings waiting."""
        ...


def reconcile_reading(
    session: Any, doc_id: int, rows: Sequence[Any], truth: Sequence[dict[str, Any]], by: str
) -> dict[str, int]:
    """Review a document's unreviewed readings against what a person says it asks for: a
    reading equal to a true directive is confirmed, another is edited into a true one still
    unmatched (the reader's original is kept for training), the rest are rejected, and true
    directives no reading gave are added and confirmed. Returns counts per verdict."""
    from agent.store import kb as store_kb
    from policies.llm.reader import exact_match

    wanted = [d for d in parse_directives(list(truth)) if d.kind != "none"]
    wanted_payloads = [d.model_dump(mode="json") for d in wanted]
    open_rows = [r for r in rows if r.status in ("proposed", "pending_review")]
    left = list(range(len(wanted)))
    counts = {"confirm": 0, "edit": 0, "reject": 0, "added": 0}
    verdicts: list[tuple[Any, str, dict[str, Any] | None]] = []
    for row in open_rows:
        read = parse_directives([row.payload])
        hit = next((k for k in left if exact_match(read, [wanted[k]])), None)
        if hit is not None:
            left.remove(hit)
            verdicts.append((row, "confirm", None))
        elif row.payload.get("kind") == "none" and not wanted:
            verdicts.append((row, "confirm", None))
        else:
            verdicts.append((row, "reject", None))
    for i, (row, verdict, _p) in enumerate(verdicts):  # a wrong reading becomes a true one
        if verdict == "reject" and left:
            verdicts[i] = (row, "edit", wanted_payloads[left.pop(0)])
    for row, verdict, payload in verdicts:
        store_kb.review_directive(
            session, row.id, verdict=verdict, by=by, edited_payload=payload,
            reason=f"reviewed by {by}",
        )  # fmt: skip
        counts[verdict] += 1
    if left:
        added = store_kb.add_directives(
            session, doc_id, [wanted_payloads[k] for k in left], reader=f"person:{by}",
            statuses=["pending_review"] * len(left),
        )  # fmt: skip
        for row in added:
            store_kb.review_directive(session, row.id, verdict="confirm", by=by,
                                      reason=f"added by {by}")  # fmt: skip
        counts["added"] = len(added)
    return counts


def directives_for_day(
    session: Any, shop_id: Any, day: dt.date, *, min_confidence: float = DEFAULT_MIN_CONFIDENCE
) -> list[Any]:
    """The typed directives in force for ``shop_id`` on ``day`` (``none`` left out)."""
    from agent.store import kb as store_kb

    pairs = store_kb.directives_in_force(session, shop_id, day, min_confidence=min_confidence)
    payloads = [row.payload for row, _doc in pairs if row.payload.get("kind") != "none"]
    return parse_directives(payloads)


def _touches(payload: dict[str, Any], sku: str, category: str, supplier: str) -> bool:
    if payload.get("kind") == "supplier_delay":
        return payload.get("supplier") == supplier
    return sku in (payload.get("skus") or ()) or payload.get("category") == category


def documents_about(
    session: Any,
    shop_id: str,
    on_date: dt.date,
    targets: dict[str, tuple[str, str]],
    *,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
) -> dict[str, list[dict[str, Any]]]:
    """For each SKU of ``targets`` (``sku -> (category, supplier)``), the documents whose
    directives in force on ``on_date`` concern it, as plain JSON for a decision card::

        {"document_id": 5, "version": 2, "title": "...", "kind": "supplier_notice",
         "directive": "supplier_delay dry-goods +7 days from ...", "status": "confirmed",
         "link": "/kb?doc=5"}
    """
    from agent.store import kb as store_kb
    from envs.directives import directive_summary

    pairs = store_kb.directives_in_force(session, shop_id, on_date, min_confidence=min_confidence)
    pairs = [(row, doc) for row, doc in pairs if row.payload.get("kind") != "none"]
    out: dict[str, list[dict[str, Any]]] = {}
    for sku, (category, supplier) in targets.items():
        for row, doc in pairs:
            if _touches(row.payload, sku, category, supplier):
                out.setdefault(sku, []).append({
                    "document_id": int(doc.id),
                    "version": int(doc.version),
                    "title": doc.title or doc.doc_key,
                    "kind": doc.kind,
                    "directive": directive_summary(parse_directives([row.payload])[0]),
                    "status": row.status,
                    "link": f"/kb?doc={int(doc.id)}",
                })  # fmt: skip
    return out


def attach_documents(session: Any, ctx: Any, view: Any, day: int, cards: list[dict]) -> None:
    """Put on each card (``card["documents"]``) the documents whose directives in force
    today concern its SKU; nothing without a knowledge base."""
    if getattr(ctx, "kb_shop", None) is None or not cards:
        return
    shop = ctx.shop
    supplier_of = shop.supplier_of()
    targets = {}
    for card in cards:
        p = shop.sku_index[card["sku"]]
        targets[card["sku"]] = (
            shop.category_names[int(view.category[p])],
            shop.supplier_names[int(supplier_of[p])],
        )
    docs = documents_about(
        session, ctx.kb_shop, shop.date_of(day), targets, min_confidence=ctx.kb_min_confidence
    )
    for card in cards:
        card["documents"] = docs.get(card["sku"], [])


_READERS: dict[tuple[str | None, str], Any] = {}


def cached_reader(spec: dict[str, Any]) -> Any:
    """One loaded reader per (checkpoint, adapter) in this process: a run rebuilds its
    context every day, and loading the model costs seconds."""
    from policies.llm.adapters import resolve_adapter
    from policies.llm.reader import Reader

    key = (spec.get("llm"), str(spec.get("adapter", "default")))
    if key not in _READERS:
        _READERS[key] = Reader.load(key[0], adapter=resolve_adapter(key[1]))
    return _READERS[key]


def day_directives(ctx: Any, view: Any, session: Any = None) -> tuple[Any, Any] | None:
    """The directives in force today and on arrival of an order placed today, as per-SKU
    arrays (:func:`tools.knowledge.directive_arrays`); ``None`` without a knowledge base.
    Read in ``session`` when given (a caller holding the run's lock), else in a new one."""
    if getattr(ctx, "kb_shop", None) is None:
        return None
    from tools.knowledge import directive_arrays

    shop = ctx.shop
    day = shop.date_of(int(view.day))
    scope = contextlib.nullcontext(session) if session is not None else ctx.store.session()
    with scope as s:
        directives = directives_for_day(s, ctx.kb_shop, day, min_confidence=ctx.kb_min_confidence)
    return directive_arrays(
        directives, day, view, shop.category_names, shop.supplier_names, shop.supplier_of()
    )


def ingest_notices(ctx: Any, day: int) -> list[dict[str, Any]]:
    """Add the texts arriving on ``day`` (a simulated shop's inbox) to the knowledge base and
    read them; returns one summary per text. A text already filed for this run and day (a
    resumed day) is not filed twice."""
    from sqlalchemy import select

    from agent.store.kb import KbDocument
    from envs.directives import directive_summary

    shop = ctx.shop
    notices = shop.notices_today() if hasattr(shop, "notices_today") else []
    if not notices or ctx.kb_shop is None:
        return []
    from policies.llm.reader import ShopNames

    names = ShopNames.from_shop(shop)
    out: list[dict[str, Any]] = []
    for k, notice in enumerate(notices):
        source = f"inbox:{ctx.run_id}:day{day}:{k}"
        with ctx.store.session() as s:
            if (
                s.scalar(
                    select(KbDocument.id).where(
                        KbDocument.shop_id == ctx.kb_shop, KbDocument.source == source
                    )
                )
                is not None
            ):
                continue
        reading = ctx.need_reader().read(notice["text"], shop.date_of(day), names)
        kind = "supplier_notice" if (notice.get("source") or "").startswith("supplier") else "other"
        with ctx.store.session() as s:
            _doc, rows = add_and_read(
                s, ctx.kb_shop, text=notice["text"], doc_date=shop.date_of(day), reader=None,
                names=names, reading=reading, min_confidence=ctx.kb_min_confidence, kind=kind,
                title=(notice["text"].strip().splitlines() or [""])[0][:120], source=source,
                author=notice.get("author"),
            )  # fmt: skip
            waiting = sum(r.status == "pending_review" for r in rows)
            reviewer = getattr(ctx, "kb_reviewer", None)
            if waiting and reviewer is not None:
                truth = reviewer.review(notice["text"], shop.date_of(day))
                if truth is not None:
                    reconcile_reading(s, _doc.id, rows, truth, reviewer.name)
                    waiting = 0
        out.append(
            {
                "document": source,
                "directives": [directive_summary(d) for d in reading.directives],
                "confidence": round(reading.confidence, 3),
                "waiting": waiting,
            }
        )
    return out
