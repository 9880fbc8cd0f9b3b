"""The store: migrations, constraints, blobs, and the checkpointer, on SQLite and PostgreSQL.

PostgreSQL runs when ``SHOPOPS_TEST_PG_URL`` points at a reachable server (``.ci/postgres.sh``
starts one); otherwise those cases skip with the reason.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from agent.store import open_store
from agent.store.models import Action, Execution, Run, Shop


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    return request.getfixturevalue("pg_database")


def _seed(store, run_id: str) -> None:
    with store.session() as s:
        if s.get(Shop, "shop-a") is None:
            s.add(Shop(id="shop-a", backend="sim", config={"scenario": "steady"}))
            s.flush()
        s.add(Run(id=run_id, shop_id="shop-a", policy="naive", approval_mode="risky"))


def test_migrates_twice_and_keeps_rows(db_url):
    store = open_store(db_url)
    run_id = uuid.uuid4().hex[:12]
    _seed(store, run_id)
    store.close()
    again = open_store(db_url)  # the second open is a no-op migration, data intact
    with again.session() as s:
        assert s.get(Run, run_id).policy == "naive"
        assert s.get(Shop, "shop-a").config == {"scenario": "steady"}
    again.close()


def test_idempotency_key_is_unique(db_url):
    store = open_store(db_url)
    run_id = uuid.uuid4().hex[:12]
    _seed(store, run_id)
    key = f"k-{run_id}"
    with store.session() as s:
        a = Action(run_id=run_id, day=0, sku="x", kind="restock", idempotency_key=key)
        s.add(a)
        s.flush()
        s.add(
            Execution(
                idempotency_key=key,
                action_id=a.id,
                run_id=run_id,
                day=0,
                applied_day=0,
                sku="x",
                kind="restock",
                params={"quantity": 5},
            )
        )
    with pytest.raises(IntegrityError), store.session() as s:
        s.add(
            Execution(
                idempotency_key=key,
                action_id=a.id,
                run_id=run_id,
                day=0,
                applied_day=0,
                sku="x",
                kind="restock",
                params={"quantity": 5},
            )
        )
    with store.session() as s:
        n = s.scalar(select(func.count()).select_from(Execution).where(Execution.run_id == run_id))
    assert n == 1
    store.close()


def test_blobs_round_trip_and_replace(db_url):
    store = open_store(db_url)
    run_id = uuid.uuid4().hex[:12]
    _seed(store, run_id)
    store.put_blob(run_id, "x", {"a": [1, 2]})
    store.put_blob(run_id, "x", {"a": [3]})
    assert store.get_blob(run_id, "x") == {"a": [3]}
    assert store.get_blob(run_id, "missing", default="none") == "none"
    store.close()


def test_checkpointer_persists_across_connections(db_url):
    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    from agent.checkpoint import open_checkpointer

    class S(TypedDict):
        n: int

    def inc(state: S) -> dict:
        return {"n": state["n"] + 1}

    builder = StateGraph(S)
    builder.add_node("inc", inc)
    builder.add_edge(START, "inc")
    builder.add_edge("inc", END)
    store = open_store(db_url)
    cfg = {"configurable": {"thread_id": uuid.uuid4().hex}}
    with open_checkpointer(store.url) as saver:
        builder.compile(checkpointer=saver).invoke({"n": 1}, cfg)
    with open_checkpointer(store.url) as saver:
        assert builder.compile(checkpointer=saver).get_state(cfg).values == {"n": 2}
    store.close()


def test_unwritable_sqlite_path_names_the_file(tmp_path):
    from agent.errors import StoreError

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="file"):
        open_store(str(blocker / "sub" / "x.db"))


def test_store_urls_are_parsed_by_sqlalchemy(tmp_path):
    """Issue 18: ``sqlite+pysqlite:///`` was not recognised (string prefixes)."""
    from agent.store.url import is_postgres, psycopg_conninfo, resolve_db_url, sqlite_path

    f = tmp_path / "x.db"
    assert sqlite_path(resolve_db_url(f"sqlite+pysqlite:///{f}")) == f
    assert sqlite_path(resolve_db_url(str(f))) == f
    assert sqlite_path("sqlite://") is None
    pg = resolve_db_url("postgres://u:p@h:5/db")
    assert pg == "postgresql+psycopg://u:p@h:5/db" and is_postgres(pg)
    assert resolve_db_url("postgresql+psycopg2://u@h/db") == "postgresql+psycopg://u@h/db"
    assert psycopg_conninfo(pg) == "postgresql://u:p@h:5/db"
    assert not is_postgres(resolve_db_url(str(f)))


def test_blobs_carry_a_format_version_and_an_unpicklable_object_fails_loudly(tmp_path):
    """Issue 18: saved state was pickles with no format version, and a failed pickle was
    silently swallowed in three places."""
    import pickle
    import threading

    import pytest
    from sqlalchemy import select

    from agent.errors import StoreError
    from agent.runner import RunOptions, create_run
    from agent.store import BLOB_HEADER, open_store
    from agent.store.models import Blob

    store = open_store(str(tmp_path / "b.db"))
    run_id = create_run(store, RunOptions(scenario="steady", policy="base_stock", signals="ema"))
    store.put_blob(run_id, "x", {"a": 1})
    with store.session() as s:
        raw = s.scalar(select(Blob.data).where(Blob.run_id == run_id, Blob.key == "x"))
    assert raw.startswith(BLOB_HEADER) and store.get_blob(run_id, "x") == {"a": 1}
    with store.session() as s:  # a blob from before versioning still loads
        s.get(Blob, (run_id, "x")).data = pickle.dumps({"old": True})
    assert store.get_blob(run_id, "x") == {"old": True}
    with store.session() as s:  # one from a newer format is refused with what to do
        s.get(Blob, (run_id, "x")).data = b"SHOPOPS-BLOB/9\n" + pickle.dumps(1)
    with pytest.raises(StoreError, match="format 9"):
        store.get_blob(run_id, "x")
    with pytest.raises(StoreError, match="cannot save 'policy' \\(lock\\)"):
        store.put_blob(run_id, "policy", threading.Lock())
    store.close()
