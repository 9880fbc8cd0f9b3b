"""A fresh PostgreSQL database per test for the real-shop tests (their shops keep state)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest


@pytest.fixture
def fresh_pg() -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards), or a skip with the reason."""
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
    name = f"shopops_r_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    head, _, _ = base.rpartition("/")
    yield f"{head}/{name}"
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()
