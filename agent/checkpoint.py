"""The LangGraph checkpointer on the store's database.

SQLite URLs get :class:`langgraph.checkpoint.sqlite.SqliteSaver` on the same file as the
store (its own tables, ``checkpoints`` and ``writes``); PostgreSQL URLs get
:class:`langgraph.checkpoint.postgres.PostgresSaver`. Both create their tables on first use.
A SQLite URL without a file (in memory) is refused: checkpoints must outlive the process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from agent.errors import StoreError
from agent.store.url import is_postgres, psycopg_conninfo, sqlite_path

__all__ = ["open_checkpointer"]


@contextlib.contextmanager
def open_checkpointer(url: str) -> Iterator[Any]:
    """Yield a ready checkpointer for the store URL ``url``; closes its connection after.

    Raises:
        StoreError: the URL is neither a SQLite file nor PostgreSQL, or cannot be opened.
    """
    if is_postgres(url):
        from langgraph.checkpoint.postgres import PostgresSaver

        try:
            with PostgresSaver.from_conn_string(psycopg_conninfo(url)) as saver:
                saver.setup()
                yield saver
        except StoreError:
            raise
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg"):
                raise StoreError(f"cannot open the PostgreSQL checkpointer: {exc}") from exc
            raise
        return
    path = sqlite_path(url)
    if path is None:
        raise StoreError(
            f"the checkpointer needs a SQLite file or a PostgreSQL URL, got {url!r}; "
            "pass --db PATH or --db postgresql://..."
        )
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30.0)
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        saver = SqliteSaver(conn)
        saver.setup()
        yield saver
    finally:
        conn.close()
