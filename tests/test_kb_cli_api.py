"""The knowledge base from the outside: ``shopops kb`` store commands, ``/api/kb``, the page.

Real pieces throughout: the CLI through typer's runner, the FastAPI app through its test
client (and a real uvicorn server for the browser), SQLite files and PostgreSQL databases
(``SHOPOPS_TEST_PG_URL``; those tests skip with the reason without it, and keep apart with a
fresh shop id each). Readings are filed straight into the store (a document, its directives
``pending_review``), as the reader files them, so no language model is loaded, except in the
one test marked ``slow`` that reads with the real default model (skipped when its folder is
absent).

* CLI: ``add --no-read`` (``@file`` byte for byte), ``list``, ``show``, ``search``,
  ``supersede``, ``retire``, ``pending``, ``review`` (confirm, edit, reject; a second review
  is refused); bad dates, kinds, windows and JSON name their option;
* API: roles (viewers read, approvers write in their shops, admins everywhere), 401 / 403 /
  404 / 409 (with the real status) / 422 (naming the field), ``read`` without a reader is
  409 and files nothing; the reviewer recorded is the token's user;
* a hostile text round-trips unchanged through the CLI, the API and both databases, and the
  page renders it as text (Chromium, skipped with the reason when absent).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import threading
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from agent.cli import app as cli
from agent.store import open_store
from agent.store.kb import (
    DocumentNotFoundError,
    KbDirective,
    KbDocument,
    KnowledgeBaseConflictError,
    add_directives,
    add_document,
)
from agent.web.app import create_app
from agent.web.auth import create_token

JAN5 = dt.date(2026, 1, 5)
STOP = {"kind": "stop_sale", "skus": ["kettle-1"], "start": "2026-01-06", "reason": "recall"}
CAP = {"kind": "discount_cap", "category": "kitchen", "max_percent": 20, "start": "2026-01-06"}
BAN = {"kind": "promotion_ban", "category": "toys", "start": "2026-01-06"}
#: Markup, script, a CRLF, bidi and zero-width characters, template and SQL look-alikes.
HOSTILE = (
    '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>\r\n'
    "Kettle recall: stop selling kettle-1 \u202etxet desrever\u202c from 2026-01-06; "
    "\"double\" 'single' `tick` ${x} {{y}} {% z %}\n"
    "\t</pre><b>bold?</b> &amp; & \U0001f600 zero\u200bwidth \\ back\\slash\n"
    "'); DROP TABLE kb_documents; --"
)


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "kb.db")
    return request.getfixturevalue("pg_database")


@pytest.fixture
def shop() -> str:
    return f"shop-{uuid.uuid4().hex[:8]}"


def _file_readings(db: str, shop: str, text: str = HOSTILE) -> tuple[int, list[int]]:
    """A document and two readings waiting for a person, filed as the reader files them."""
    store = open_store(db)
    try:
        with store.session() as s:
            doc = add_document(
                s, shop, text=text, kind="compliance", doc_date=JAN5, title="Kettle recall"
            )
            rows = add_directives(
                s, doc.id, [STOP, CAP], reader="test-reader", confidences=[0.42, 0.55],
                statuses=["pending_review", "pending_review"],
            )  # fmt: skip
            return doc.id, [r.id for r in rows]
    finally:
        store.close()


# ---------------------------------------------------------------------------------- CLI
def _kb(*args: str) -> object:
    return CliRunner().invoke(cli, ["kb", *args])


def _ok(res) -> str:
    assert res.exit_code == 0, (res.output, res.exception)
    return res.stdout


def test_cli_add_list_show_search_supersede_retire(db, shop, tmp_path):
    src = tmp_path / "notice.txt"
    src.write_bytes(HOSTILE.encode("utf-8"))  # \r\n and all: @file must keep it
    added = json.loads(_ok(_kb(
        "add", f"@{src}", "--shop", shop, "--kind", "compliance", "--date", "2026-01-05",
        "--title", "Kettle recall", "--source", "email from Dry Goods", "--author", "QA team",
        "--valid-from", "2026-01-06", "--valid-to", "2026-03-31", "--sku", "kettle-1",
        "--sku", "kettle-2", "--category", "kitchen", "--no-read", "--db", db, "--json",
    )))  # fmt: skip
    assert (added["version"], added["status"], added["directives"]) == (1, "active", [])
    key = added["doc_key"]
    text = _ok(_kb("add", "@" + str(src), "--shop", shop, "--kind", "compliance", "--date",
                   "2026-01-05", "--no-read", "--db", db))  # fmt: skip
    assert "filed document" in text and "not read (--no-read)" in text
    other = json.loads(_ok(_kb(
        "add", "Toy promotions are banned in January.", "--shop", shop, "--kind", "marketing",
        "--date", "2026-01-02", "--category", "toys", "--no-read", "--db", db, "--json",
    )))  # fmt: skip

    shown = json.loads(_ok(_kb("show", key, "--shop", shop, "--db", db, "--json")))
    assert shown["text"] == HOSTILE  # byte for byte, through a file and the store
    assert (shown["skus"], shown["categories"], shown["suppliers"]) == (
        ["kettle-1", "kettle-2"], ["kitchen"], [],
    )  # fmt: skip
    assert (shown["valid_from"], shown["valid_to"], shown["author"]) == (
        "2026-01-06", "2026-03-31", "QA team",
    )  # fmt: skip
    assert shown == json.loads(_ok(_kb("show", str(added["id"]), "--shop", shop, "--db", db,
                                       "--json")))  # fmt: skip
    table = _ok(_kb("show", key, "--shop", shop, "--db", db))
    assert "<script>window.__pwned=2</script>" in table and "not read" in table

    rows = json.loads(_ok(_kb("list", "--shop", shop, "--db", db, "--json")))
    assert len(rows) == 3 and all(r["directive_count"] == 0 for r in rows)
    assert "text" not in rows[0]
    assert [
        r["id"]
        for r in json.loads(
            _ok(_kb("list", "--shop", shop, "--kind", "marketing", "--db", db, "--json"))
        )
    ] == [other["id"]]
    listed = _ok(_kb("list", "--shop", shop, "--db", db))
    assert key in listed and "Kettle" in listed
    valid_jan3 = json.loads(_ok(_kb("list", "--shop", shop, "--on", "2026-01-03", "--db", db,
                                    "--json")))  # fmt: skip
    assert [r["id"] for r in valid_jan3] == [other["id"]]  # the recall applies from Jan 6

    hits = json.loads(_ok(_kb("search", "recalls of kettles", "--shop", shop, "--db", db,
                              "--json")))  # fmt: skip
    assert {h["id"] for h in hits} == {added["id"], added["id"] + 1}
    assert all(h["score"] >= 0 and h["excerpt"] for h in hits)
    scoped = json.loads(_ok(_kb("search", "", "--shop", shop, "--category", "toys", "--db", db,
                                "--json")))  # fmt: skip
    # the first recall is about kettles only; the second copy is about the whole shop
    assert [h["id"] for h in scoped] == [added["id"] + 1, other["id"]]  # newest first
    assert "documents of" in _ok(_kb("search", "kettle", "--shop", shop, "--db", db))

    v2 = json.loads(_ok(_kb(
        "add", "Kettle recall extended to kettle-3.", "--shop", shop, "--kind", "compliance",
        "--date", "2026-01-09", "--supersedes", key, "--no-read", "--db", db, "--json",
    )))  # fmt: skip
    assert (v2["doc_key"], v2["version"]) == (key, 2)
    history = json.loads(_ok(_kb("show", key, "--shop", shop, "--db", db, "--json")))
    assert history["version"] == 2
    assert [(v["version"], v["status"]) for v in history["versions"]] == [
        (1, "superseded"), (2, "active"),
    ]  # fmt: skip

    out = _ok(_kb("retire", key, "--shop", shop, "--by", "ann", "--reason", "recall over",
                  "--db", db))  # fmt: skip
    assert f"retired document {key} version 2" in out
    gone = json.loads(_ok(_kb("show", key, "--shop", shop, "--db", db, "--json")))
    assert (gone["status"], gone["retired_by"], gone["retire_reason"]) == (
        "retired", "ann", "recall over",
    )  # fmt: skip
    again = _kb("retire", key, "--shop", shop, "--by", "ann", "--reason", "x", "--db", db)
    assert isinstance(again.exception, KnowledgeBaseConflictError)
    assert "no active version" in str(again.exception)
    missing = _kb("show", "nope", "--shop", shop, "--db", db)
    assert isinstance(missing.exception, DocumentNotFoundError)
    elsewhere = _kb("show", key, "--shop", shop + "-other", "--db", db)
    assert isinstance(elsewhere.exception, DocumentNotFoundError)


def test_cli_pending_and_review(db, shop):
    doc_id, (stop_id, cap_id) = _file_readings(db, shop)
    waiting = json.loads(_ok(_kb("pending", "--shop", shop, "--db", db, "--json")))
    assert [w["id"] for w in waiting] == [stop_id, cap_id]
    assert waiting[0]["document"]["text"] == HOSTILE
    assert waiting[0]["summary"].startswith("stop_sale SKU kettle-1 from 2026-01-06")
    assert (waiting[0]["confidence"], waiting[0]["status"]) == (0.42, "pending_review")
    table = _ok(_kb("pending", "--shop", shop, "--db", db))
    assert "kb review" in table and "0.42" in table

    out = _ok(_kb("review", str(stop_id), "--shop", shop, "--verdict", "confirm", "--by",
                  "ann", "--reason", "checked the recall notice", "--db", db))  # fmt: skip
    assert f"directive {stop_id} confirmed by ann" in out
    twice = _kb("review", str(stop_id), "--shop", shop, "--verdict", "reject", "--by", "bo",
                "--reason", "no", "--db", db)  # fmt: skip
    assert isinstance(twice.exception, KnowledgeBaseConflictError)
    assert "already reviewed: it is confirmed (by ann" in str(twice.exception)

    bad_json = _kb("review", str(cap_id), "--shop", shop, "--verdict", "edit", "--by", "ann",
                   "--reason", "r", "--edit", "{max_percent: 10", "--db", db)  # fmt: skip
    assert bad_json.exit_code == 2 and "--edit: not valid JSON" in bad_json.output
    no_start = _kb("review", str(cap_id), "--shop", shop, "--verdict", "edit", "--by", "ann",
                   "--reason", "r", "--edit", '{"kind": "discount_cap", "category": "kitchen", '
                   '"max_percent": 10}', "--db", db)  # fmt: skip
    assert no_start.exit_code == 2 and "--edit.discount_cap.start" in no_start.output
    missing_edit = _kb("review", str(cap_id), "--shop", shop, "--verdict", "edit", "--by",
                       "ann", "--reason", "r", "--db", db)  # fmt: skip
    assert missing_edit.exit_code == 2 and "--edit: is required" in missing_edit.output
    wrong_shop = _kb("review", str(cap_id), "--shop", shop + "-x", "--verdict", "confirm",
                     "--by", "ann", "--reason", "r", "--db", db)  # fmt: skip
    assert "no directive has id" in str(wrong_shop.exception)

    edited = {**CAP, "max_percent": 10}
    out = _ok(_kb(
        "review", str(cap_id), "--shop", shop, "--verdict", "edit", "--by", "ann", "--reason",
        "10% is the rule", "--edit", json.dumps(edited), "--db", db,
    ))  # fmt: skip
    assert "edited by ann: discount_cap category kitchen at 10%" in out
    shown = json.loads(_ok(_kb("show", str(doc_id), "--shop", shop, "--db", db, "--json")))
    by_id = {d["id"]: d for d in shown["directives"]}
    assert (by_id[cap_id]["status"], by_id[cap_id]["payload"]["max_percent"]) == ("edited", 10)
    assert by_id[cap_id]["original_payload"]["max_percent"] == 20
    assert (by_id[stop_id]["reviewed_by"], by_id[stop_id]["review_reason"]) == (
        "ann", "checked the recall notice",
    )  # fmt: skip
    assert json.loads(_ok(_kb("pending", "--shop", shop, "--db", db, "--json"))) == []
    assert "confirmed" in _ok(_kb("show", str(doc_id), "--shop", shop, "--db", db))


def test_cli_errors_name_the_option(tmp_path, shop):
    db = str(tmp_path / "kb.db")
    base = ("--shop", shop, "--no-read", "--db", db)

    def refused(*args: str) -> str:
        res = _kb("add", *args)
        assert res.exit_code == 2, res.output
        return res.output

    assert "--date: expected YYYY-MM-DD, got '2026-13-05'" in refused(
        "text", "--kind", "other", "--date", "2026-13-05", *base
    )
    assert "--valid-from: expected YYYY-MM-DD" in refused(
        "text", "--kind", "other", "--date", "2026-01-05", "--valid-from", "soon", *base
    )
    assert "--kind: 'memo' is not one of compliance" in refused(
        "text", "--kind", "memo", "--date", "2026-01-05", *base
    )
    assert "--valid-to: 2026-01-01 is before valid_from 2026-02-01" in refused(
        "text", "--kind", "other", "--date", "2026-01-05", "--valid-from", "2026-02-01",
        "--valid-to", "2026-01-01", *base)  # fmt: skip
    assert "TEXT: must be a non-empty string" in refused(
        "   ", "--kind", "other", "--date", "2026-01-05", *base
    )
    assert "TEXT: cannot read" in refused(
        f"@{tmp_path / 'missing.txt'}", "--kind", "other", "--date", "2026-01-05", *base
    )
    assert "--sku[1]: must be a non-empty string" in refused(
        "text", "--kind", "other", "--date", "2026-01-05", "--sku", "a", "--sku", " ", *base
    )
    assert "--scenario: reading resolves names against a catalogue" in refused(
        "text", "--kind", "other", "--date", "2026-01-05", "--read", "--scenario",
        "no-such-scenario", "--shop", shop, "--db", db)  # fmt: skip
    bad_on = _kb("list", "--shop", shop, "--on", "yesterday", "--db", db)
    assert bad_on.exit_code == 2 and "--on: expected YYYY-MM-DD" in bad_on.output
    bad_limit = _kb("search", "x", "--shop", shop, "--limit", "0", "--db", db)
    assert bad_limit.exit_code == 2 and "--limit: must be an integer from 1 to 100" in (
        bad_limit.output
    )
    bad_status = _kb("list", "--shop", shop, "--status", "gone", "--db", db)
    assert bad_status.exit_code == 2 and "--status: 'gone' is not one of" in bad_status.output
    store = open_store(db)  # nothing was filed by any of them
    try:
        with store.session() as s:
            assert s.query(KbDocument).count() == 0
    finally:
        store.close()


# ---------------------------------------------------------------------------------- API
class Api:
    """The app over ``db`` with four users: alice approves ``shop``, victor views it, bob
    approves another shop, ada is an admin."""

    def __init__(self, client: TestClient, store, shop: str, tokens: dict[str, str]) -> None:
        self.c, self.store, self.shop, self.tokens = client, store, shop, tokens
        self.names = {k: f"{k}-{shop}" for k in tokens}

    def __call__(self, who: str | None, method: str, path: str, **kw):
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return self.c.request(method, "/api/kb" + path, headers=headers, **kw)


@pytest.fixture
def api(db, shop):
    app = create_app(db)
    store = app.state.store
    grants = {
        "alice": ("approver", [shop]),
        "victor": ("viewer", [shop]),
        "bob": ("approver", [f"{shop}-b"]),
        "ada": ("admin", []),
    }
    tokens = {
        k: create_token(store, f"{k}-{shop}", role=role, shops=shops)[0]
        for k, (role, shops) in grants.items()
    }
    with TestClient(app) as client:
        yield Api(client, store, shop, tokens)


def _doc_body(shop: str, **kw) -> dict:
    return {"shop_id": shop, "text": HOSTILE, "kind": "compliance", "doc_date": "2026-01-05",
            "title": "Kettle recall", "skus": ["kettle-1"], **kw}  # fmt: skip


def test_api_files_lists_searches_and_retires(api):
    shop = api.shop
    r = api("alice", "POST", "/documents", json=_doc_body(shop, valid_to="2026-03-31"))
    assert r.status_code == 201, r.text
    doc = r.json()["document"]
    assert (doc["text"], doc["status"], doc["directives"], r.json()["reader"]) == (
        HOSTILE, "active", [], None,
    )  # fmt: skip
    assert doc["can_write"] is True and doc["versions"] == [
        {"id": doc["id"], "version": 1, "status": "active"}
    ]
    got = api("victor", "GET", f"/documents/{doc['id']}")
    assert got.status_code == 200 and got.json()["text"] == HOSTILE  # unchanged, both ways
    assert got.json()["can_write"] is False
    listed = api("victor", "GET", "/documents", params={"shop_id": shop}).json()
    assert [d["id"] for d in listed] == [doc["id"]] and "text" not in listed[0]
    assert listed[0]["directive_count"] == 0
    assert api("victor", "GET", "/documents").json() == listed  # every shop victor sees
    assert api("victor", "GET", "/documents", params={"on": "2026-04-01"}).json() == []
    hits = api("victor", "GET", "/search", params={"shop_id": shop, "q": "kettles recall"})
    assert [h["id"] for h in hits.json()] == [doc["id"]]
    assert hits.json()[0]["excerpt"] == HOSTILE[:280]
    assert api("victor", "GET", "/search", params={"shop_id": shop, "q": "x", "sku": "other"}
               ).json() == []  # fmt: skip

    v2 = api(
        "alice",
        "POST",
        "/documents",
        json=_doc_body(
            shop, text="Recall extended.", doc_date="2026-01-09", supersedes=doc["doc_key"]
        ),
    )
    assert v2.status_code == 201 and v2.json()["document"]["version"] == 2
    new_id = v2.json()["document"]["id"]
    assert api("alice", "GET", f"/documents/{doc['id']}").json()["superseded_by"] == new_id
    old = api("alice", "POST", f"/documents/{doc['id']}/retire", json={"reason": "old"})
    assert old.status_code == 409 and (old.json()["code"], old.json()["status"]) == (
        "conflict", "superseded",
    )  # fmt: skip

    assert api("victor", "POST", f"/documents/{new_id}/retire", json={"reason": "x"}
               ).status_code == 403  # fmt: skip
    no_reason = api("alice", "POST", f"/documents/{new_id}/retire", json={"reason": " "})
    assert no_reason.status_code == 422 and no_reason.json()["detail"][0]["loc"] == [
        "body", "reason",
    ]  # fmt: skip
    done = api("alice", "POST", f"/documents/{new_id}/retire", json={"reason": "recall over"})
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["retired_by"]) == ("retired", f"alice-{shop}")
    twice = api("ada", "POST", f"/documents/{new_id}/retire", json={"reason": "again"})
    assert twice.status_code == 409 and twice.json()["status"] == "retired"
    assert "only an active version can be retired" in twice.json()["detail"]
    assert api("alice", "GET", "/search", params={"shop_id": shop, "q": "recall"}).json() == []
    statuses = api("alice", "GET", "/documents", params={"shop_id": shop, "status": "retired"})
    assert [d["id"] for d in statuses.json()] == [new_id]


def test_api_roles_and_shops(api):
    shop, other = api.shop, f"{api.shop}-b"
    assert api(None, "GET", "/documents").status_code == 401
    viewer = api("victor", "POST", "/documents", json=_doc_body(shop))
    assert viewer.status_code == 403 and "viewer" in viewer.json()["detail"]
    foreign = api("bob", "POST", "/documents", json=_doc_body(shop))
    assert foreign.status_code == 403 and shop in foreign.json()["detail"]
    mine = api("alice", "POST", "/documents", json=_doc_body(shop)).json()["document"]
    assert api("bob", "GET", f"/documents/{mine['id']}").status_code == 403
    assert api("bob", "GET", "/documents", params={"shop_id": shop}).status_code == 403
    assert api("bob", "GET", "/search", params={"shop_id": shop, "q": "x"}).status_code == 403
    assert api("bob", "GET", "/pending", params={"shop_id": shop}).status_code == 403
    assert api("bob", "GET", "/documents").json() == []  # nothing in bob's shop yet
    theirs = api("ada", "POST", "/documents", json=_doc_body(other, text="Bob's shop."))
    assert theirs.status_code == 201  # admins write everywhere
    assert [d["shop_id"] for d in api("bob", "GET", "/documents").json()] == [other]
    assert api("alice", "GET", "/documents/999999999").status_code == 404
    assert api("alice", "GET", "/documents/0").status_code == 422

    shops = {s["shop_id"]: s for s in api("ada", "GET", "/shops").json()}
    assert {shop, other} <= set(shops) and shops[shop]["can_write"]  # pg: others' shops too
    assert api("alice", "GET", "/shops").json() == [
        {"shop_id": shop, "documents": 1, "pending": 0, "can_write": True}
    ]
    assert api("victor", "GET", "/shops").json()[0]["can_write"] is False


def test_api_validation_and_no_reader(api):
    shop = api.shop

    def loc(r) -> list:
        assert r.status_code == 422, r.text
        return r.json()["detail"][0]["loc"]

    post = lambda **kw: api("alice", "POST", "/documents", json=_doc_body(shop, **kw))  # noqa: E731
    assert loc(post(doc_date="20260105")) == ["body", "doc_date"]
    assert loc(post(doc_date=1767571200)) == ["body", "doc_date"]
    assert loc(post(valid_from="2026-01-05T10:00:00")) == ["body", "valid_from"]
    assert loc(post(kind="memo")) == ["body", "kind"]
    assert loc(post(read="yes")) == ["body", "read"]
    assert loc(post(skus="kettle-1")) == ["body", "skus"]
    assert loc(post(colour="red")) == ["body", "colour"]
    window = post(valid_from="2026-02-01", valid_to="2026-01-01")
    assert window.status_code == 422 and window.json()["field"] == "valid_to"
    assert "before valid_from" in window.json()["detail"]
    long = post(title="t" * 201)
    assert long.status_code == 422 and long.json()["field"] == "title"
    nul = post(text="a\x00b")
    assert nul.status_code == 422 and nul.json()["field"] == "text"
    sup = post(supersedes="no-such-key")
    assert sup.status_code == 404 and sup.json()["code"] == "not_found"

    scenario = post(read=True, scenario="../../etc/passwd")
    assert scenario.status_code == 422 and scenario.json()["field"] == "scenario"
    no_reader = post(read=True, scenario="steady")
    assert no_reader.status_code == 409 and no_reader.json()["code"] == "no_reader"
    assert "read=false" in no_reader.json()["detail"]
    assert api("alice", "GET", "/documents", params={"shop_id": shop}).json() == []  # none filed

    bad_on = api("alice", "GET", "/documents", params={"on": "2026-1-5"})
    assert loc(bad_on) == ["query", "on"]
    assert loc(api("alice", "GET", "/search", params={"shop_id": shop, "limit": 101})) == [
        "query", "limit",
    ]  # fmt: skip


def test_api_pending_and_review(api, db):
    shop = api.shop
    doc_id, (stop_id, cap_id) = _file_readings(db, shop)
    waiting = api("victor", "GET", "/pending", params={"shop_id": shop})
    assert waiting.status_code == 200
    items = waiting.json()
    assert [i["id"] for i in items] == [stop_id, cap_id]
    assert items[0]["document"]["text"] == HOSTILE and items[0]["can_write"] is False
    assert items[0]["summary"] == (
        "stop_sale SKU kettle-1 from 2026-01-06 until further notice (recall)"
    )
    assert api("alice", "GET", "/pending").json()[0]["can_write"] is True
    shops = api("alice", "GET", "/shops").json()
    assert shops == [{"shop_id": shop, "documents": 1, "pending": 2, "can_write": True}]

    path = f"/directives/{stop_id}/review"
    assert api("victor", "POST", path, json={"verdict": "confirm"}).status_code == 403
    assert api("bob", "POST", path, json={"verdict": "confirm"}).status_code == 403
    rej = api("alice", "POST", path, json={"verdict": "reject", "reason": "  "})
    assert rej.status_code == 422 and rej.json()["detail"][0]["loc"] == ["body", "reason"]
    ok = api("alice", "POST", path, json={"verdict": "confirm", "reason": "checked"})
    assert ok.status_code == 200, ok.text
    assert (ok.json()["status"], ok.json()["reviewed_by"]) == ("confirmed", f"alice-{shop}")
    late = api("ada", "POST", path, json={"verdict": "reject", "reason": "no"})
    assert late.status_code == 409 and late.json()["status"] == "confirmed"
    assert f"by alice-{shop}" in late.json()["detail"]

    cap = f"/directives/{cap_id}/review"
    bad = api("alice", "POST", cap, json={"verdict": "edit", "edit": {"kind": "discount_cap"}})
    assert bad.status_code == 422 and bad.json()["field"].startswith("edit.discount_cap")
    need = api("alice", "POST", cap, json={"verdict": "edit"})
    assert need.status_code == 422 and need.json()["field"] == "edit"
    edit = api("ada", "POST", cap, json={"verdict": "edit", "reason": "10%",
                                         "edit": {**CAP, "max_percent": 10}})  # fmt: skip
    assert edit.status_code == 200 and edit.json()["payload"]["max_percent"] == 10
    assert edit.json()["original_payload"]["max_percent"] == 20
    assert api("alice", "GET", "/pending", params={"shop_id": shop}).json() == []
    assert api("alice", "POST", "/directives/999999999/review",
               json={"verdict": "confirm"}).status_code == 404  # fmt: skip

    # a reading of a retired document can no longer be reviewed
    _, (ban_id,) = _with_reading(db, shop, BAN)
    retired = api("alice", "GET", "/documents", params={"shop_id": shop}).json()[0]["id"]
    api("alice", "POST", f"/documents/{retired}/retire", json={"reason": "void"})
    gone = api("alice", "POST", f"/directives/{ban_id}/review", json={"verdict": "confirm"})
    assert gone.status_code == 409 and gone.json()["status"] == "pending_review"
    assert "retired" in gone.json()["detail"]

    detail = api("victor", "GET", f"/documents/{doc_id}").json()
    assert {d["id"]: d["status"] for d in detail["directives"]} == {
        stop_id: "confirmed", cap_id: "edited",
    }  # fmt: skip
    store = api.store
    with store.session() as s:
        row = s.get(KbDirective, stop_id)
        assert (row.reviewed_by, row.review_reason) == (f"alice-{shop}", "checked")


def test_two_reviews_at_once_one_wins_the_other_gets_409(db, shop):
    from tests.web_helpers import client, live_server

    _, (stop_id, _cap_id) = _file_readings(db, shop)
    store = open_store(db)
    tokens = [create_token(store, f"{n}-{shop}", role="approver", shops=[shop])[0] for n in "ab"]
    store.close()
    barrier, results = threading.Barrier(2), {}

    def answer(i: int, url: str) -> None:
        verdict = ("confirm", "reject")[i]
        with client(url, tokens[i]) as c:
            barrier.wait()
            results[i] = c.post(
                f"/api/kb/directives/{stop_id}/review", json={"verdict": verdict, "reason": "r"}
            )

    with live_server(db) as url:
        threads = [threading.Thread(target=answer, args=(i, url)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    codes = sorted(r.status_code for r in results.values())
    assert codes == [200, 409], [r.text for r in results.values()]
    won = next(r.json() for r in results.values() if r.status_code == 200)
    lost = next(r.json() for r in results.values() if r.status_code == 409)
    assert lost["status"] == won["status"] and won["status"] in ("confirmed", "rejected")
    assert won["reviewed_by"] in lost["detail"]


def _with_reading(db: str, shop: str, directive: dict) -> tuple[int, list[int]]:
    store = open_store(db)
    try:
        with store.session() as s:
            doc = add_document(s, shop, text="Toys: no promotions.", kind="marketing",
                               doc_date=JAN5 + dt.timedelta(days=1))  # fmt: skip
            rows = add_directives(s, doc.id, [directive], reader="test-reader",
                                  confidences=[0.3], statuses=["pending_review"])  # fmt: skip
            return doc.id, [r.id for r in rows]
    finally:
        store.close()


def test_kb_page_is_served_with_the_console_headers(api):
    page = api.c.get("/kb")
    assert page.status_code == 200 and 'src="/static/kb.js"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert 'href="/kb"' in api.c.get("/").text
    paths = api.c.get("/openapi.json").json()["paths"]
    assert {"/api/kb/documents", "/api/kb/directives/{directive_id}/review"} <= set(paths)
    js = api.c.get("/static/kb.js").text
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js and "outerHTML" not in js


# ---------------------------------------------------------------------------------- browser
def _chromium() -> str:
    path = os.environ.get("SHOPOPS_CHROMIUM") or shutil.which("chromium") or ""
    if not path or not Path(path).exists():
        pytest.skip('no Chromium (run `eval "$(bash .ci/chromium.sh)"` to install it)')
    return path


def test_page_renders_hostile_text_as_text_and_reviews(tmp_path):
    from tests.test_web_browser import CHROMIUM_FLAGS
    from tests.web_helpers import live_server

    exe = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    db = str(tmp_path / "page.db")
    shop = "demo-shop"
    doc_id, (stop_id, cap_id) = _file_readings(db, shop)
    store = open_store(db)
    token, _ = create_token(store, "alice", role="approver", shops=[shop])
    errors: list[str] = []
    with live_server(db) as url, sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path / "profile"), executable_path=exe, headless=True,
            args=CHROMIUM_FLAGS, viewport={"width": 1500, "height": 1000}, timeout=60_000,
        )  # fmt: skip
        try:
            page = ctx.new_page()
            page.set_default_timeout(60_000)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on(
                "console",
                lambda m: (
                    errors.append(m.text)
                    if m.type == "error" and "status of 422" not in m.text  # the one provoked
                    else None
                ),
            )
            page.goto(url + "/")  # sign in on the console, follow its link: one token per tab
            page.fill("#token", token)
            page.click("#login")
            page.wait_for_selector("#user:has-text('alice')")
            page.click("a[href='/kb']")
            page.wait_for_selector("#readings li.reading")
            assert page.inner_text("#readings-count") == "2"

            item = page.locator(f"#readings li.reading[data-id='{stop_id}']")
            assert item.locator("pre.doc-text").text_content() == HOSTILE  # as text, exactly
            assert "stop_sale SKU kettle-1" in item.locator(".summary").text_content()
            assert item.locator(".confidence").text_content() == "42%"
            assert page.locator("#kb img, #kb script, #kb b").count() == 0  # nothing parsed
            assert page.evaluate("typeof window.__pwned") == "undefined"

            item.locator("button.confirm").click()
            page.wait_for_selector("#readings li.note.ok")
            assert f"#{stop_id} confirmed by alice" in page.inner_text("#readings li.note")
            page.locator(f"#readings li.reading[data-id='{stop_id}']").wait_for(state="detached")

            other = page.locator(f"#readings li.reading[data-id='{cap_id}']")
            other.locator("button.reject").click()  # no reason: refused, stays open
            page.wait_for_selector(f"li.reading[data-id='{cap_id}'] .result.error")
            assert "a rejection needs a reason" in other.locator(".result").text_content()
            other.locator("input.reason").fill("the cap is 25%, not 20%")
            other.locator("button.reject").click()
            page.wait_for_selector("#readings li.note.ok:has-text('rejected')")
            assert page.inner_text("#readings-count") == "0"

            page.click(f"#documents li.document[data-id='{doc_id}']")
            page.wait_for_selector("#doc:not([hidden])")
            assert page.locator("#doc-text").text_content() == HOSTILE
            assert page.locator("#doc-title").text_content() == "Kettle recall"
            readings = page.inner_text("#doc-directives")
            assert "confirmed by alice" in readings and "the cap is 25%, not 20%" in readings
            assert page.locator("#kb img, #kb script, #kb b").count() == 0
            assert page.evaluate("typeof window.__pwned") == "undefined"
        finally:
            ctx.close()
    with store.session() as s:
        rows = {r.id: r for r in s.query(KbDirective).filter(KbDirective.document_id == doc_id)}
        assert (rows[stop_id].status, rows[stop_id].reviewed_by) == ("confirmed", "alice")
        assert (rows[cap_id].status, rows[cap_id].review_reason) == (
            "rejected", "the cap is 25%, not 20%",
        )  # fmt: skip
    store.close()
    assert not errors, errors


# ---------------------------------------------------------------------------------- the model
def _default_model() -> Path:
    from policies.llm.checkpoint import DEFAULT_MODEL_NAME, models_dir

    folder = models_dir() / DEFAULT_MODEL_NAME
    if not (folder / "config.json").is_file():
        pytest.skip(f"the default reader model is not converted at {folder} (make setup)")
    return folder


@pytest.mark.slow  # loads the model twice and reads twice: tens of seconds on 2 cores
def test_add_read_files_the_readings(tmp_path):
    _default_model()
    db = str(tmp_path / "read.db")
    text = "Stop selling all electronics from 2025-03-10 because of a product recall."
    out = json.loads(_ok(_kb(
        "add", text, "--shop", "sim-steady", "--scenario", "steady", "--kind", "compliance",
        "--date", "2025-03-05", "--db", db, "--json",
    )))  # fmt: skip
    assert out["directives"], out
    for d in out["directives"]:
        assert 0.0 <= d["confidence"] <= 1.0
        assert d["status"] == ("proposed" if d["confidence"] >= 0.8 else "pending_review")
        assert d["reader"] and d["summary"]

    from agent.commands.kb import _reader

    app = create_app(db)
    app.state.kb_reader = _reader(None, "default", False)
    token, _ = create_token(app.state.store, "alice", role="approver", shops=["sim-steady"])
    with TestClient(app) as c:
        r = c.post(
            "/api/kb/documents",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "shop_id": "sim-steady",
                "text": text,
                "kind": "compliance",
                "doc_date": "2025-03-05",
                "read": True,
                "scenario": "steady",
            },
        )
    assert r.status_code == 201, r.text
    read = r.json()
    assert read["reader"] and read["document"]["directives"]
    assert [d["summary"] for d in read["document"]["directives"]] == [
        d["summary"] for d in out["directives"]
    ]  # the same model reads the same text the same way (greedy decoding)
