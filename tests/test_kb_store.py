"""The knowledge base in the store: document versions, directives and their reviews, search.

Runs on a SQLite file, and on PostgreSQL when ``SHOPOPS_TEST_PG_URL`` is set (skips with the
reason otherwise). PostgreSQL tests share one database per module and keep apart by using a
fresh shop id per test; the migration test gets a database of its own.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text

import agent.store
from agent.store import open_store
from agent.store.kb import (
    MAX_TEXT_CHARS,
    DirectiveNotFoundError,
    DocumentNotFoundError,
    KbDirective,
    KbDocument,
    KnowledgeBaseConflictError,
    KnowledgeBaseInputError,
    add_directives,
    add_document,
    directives_in_force,
    get_document,
    list_documents,
    pending_reviews,
    retire_document,
    review_directive,
    search,
)
from agent.store.models import Run, Shop

D = dt.date
JAN1 = D(2026, 1, 1)
JAN10 = D(2026, 1, 10)

STOP = {"kind": "stop_sale", "skus": ["kettle-1"], "start": "2026-01-01", "reason": "recall"}
DELAY = {"kind": "supplier_delay", "supplier": "dry-goods", "extra_days": 7, "start": "2026-01-05"}
CAP = {"kind": "discount_cap", "category": "kitchen", "max_percent": 20, "start": "2026-01-01"}
BAN = {"kind": "promotion_ban", "category": "toys", "start": "2026-01-01", "end": "2026-01-31"}
NONE = {"kind": "none"}


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = str(tmp_path / "kb.db")
    else:
        url = request.getfixturevalue("pg_database")
    st = open_store(url)
    yield st
    st.close()


@pytest.fixture
def shop() -> str:
    return f"shop-{uuid.uuid4().hex[:8]}"


def _doc(s, shop: str, body: str, **kw) -> KbDocument:
    kw.setdefault("kind", "other")
    kw.setdefault("doc_date", JAN1)
    return add_document(s, shop, text=body, **kw)


def _ids(hits) -> list[int]:
    return [h.document.id for h in hits]


# ---------------------------------------------------------------------------------- lifecycle
def test_add_supersede_retire_keeps_every_version(store, shop):
    with store.session() as s:
        v1 = _doc(
            s,
            shop,
            "Kettles: no discounts above 20%.",
            kind="pricing_policy",
            title="Kettle pricing",
            source="email from Brand Co.",
            author="ana",
            skus=["kettle-1", "kettle-2", "kettle-1"],
        )
        assert (v1.version, v1.status, v1.skus, v1.categories) == (
            1,
            "active",
            ["kettle-1", "kettle-2"],
            [],
        )
        key = v1.doc_key
    with store.session() as s:
        v2 = _doc(
            s,
            shop,
            "Kettles: no discounts above 15%.",
            kind="pricing_policy",
            doc_date=D(2026, 2, 1),
            supersedes=key,
        )
        v3 = _doc(
            s,
            shop,
            "Kettles: no discounts above 10%.",
            kind="pricing_policy",
            doc_date=D(2026, 3, 1),
            supersedes=key,
        )
    with store.session() as s:
        old = get_document(s, shop, key, version=1)
        mid = get_document(s, shop, key, version=2)
        assert (old.status, old.superseded_by) == ("superseded", v2.id)
        assert (mid.status, mid.superseded_by) == ("superseded", v3.id)
        assert get_document(s, shop, key).id == v3.id and v3.version == 3
        assert [d.version for d in list_documents(s, shop)] == [3, 2, 1]
        assert [d.id for d in list_documents(s, shop, status="active")] == [v3.id]
    with store.session() as s:
        gone = retire_document(s, shop, key, by="ana", reason="brand contract ended")
        assert (gone.id, gone.status, gone.retired_by) == (v3.id, "retired", "ana")
        assert gone.retire_reason == "brand contract ended" and gone.retired_at is not None
    with store.session() as s:
        assert get_document(s, shop, key).status == "retired"  # no active one: the latest
        assert list_documents(s, shop, status="active") == []
        with pytest.raises(KnowledgeBaseConflictError, match="version 3 is retired"):
            retire_document(s, shop, key, by="ana", reason="again")
        with pytest.raises(KnowledgeBaseConflictError, match="version 3 is retired"):
            _doc(s, shop, "new text", supersedes=key)
        with pytest.raises(KnowledgeBaseConflictError, match="is superseded"):
            retire_document(s, shop, v1.id, by="ana", reason="")
        with pytest.raises(DocumentNotFoundError, match="no-such-key"):
            retire_document(s, shop, "no-such-key", by="ana", reason="")
        with pytest.raises(DocumentNotFoundError, match=str(v1.id)):
            get_document(s, "another-shop", v1.id)
        with pytest.raises(DocumentNotFoundError, match="version 9"):
            get_document(s, shop, key, version=9)


def test_retire_by_id_and_a_failed_transaction_leaves_the_old_version_active(store, shop):
    with store.session() as s:
        v1 = _doc(s, shop, "Dry Goods Co. ships on Mondays.")
    with pytest.raises(RuntimeError, match="crash"), store.session() as s:
        _doc(s, shop, "Dry Goods Co. ships on Tuesdays.", supersedes=v1.doc_key)
        raise RuntimeError("crash after the supersede, before the commit")
    with store.session() as s:
        assert get_document(s, shop, v1.doc_key).id == v1.id
        assert get_document(s, shop, v1.id).status == "active"
        assert len(list_documents(s, shop)) == 1
        assert retire_document(s, shop, v1.id, by="bo", reason="wrong").status == "retired"


def test_the_database_allows_one_active_version_per_key(store, shop):
    from sqlalchemy.exc import IntegrityError

    with store.session() as s:
        v1 = _doc(s, shop, "first")
    with pytest.raises(IntegrityError), store.session() as s:  # a writer bypassing kb.py
        s.add(
            KbDocument(
                shop_id=shop,
                doc_key=v1.doc_key,
                version=2,
                kind="other",
                text="second",
                doc_date=JAN1,
                status="active",
            )
        )


def test_list_documents_filters_by_status_kind_and_date(store, shop):
    with store.session() as s:
        jan = _doc(
            s,
            shop,
            "January sale",
            kind="marketing",
            doc_date=D(2025, 12, 20),
            valid_from=JAN1,
            valid_to=D(2026, 1, 31),
        )
        open_ended = _doc(s, shop, "Always ship tracked", kind="instruction", doc_date=JAN1)
        later = _doc(s, shop, "February note", kind="marketing", doc_date=D(2026, 2, 10))
        assert [d.id for d in list_documents(s, shop)] == [later.id, open_ended.id, jan.id]
        assert [d.id for d in list_documents(s, shop, kind="marketing")] == [later.id, jan.id]
        assert [d.id for d in list_documents(s, shop, on_date=D(2025, 12, 25))] == []  # before
        assert [d.id for d in list_documents(s, shop, on_date=D(2026, 1, 31))] == [
            open_ended.id,
            jan.id,
        ]
        assert [d.id for d in list_documents(s, shop, on_date=D(2026, 2, 1))] == [open_ended.id]
        assert {d.id for d in list_documents(s, shop, on_date=D(2026, 2, 10))} == {
            open_ended.id,
            later.id,
        }
        assert jan.valid_on(JAN1) and not jan.valid_on(D(2026, 2, 1))
        with pytest.raises(KnowledgeBaseInputError) as err:
            list_documents(s, shop, status="draft")
        assert err.value.field == "status"


# ---------------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": " \n\t"}, "text"),
        ({"text": "x" * (MAX_TEXT_CHARS + 1)}, "text"),
        ({"text": "nul \x00 byte"}, "text"),
        ({"kind": "memo"}, "kind"),
        ({"doc_date": "2026-01-01"}, "doc_date"),
        ({"doc_date": dt.datetime(2026, 1, 1, 12)}, "doc_date"),
        ({"valid_from": D(2026, 2, 1), "valid_to": D(2026, 1, 31)}, "valid_to"),
        ({"valid_from": 20260101}, "valid_from"),
        ({"skus": "kettle-1"}, "skus"),
        ({"skus": ["kettle-1", ""]}, "skus[1]"),
        ({"categories": [None]}, "categories[0]"),
        ({"suppliers": [f"s{i}" for i in range(501)]}, "suppliers"),
        ({"title": "t" * 201}, "title"),
        ({"author": "  "}, "author"),
        ({"supersedes": ""}, "supersedes"),
    ],
)
def test_invalid_documents_are_refused_naming_the_field(store, shop, changes, field):
    kwargs = {"text": "A fine document.", "kind": "other", "doc_date": JAN1} | changes
    with store.session() as s:
        with pytest.raises(KnowledgeBaseInputError) as err:
            add_document(s, shop, **kwargs)
        assert err.value.field == field
        assert str(err.value).startswith(f"{field}: ")
        assert list_documents(s, shop) == []
    with store.session() as s, pytest.raises(KnowledgeBaseInputError, match=r"^shop_id: "):
        add_document(s, "", text="x", kind="other", doc_date=JAN1)
    with store.session() as s:  # the longest text allowed is fine
        assert add_document(s, shop, text="y" * MAX_TEXT_CHARS, kind="other", doc_date=JAN1)


def test_superseding_an_unknown_key_is_not_found(store, shop):
    with store.session() as s, pytest.raises(DocumentNotFoundError, match="nope"):
        _doc(s, shop, "text", supersedes="nope")


# ---------------------------------------------------------------------------------- search
def _corpus(s, shop: str) -> dict[str, KbDocument]:
    return {
        "recall": _doc(
            s,
            shop,
            "Recall notice: stop selling every kettle of batch 7. The "
            "kettle recall covers all colours; kettles must be removed today.",
            title="Kettle recall",
            kind="compliance",
            skus=["kettle-1"],
        ),
        "brand": _doc(
            s,
            shop,
            "Our brand book describes tone, logo use and colours. Product "
            "photos show the kettle on a white background. Keep headlines short, "
            "avoid superlatives, and never compare us with named competitors.",
            title="Brand book",
            kind="brand_policy",
            categories=["kitchen"],
        ),
        "delay": _doc(
            s,
            shop,
            "Dry Goods Co. shipments are delayed by seven days because of port congestion.",
            title="Shipping delay",
            kind="supplier_notice",
            suppliers=["dry-goods"],
            doc_date=D(2026, 1, 2),
        ),
        "shop": _doc(
            s,
            shop,
            "Free shipping on orders over 50 euros, for the whole shop.",
            title="Shipping policy",
            kind="pricing_policy",
            doc_date=D(2026, 1, 3),
        ),
        "dessert": _doc(
            s,
            shop,
            "Crème brûlée ramekins: bundle them with the torch.",
            kind="marketing",
            categories=["kitchen"],
            doc_date=D(2026, 1, 4),
        ),
    }


def test_search_finds_documents_by_their_words_with_stemming(store, shop):
    with store.session() as s:
        docs = _corpus(s, shop)
        assert _ids(search(s, shop, "delays"))[0] == docs["delay"].id  # delayed ~ delays
        assert set(_ids(search(s, shop, "congestion port"))) == {docs["delay"].id}
        assert set(_ids(search(s, shop, "shipping"))) == {docs["delay"].id, docs["shop"].id}
        assert _ids(search(s, shop, "crème brûlée")) == [docs["dessert"].id]
        assert search(s, shop, "zeppelin") == []
        assert search(s, "other-shop", "kettle") == []
        hits = search(s, shop, "shipping", limit=1)
        assert len(hits) == 1 and hits[0].score > 0


def test_search_ranks_the_more_relevant_document_first(store, shop):
    with store.session() as s:
        docs = _corpus(s, shop)
        hits = search(s, shop, "kettle recall")
        assert _ids(hits)[:2] == [docs["recall"].id, docs["brand"].id]
        assert hits[0].score > hits[1].score > 0
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_search_keeps_to_the_scope_given(store, shop):
    with store.session() as s:
        docs = _corpus(s, shop)
        everything = {d.id for d in docs.values()}
        assert set(_ids(search(s, shop, ""))) == everything  # no scope given: all
        # the whole-shop document always matches; scoped ones only on a shared name
        assert set(_ids(search(s, shop, "", skus=["kettle-1"]))) == {
            docs["recall"].id,
            docs["shop"].id,
        }
        assert set(_ids(search(s, shop, "", categories=["kitchen"]))) == {
            docs["brand"].id,
            docs["dessert"].id,
            docs["shop"].id,
        }
        assert set(_ids(search(s, shop, "shipping", suppliers=["dry-goods"]))) == {
            docs["delay"].id,
            docs["shop"].id,
        }
        assert set(_ids(search(s, shop, "kettle", skus=["kettle-9"], suppliers=["acme"]))) == set()
        assert set(_ids(search(s, shop, "kettle", skus=["kettle-9"], categories=["kitchen"]))) == {
            docs["brand"].id
        }
        with pytest.raises(KnowledgeBaseInputError, match=r"^skus: "):
            search(s, shop, "kettle", skus="kettle-1")


def test_search_leaves_out_retired_superseded_and_out_of_date_documents(store, shop):
    with store.session() as s:
        kept = _doc(s, shop, "Umbrella stock rule: keep forty umbrellas.", doc_date=JAN1)
        old = _doc(s, shop, "Umbrella stock rule: keep ten umbrellas.", doc_date=JAN1)
        new = _doc(
            s,
            shop,
            "Umbrella stock rule: keep twenty umbrellas.",
            doc_date=D(2026, 1, 10),
            supersedes=old.doc_key,
        )
        retired = _doc(s, shop, "Umbrella promotion every rainy day.", doc_date=JAN1)
        retire_document(s, shop, retired.doc_key, by="ana", reason="stopped")
        dated = _doc(
            s,
            shop,
            "Umbrella display in January.",
            doc_date=D(2025, 12, 15),
            valid_from=JAN1,
            valid_to=D(2026, 1, 31),
        )
        assert set(_ids(search(s, shop, "umbrella"))) == {kept.id, new.id, dated.id}
        assert set(_ids(search(s, shop, "umbrella", on_date=D(2026, 1, 5)))) == {
            kept.id,
            dated.id,
        }  # the new version is dated the 10th
        assert set(_ids(search(s, shop, "umbrella", on_date=D(2026, 2, 1)))) == {kept.id, new.id}
        assert set(_ids(search(s, shop, "umbrella", on_date=D(2025, 12, 31)))) == set()


HOSTILE = [
    '"',
    '"kettle',
    "kettle*",
    "*",
    "NEAR(kettle recall",
    "kettle OR",
    "OR AND NOT",
    "title:kettle",
    "kettle -recall",
    "^kettle",
    "'); DROP TABLE kb_documents; --",
    "kettle'; DELETE FROM kb_documents WHERE '1'='1",
    "ケトル リコール 水壶 🫖 ‮kettle",
    "k\x00ettle",
    "!&|:()<>",
    "kettle " * 800 + "recall",
    "x" * 5000,
]


@pytest.mark.parametrize("query", HOSTILE, ids=[f"q{i}" for i in range(len(HOSTILE))])
def test_search_survives_hostile_queries(store, shop, query):
    with store.session() as s:
        docs = _corpus(s, shop)
    with store.session() as s:
        hits = search(s, shop, query)
        assert all(h.document.shop_id == shop for h in hits)
        if "kettle" in query.lower():  # the word still counts, whatever surrounds it
            assert docs["recall"].id in _ids(hits)
    with store.session() as s:
        assert len(list_documents(s, shop)) == len(docs)  # nothing was dropped or deleted


def test_a_query_without_words_lists_scope_matches_newest_first(store, shop):
    with store.session() as s:
        docs = _corpus(s, shop)
        newest_first = [docs[k].id for k in ("dessert", "shop", "delay", "brand", "recall")]
        for query in ("", "   ", "!!! *** ()", "🫖"):
            hits = search(s, shop, query)
            assert _ids(hits) == newest_first and {h.score for h in hits} == {0.0}
        assert _ids(search(s, shop, "...", suppliers=["dry-goods"], limit=1)) == [docs["shop"].id]
        for bad in (0, 101, True, "5"):
            with pytest.raises(KnowledgeBaseInputError, match=r"^limit: "):
                search(s, shop, "", limit=bad)
        with pytest.raises(KnowledgeBaseInputError, match=r"^query: "):
            search(s, shop, None)


def test_the_full_text_index_follows_updates_and_deletes(store, shop):
    with store.session() as s:
        doc = _doc(s, shop, "The parasol supplier closes in August.", title="Parasols")
        other = _doc(s, shop, "Parasol colours: blue and white.")
    with store.session() as s:  # any writer, not only kb.py, keeps the index right
        row = s.get(KbDocument, doc.id)
        row.text, row.title = "The hammock supplier closes in August.", "Hammocks"
    with store.session() as s:
        assert _ids(search(s, shop, "hammock")) == [doc.id]
        assert _ids(search(s, shop, "parasol")) == [other.id]
    with store.session() as s:
        s.delete(s.get(KbDocument, doc.id))
    with store.session() as s:
        assert search(s, shop, "hammock supplier august") == []
        if store.engine.dialect.name == "sqlite":
            raw = "SELECT rowid FROM kb_documents_fts WHERE kb_documents_fts MATCH :q"
            assert s.execute(text(raw), {"q": "hammock OR parasol"}).scalars().all() == [other.id]
            # FTS5 checks its index against the content table (fails when out of sync)
            s.execute(
                text(
                    "INSERT INTO kb_documents_fts(kb_documents_fts, rank) "
                    "VALUES ('integrity-check', 1)"
                )
            )
        else:
            vector = s.execute(
                text("SELECT search_vector::text FROM kb_documents WHERE id = :i"),
                {"i": other.id},
            ).scalar_one()
            assert "'parasol'" in vector and "'blue'" in vector


# ---------------------------------------------------------------------------------- directives
def _read(s, shop: str, directives, confidences=None, statuses=None, **doc_kw):
    doc = _doc(s, shop, "A notice with several requests.", **doc_kw)
    rows = add_directives(
        s, doc.id, directives, reader="reader-v1", confidences=confidences, statuses=statuses
    )
    return doc, rows


def test_directives_in_force_follow_status_confidence_and_the_document(store, shop):
    with store.session() as s:
        doc, rows = _read(
            s,
            shop,
            [
                STOP,
                DELAY,
                CAP,
                BAN,
                STOP | {"skus": ["kettle-2"]},
                DELAY | {"extra_days": 3},
                CAP | {"max_percent": 30},
                NONE,
            ],
            confidences=[0.9, 0.5, None, 0.99, 0.2, 0.99, 0.4, 1.0],
            statuses=[
                "proposed",
                "proposed",
                "proposed",
                "pending_review",
                "proposed",
                "proposed",
                "proposed",
                "proposed",
            ],
            valid_to=D(2026, 6, 30),
        )
        p90, p50, _p_none, _pending, to_confirm, to_reject, to_edit, nothing = rows
        assert [r.position for r in rows] == list(range(8))
        assert rows[1].payload == DELAY | {"end": None}  # validated and dumped as JSON
        review_directive(s, to_confirm.id, verdict="confirm", by="ana", reason="")
        review_directive(s, to_reject.id, verdict="reject", by="ana", reason="not our supplier")
        review_directive(
            s,
            to_edit.id,
            verdict="edit",
            by="ana",
            reason="25 is the cap",
            edited_payload=CAP | {"max_percent": 25},
        )
        review_directive(s, nothing.id, verdict="confirm", by="ana", reason="")

    def in_force(day=JAN10, min_confidence=None):
        with store.session() as s:
            return [
                d.id for d, _ in directives_in_force(s, shop, day, min_confidence=min_confidence)
            ]

    assert in_force() == [to_confirm.id, to_edit.id]
    assert in_force(min_confidence=0.9) == [p90.id, to_confirm.id, to_edit.id]
    assert in_force(min_confidence=0.5) == [p90.id, p50.id, to_confirm.id, to_edit.id]
    assert in_force(min_confidence=0.0) == [p90.id, p50.id, to_confirm.id, to_edit.id]
    assert in_force(day=D(2025, 12, 31)) == []  # before the document was dated
    assert in_force(day=D(2026, 7, 1), min_confidence=0.0) == []  # after valid_to
    with store.session() as s:
        pair = directives_in_force(s, shop, JAN1, min_confidence=None)[1]
        assert pair.document.id == doc.id and pair.directive.status == "edited"
        assert pair.directive.directive().max_percent == 25
        assert pair.directive.original_payload["max_percent"] == 30
        retire_document(s, shop, doc.doc_key, by="bo", reason="withdrawn")
    assert in_force(min_confidence=0.0) == []


def test_a_superseded_version_takes_its_directives_out_of_force(store, shop):
    with store.session() as s:
        v1, (d1,) = _read(s, shop, [STOP])
        review_directive(s, d1.id, verdict="confirm", by="ana", reason="")
        assert [d.id for d, _ in directives_in_force(s, shop, JAN1, min_confidence=None)] == [d1.id]
        v2 = _doc(s, shop, "Recall lifted.", supersedes=v1.doc_key)
        assert directives_in_force(s, shop, JAN1, min_confidence=None) == []
        (d2,) = add_directives(
            s, v2.id, [NONE], reader="reader-v1", confidences=[0.9], statuses=None
        )
        assert directives_in_force(s, shop, JAN1, min_confidence=0.0) == []  # none never counts
        with pytest.raises(KnowledgeBaseConflictError, match="superseded"):
            add_directives(s, v1.id, [STOP], reader="reader-v1")
        (d0,) = add_directives(s, v2.id, [BAN], reader="reader-v2", statuses=["pending_review"])
        assert (d2.position, d0.position) == (0, 1)  # positions continue


def test_a_review_is_final_and_names_the_status_it_found(store, shop):
    with store.session() as s:
        _, (a, b, c) = _read(s, shop, [STOP, DELAY, CAP], statuses=["pending_review"] * 3)
        review_directive(s, a.id, verdict="confirm", by="ana", reason="checked")
        review_directive(s, b.id, verdict="reject", by="bo", reason="wrong supplier")
    with store.session() as s:
        for d, status, who in ((a, "confirmed", "ana"), (b, "rejected", "bo")):
            for verdict in ("confirm", "reject"):
                with pytest.raises(KnowledgeBaseConflictError, match=f"it is {status} .by {who}"):
                    review_directive(s, d.id, verdict=verdict, by="cy", reason="")
        with pytest.raises(KnowledgeBaseInputError, match=r"^edited_payload: .*required"):
            review_directive(s, c.id, verdict="edit", by="cy", reason="")
        with pytest.raises(KnowledgeBaseInputError, match=r"^edited_payload: .*only for"):
            review_directive(s, c.id, verdict="confirm", by="cy", reason="", edited_payload=CAP)
        with pytest.raises(KnowledgeBaseInputError, match=r"^edited_payload\.discount_cap"):
            review_directive(
                s,
                c.id,
                verdict="edit",
                by="cy",
                reason="",
                edited_payload=CAP | {"max_percent": 99},
            )
        with pytest.raises(KnowledgeBaseInputError, match=r"^verdict: "):
            review_directive(s, c.id, verdict="approve", by="cy", reason="")
        with pytest.raises(KnowledgeBaseInputError, match=r"^by: "):
            review_directive(s, c.id, verdict="confirm", by="", reason="")
        with pytest.raises(DirectiveNotFoundError, match="in shop 'elsewhere'"):
            review_directive(s, c.id, verdict="confirm", by="cy", reason="", shop_id="elsewhere")
        with pytest.raises(DirectiveNotFoundError, match="999999"):
            review_directive(s, 999999, verdict="confirm", by="cy", reason="")
        edited = review_directive(
            s, c.id, verdict="edit", by="cy", reason="", shop_id=shop, edited_payload=BAN
        )  # an edit may change the kind
        assert (edited.status, edited.kind, edited.original_payload) == (
            "edited",
            "promotion_ban",
            CAP | {"skus": [], "end": None},
        )
        with pytest.raises(KnowledgeBaseConflictError, match="it is edited"):
            review_directive(s, c.id, verdict="edit", by="ana", reason="", edited_payload=CAP)


def test_pending_reviews_lists_what_waits_for_a_person(store, shop):
    with store.session() as s:
        doc, (a, b, c) = _read(
            s, shop, [STOP, DELAY, CAP], statuses=["pending_review", "proposed", "pending_review"]
        )
        assert [d.id for d, _ in pending_reviews(s, shop)] == [a.id, c.id]
        assert [d.id for d, _ in pending_reviews(s, shop, include_proposed=True)] == [
            a.id,
            b.id,
            c.id,
        ]
        review_directive(s, a.id, verdict="confirm", by="ana", reason="")
        assert [d.id for d, _ in pending_reviews(s, shop)] == [c.id]
        retire_document(s, shop, doc.id, by="ana", reason="obsolete")
        assert pending_reviews(s, shop, include_proposed=True) == []
        with pytest.raises(KnowledgeBaseConflictError, match="retired"):
            review_directive(s, c.id, verdict="confirm", by="ana", reason="")


@pytest.mark.parametrize(
    ("directives", "kwargs", "field"),
    [
        ([STOP, {"kind": "stop_sale", "start": "2026-01-01"}], {}, "directives[1]"),
        ([{"kind": "teleport"}], {}, "directives[0]"),
        ([STOP | {"end": "2025-01-01"}], {}, "directives[0]"),
        (["stop selling kettles"], {}, "directives[0]"),
        ([DELAY | {"extra_days": 0}], {}, "directives[0].supplier_delay.extra_days"),
        ([STOP, DELAY], {"confidences": [0.5]}, "confidences"),
        ([STOP], {"confidences": [1.5]}, "confidences[0]"),
        ([STOP], {"confidences": [float("nan")]}, "confidences[0]"),
        ([STOP], {"statuses": ["confirmed"]}, "statuses[0]"),
        ([STOP], {"reader": ""}, "reader"),
        (STOP, {}, "directives"),
    ],
)
def test_invalid_directives_are_refused_naming_the_field(store, shop, directives, kwargs, field):
    with store.session() as s:
        doc = _doc(s, shop, "Some notice.")
        kwargs = {"reader": "reader-v1"} | kwargs
        with pytest.raises(KnowledgeBaseInputError) as err:
            add_directives(s, doc.id, directives, **kwargs)
        assert err.value.field.startswith(field) and str(err.value).startswith(field)
        assert s.scalars(select(KbDirective).where(KbDirective.document_id == doc.id)).all() == []
        with pytest.raises(DocumentNotFoundError):
            add_directives(s, 10**9, [STOP], reader="reader-v1")
        with pytest.raises(KnowledgeBaseInputError, match=r"^min_confidence: "):
            directives_in_force(s, shop, JAN1, min_confidence=2.0)


def test_directive_models_are_accepted_as_well_as_mappings(store, shop):
    from envs.directives import parse_directives

    with store.session() as s:
        _, (row,) = _read(s, shop, parse_directives([DELAY]), confidences=[np.float32(0.75)])
        assert row.directive() == parse_directives([DELAY])[0] and row.confidence == 0.75


# ---------------------------------------------------------------------------------- races
def _race(store, first, second) -> BaseException | None:
    """Run ``first`` in a transaction left open while ``second`` starts in another thread,
    then commit ``first``; what ``second`` raised (None if nothing)."""
    caught: list[BaseException | None] = [None]

    def other() -> None:
        try:
            with store.session() as s2:
                second(s2)
        except BaseException as exc:  # handed to the main thread
            caught[0] = exc

    with store.session() as s1:
        first(s1)
        t = threading.Thread(target=other)
        t.start()
        time.sleep(0.5)  # the second is now waiting on the first's lock
        assert t.is_alive()
    t.join(timeout=30)
    return caught[0]


def test_of_two_racing_reviews_the_second_is_refused(store, shop):
    with store.session() as s:
        _, (d,) = _read(s, shop, [STOP], statuses=["pending_review"])
    err = _race(
        store,
        lambda s: review_directive(s, d.id, verdict="confirm", by="ana", reason=""),
        lambda s: review_directive(s, d.id, verdict="reject", by="bo", reason=""),
    )
    assert isinstance(err, KnowledgeBaseConflictError) and "confirmed (by ana" in str(err)
    with store.session() as s:
        assert (s.get(KbDirective, d.id).status, s.get(KbDirective, d.id).reviewed_by) == (
            "confirmed",
            "ana",
        )


def test_of_two_racing_supersedes_both_are_filed_in_turn(store, shop):
    with store.session() as s:
        v1 = _doc(s, shop, "version one")
    err = _race(
        store,
        lambda s: _doc(s, shop, "version two by ana", supersedes=v1.doc_key),
        lambda s: _doc(s, shop, "version three by bo", supersedes=v1.doc_key),
    )
    assert err is None
    with store.session() as s:
        versions = list_documents(s, shop)
        assert [(d.version, d.status) for d in versions] == [
            (3, "active"),
            (2, "superseded"),
            (1, "superseded"),
        ]
        assert versions[0].text == "version three by bo"
        assert (versions[1].superseded_by, versions[2].superseded_by) == (
            versions[0].id,
            versions[1].id,
        )


def test_of_two_racing_retires_the_second_is_refused(store, shop):
    with store.session() as s:
        v1 = _doc(s, shop, "version one")
    err = _race(
        store,
        lambda s: retire_document(s, shop, v1.doc_key, by="ana", reason="old"),
        lambda s: retire_document(s, shop, v1.id, by="bo", reason="older"),
    )
    assert isinstance(err, KnowledgeBaseConflictError) and "retired" in str(err)
    with store.session() as s:
        assert get_document(s, shop, v1.id).retired_by == "ana"


# ---------------------------------------------------------------------------------- migration
@pytest.fixture(params=["sqlite", "postgres"])
def empty_db_url(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "old.db")
    return request.getfixturevalue("fresh_pg")


def _alembic(store, action: str, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option(
        "script_location", str(Path(agent.store.__file__).resolve().parent / "migrations")
    )
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


def _revision(store) -> str | None:
    with store.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_migration_0005_upgrades_a_store_at_0004_and_downgrades(empty_db_url):
    old = open_store(empty_db_url, migrate=False)
    _alembic(old, "upgrade", "0004")
    assert _revision(old) == "0004"
    assert "kb_documents" not in inspect(old.engine).get_table_names()
    with old.session() as s:
        s.add(Shop(id="shop-a", backend="sim"))
        s.flush()
        s.add(Run(id="run-a", shop_id="shop-a", policy="naive", approval_mode="risky"))
    old.close()

    store = open_store(empty_db_url)  # what a user's next command does
    assert _revision(store) == "0005"
    with store.session() as s:
        assert s.get(Run, "run-a").policy == "naive"
        doc = _doc(s, "shop-a", "Parasol recall for batch 9.", title="Parasols")
        _, (d,) = _read(s, "shop-a", [STOP])
        review_directive(s, d.id, verdict="confirm", by="ana", reason="")
        assert _ids(search(s, "shop-a", "parasol")) == [doc.id]
    tables = set(inspect(store.engine).get_table_names())
    assert {"kb_documents", "kb_directives"} <= tables
    if store.engine.dialect.name == "sqlite":
        assert "kb_documents_fts" in tables
    else:
        indexes = {i["name"] for i in inspect(store.engine).get_indexes("kb_documents")}
        assert {"ix_kb_documents_search", "uq_kb_documents_active"} <= indexes

    _alembic(store, "downgrade", "0004")
    tables = set(inspect(store.engine).get_table_names())
    assert not {t for t in tables if t.startswith("kb_")}
    with store.engine.connect() as conn:
        if store.engine.dialect.name == "sqlite":
            triggers = conn.execute(text("SELECT name FROM sqlite_master WHERE type='trigger'"))
            assert triggers.scalars().all() == []
    _alembic(store, "upgrade", "head")  # and back up, cleanly
    with store.session() as s:
        doc = _doc(s, "shop-a", "Hammock notice.")
        assert _ids(search(s, "shop-a", "hammocks")) == [doc.id]
        assert s.get(Run, "run-a") is not None
    store.close()
