"""Shared fixtures. Keep them real: real simulator, real files."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SHOPOPS_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    """The real retail data folder; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (set SHOPOPS_SHARED_DATA)")
    return SHARED_DATA


@contextlib.contextmanager
def _new_pg_database(prefix: str) -> Iterator[str]:
    """Create an empty database on the server at ``SHOPOPS_TEST_PG_URL``; drop it afterwards.

    Skips the test with the reason when no server is configured or reachable.
    """
    url = os.environ.get("SHOPOPS_TEST_PG_URL")
    if not url:
        pytest.skip("SHOPOPS_TEST_PG_URL is not set (run .ci/postgres.sh to start a server)")
    import psycopg

    from agent.store.url import psycopg_conninfo, resolve_db_url

    base = resolve_db_url(url)
    try:
        admin = psycopg.connect(psycopg_conninfo(base), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at SHOPOPS_TEST_PG_URL is not reachable: {exc}")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    head, _, _ = base.rpartition("/")
    try:
        yield f"{head}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database shared by a test module, or a skip with the reason."""
    with _new_pg_database("shopops_t") as url:
        yield url


@pytest.fixture
def fresh_pg() -> Iterator[str]:
    """A fresh PostgreSQL database per test (for tests whose shops keep state)."""
    with _new_pg_database("shopops_r") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def real_shop_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store (SQLite file, or a fresh PostgreSQL database) with the committed synthetic shop
    (tests/data/real_shop) imported; its URL."""
    from tests.real_shop_helpers import imported_shop_store

    if request.param == "sqlite":
        url = str(tmp_path / "shop.db")
    else:
        url = request.getfixturevalue("fresh_pg")
    return imported_shop_store(url)
