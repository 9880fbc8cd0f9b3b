"""The approval API over a real HTTP server, real tokens and real runs left waiting.

Two shops, each with a run left waiting (confirm mode, ``--approver none``). Tokens: an
approver and a viewer of shop-a, an approver of shop-b. Covers 401 / 403 / 409 / 422, the
answer recorded with its user, the exactly-once guarantee across two server processes, and
the chat box's rights.
"""

from __future__ import annotations

import contextlib
import threading

import pytest
from sqlalchemy import func, select

from agent.store import open_store
from agent.store.auth import ApiToken
from agent.store.models import Action, Approval, Execution
from agent.web.auth import create_token, hash_token, revoke_token
from tests.web_helpers import client, live_server, pending_run, serve_process


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    db = str(tmp_path_factory.mktemp("web") / "web.db")
    a = pending_run(db, "shop-a", days=1)
    b = pending_run(db, "shop-b", days=1, seed=1)
    store = open_store(db)
    tok = {
        "alice": create_token(store, "alice", role="approver", shops=["shop-a"])[0],
        "victor": create_token(store, "victor", role="viewer", shops=["shop-a"])[0],
        "bob": create_token(store, "bob", role="approver", shops=["shop-b"])[0],
        "revoked": create_token(store, "rita", role="approver", shops=["*"])[0],
    }
    revoke_token(store, tok["revoked"][:8])
    with live_server(db) as url:
        yield {
            "db": db,
            "url": url,
            "store": store,
            "tok": tok,
            "run_a": a.run_id,
            "run_b": b.run_id,
        }
    store.close()


def _pending(env, who: str, run_key: str) -> list[dict]:
    with client(env["url"], env["tok"][who]) as c:
        r = c.get("/api/decisions", params={"run_id": env[run_key]})
        assert r.status_code == 200, r.text
        return r.json()


def _take(env, kind: str = "restock") -> dict:
    """A fresh pending decision of shop-a (each test answers its own)."""
    for d in _pending(env, "alice", "run_a"):
        if d["kind"] == kind and d["action_id"] not in _taken:
            _taken.add(d["action_id"])
            return d
    raise AssertionError("no pending decision left")


_taken: set[int] = set()


def test_wrong_missing_or_revoked_token_is_401_and_never_echoed(env):
    for token in (None, "sot_not-a-real-token", env["tok"]["revoked"]):
        with client(env["url"], token) as c:
            r = c.get("/api/decisions")
        assert r.status_code == 401, r.text
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["code"] == "auth"
        if token:
            assert token not in r.text
    with client(env["url"], env["tok"]["revoked"]) as c:
        assert "revoked" in c.get("/api/me").json()["detail"]


def test_tokens_are_stored_hashed(env):
    import sqlite3

    # Through SQLite, never open(): closing a raw descriptor of a live database file drops
    # this process's POSIX locks on it (and corrupts it once another process checkpoints).
    with contextlib.closing(sqlite3.connect(env["db"])) as conn:
        dump = "\n".join(conn.iterdump())
    with env["store"].session() as s:
        hashes = s.scalars(select(ApiToken.token_hash)).all()
    assert len(hashes) == 4
    for tok in env["tok"].values():
        assert tok not in dump
        assert tok not in hashes and hash_token(tok) in hashes


def test_viewer_reads_but_approving_is_403(env):
    d = _take(env)
    with client(env["url"], env["tok"]["victor"]) as c:
        assert c.get("/api/me").json() == {"name": "victor", "role": "viewer", "shops": ["shop-a"]}
        assert any(x["action_id"] == d["action_id"] for x in c.get("/api/decisions").json())
        r = c.post(f"/api/decisions/{d['action_id']}/answer", json={"choice": "accept"})
    assert r.status_code == 403 and "viewer" in r.json()["detail"]
    with env["store"].session() as s:
        assert s.get(Action, d["action_id"]).status == "pending"
        assert s.scalar(select(Approval).where(Approval.action_id == d["action_id"])) is None


def test_approving_another_shops_decision_is_403(env):
    d = _take(env)
    with client(env["url"], env["tok"]["bob"]) as c:
        mine = c.get("/api/decisions").json()
        assert mine and {x["shop_id"] for x in mine} == {"shop-b"}
        r = c.post(f"/api/decisions/{d['action_id']}/answer", json={"choice": "accept"})
        assert r.status_code == 403 and "shop-a" in r.json()["detail"]
        assert c.get(f"/api/runs/{env['run_a']}").status_code == 403
    with env["store"].session() as s:
        assert s.get(Action, d["action_id"]).status == "pending"


def test_pending_list_is_sorted_by_risk_then_deadline(env):
    ds = _pending(env, "alice", "run_a")
    keys = [(-d["risk"], d["expires_day"]) for d in ds]
    assert keys == sorted(keys) and len({d["risk"] for d in ds}) > 1


def test_edit_is_recorded_with_the_user_and_executed(env):
    d = _take(env)
    with client(env["url"], env["tok"]["alice"]) as c:
        r = c.post(
            f"/api/decisions/{d['action_id']}/answer",
            json={"choice": "edit", "quantity": 7, "reason": "smaller first order"},
        )
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["status"] == "executed" and out["executed"] and out["by"] == "alice"
        assert out["execution"]["params"]["quantity"] == 7
        detail = c.get(f"/api/decisions/{d['action_id']}").json()
    assert detail["answer"]["by"] == "alice" and detail["answer"]["edit"] == {"quantity": 7}
    assert detail["can_answer"] is False
    with env["store"].session() as s:
        ap = s.scalar(select(Approval).where(Approval.action_id == d["action_id"]))
        assert (ap.decision, ap.by, ap.reason) == ("edit", "alice", "smaller first order")


def test_double_approval_across_two_server_processes_is_one_200_one_409(env):
    """Two approvers, two server processes, one decision, released at the same instant."""
    d = _take(env)
    aid = d["action_id"]
    store = env["store"]
    gate = threading.Barrier(2)
    results: dict[str, object] = {}

    def go(name: str, url: str) -> None:
        with client(url, env["tok"]["alice"]) as c:
            c.get("/api/me")  # warm connection
            gate.wait()
            results[name] = c.post(
                f"/api/decisions/{aid}/answer", json={"choice": "accept", "reason": name}
            )

    with serve_process(env["db"]) as url2:
        ts = [
            threading.Thread(target=go, args=("one", env["url"])),
            threading.Thread(target=go, args=("two", url2)),
        ]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
    codes = sorted(r.status_code for r in results.values())
    assert codes == [200, 409], {k: r.text for k, r in results.items()}
    loser = next(r for r in results.values() if r.status_code == 409)
    assert loser.json()["code"] == "conflict" and "alice" in loser.json()["detail"]
    assert loser.json()["status"] == "executed"  # the real status, not "pending"
    winner = next(k for k, r in results.items() if r.status_code == 200)
    with store.session() as s:
        assert (
            s.scalar(select(func.count()).select_from(Execution).where(Execution.action_id == aid))
            == 1
        )
        aps = s.scalars(select(Approval).where(Approval.action_id == aid)).all()
        assert [(a.by, a.reason) for a in aps] == [("alice", winner)]
        assert s.get(Action, aid).status == "executed"


def test_malformed_bodies_are_422_with_field_errors(env):
    d = _take(env)
    url = f"/api/decisions/{d['action_id']}/answer"
    cases = [
        ({"choice": "maybe"}, ["body", "choice"]),
        ({"choice": "edit", "quantity": -3, "reason": "x"}, ["body", "quantity"]),
        ({"choice": "edit", "quantity": "lots"}, ["body", "quantity"]),
        ({"choice": "edit", "quantity": True, "reason": "x"}, ["body", "quantity"]),
        ({"choice": "edit", "quantity": 40.5, "reason": "x"}, ["body", "quantity"]),
        ({"choice": "edit", "quantity": "40", "reason": "x"}, ["body", "quantity"]),
        ({"choice": "reject", "reason": "nul\u0000inside"}, ["body", "reason"]),
        ({"choice": "reject"}, ["body", "reason"]),
        ({"choice": "reject", "reason": "   "}, ["body", "reason"]),
        ({"choice": "accept", "quantity": 3}, ["body", "quantity"]),
        ({"choice": "accept", "colour": "red"}, ["body", "colour"]),
        ({"choice": "edit", "discount": 0.1, "reason": "x"}, ["body", "discount"]),
        ({"choice": "edit", "reason": "no numbers"}, ["body", "quantity"]),
        ({}, ["body", "choice"]),
    ]
    with client(env["url"], env["tok"]["alice"]) as c:
        for body, loc in cases:
            r = c.post(url, json=body)
            assert r.status_code == 422, (body, r.text)
            locs = [e["loc"] for e in r.json()["detail"]]
            assert loc in locs, (body, locs)
        r = c.post(url, content=b"{not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"
        r = c.post("/api/decisions/notanumber/answer", json={"choice": "accept"})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "action_id"]
        for big in (2**31, 2**63, 10**400):  # past the id column: 422, never a 500
            r = c.post(f"/api/decisions/{big}/answer", json={"choice": "accept"})
            assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "action_id"]
            assert c.get(f"/api/decisions/{big}").status_code == 422
        # NaN and Infinity are not JSON numbers a discount may take
        for raw in (b'{"choice": "edit", "discount": NaN}',
                    b'{"choice": "edit", "discount": Infinity}'):
            r = c.post(url, content=raw, headers={"Content-Type": "application/json"})
            assert r.status_code == 422, r.text
        assert c.post("/api/decisions/999999/answer", json={"choice": "accept"}).status_code == 404
    with env["store"].session() as s:
        assert s.get(Action, d["action_id"]).status == "pending"


def test_chat_box_is_the_terminal_chat_with_the_callers_rights(env):
    d = _take(env)
    aid = d["action_id"]
    with client(env["url"], env["tok"]["victor"]) as c:
        r = c.post("/api/chat", json={"run_id": env["run_a"], "line": f"why {aid}"})
        assert r.status_code == 200 and "waits because its risk" in r.json()["reply"]
        r = c.post("/api/chat", json={"run_id": env["run_a"], "line": f"accept {aid} fine"})
        assert "only approvers" in r.json()["reply"]
    with client(env["url"], env["tok"]["bob"]) as c:
        r = c.post("/api/chat", json={"run_id": env["run_a"], "line": "list"})
        assert r.status_code == 403
    with client(env["url"], env["tok"]["alice"]) as c:
        r = c.post("/api/chat", json={"run_id": env["run_a"], "line": f"reject {aid}"})
        assert "needs a reason" in r.json()["reply"]
        r = c.post("/api/chat", json={"run_id": env["run_a"], "line": f"reject {aid} not now"})
        assert f"#{aid} reject by alice: rejected" in r.json()["reply"]
        r = c.post("/api/chat", json={"run_id": env["run_a"], "line": "", "extra": 1})
        assert r.status_code == 422
    with env["store"].session() as s:
        ap = s.scalar(select(Approval).where(Approval.action_id == aid))
        assert (ap.decision, ap.by, ap.reason) == ("reject", "alice", "not now")


def test_runs_and_alerts_are_served(env):
    with client(env["url"], env["tok"]["alice"]) as c:
        runs = c.get("/api/runs").json()
        assert [r["run_id"] for r in runs] == [env["run_a"]]
        detail = c.get(f"/api/runs/{env['run_a']}").json()
        assert detail["series"]["day"] == [0.0] and len(detail["series"]["profit"]) == 1
        assert detail["recent"] and all(x["by"] for x in detail["recent"])
        assert c.get("/api/alerts").status_code == 200
        assert c.get("/api/runs/nope").status_code == 404
        spec = c.get("/openapi.json").json()
    assert "/api/decisions/{action_id}/answer" in spec["paths"]
    assert "409" in spec["paths"]["/api/decisions/{action_id}/answer"]["post"]["responses"]
