"""The store: a SQLAlchemy 2 database of runs, plans, actions, approvals and executions.

:func:`open_store` resolves the URL (``--db``, ``$SHOPOPS_DB``, else the SQLite file
``~/.shopops/shopops.db``), creates the parent folder of a SQLite file, and migrates the
schema to the newest Alembic revision. The same code runs on PostgreSQL.

Concurrency: on SQLite every transaction starts with ``BEGIN IMMEDIATE`` (one writer at a
time, others wait up to 30 s) and the file uses WAL, so a chat process and a running
``shopops run`` can share a file safely; on PostgreSQL migrations take an advisory lock.
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agent.errors import StoreError
from agent.store.url import is_postgres, resolve_db_url, sqlite_path

__all__ = ["Store", "open_store"]

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_PG_MIGRATION_LOCK = 0x5A0F5  # pg_advisory_xact_lock key for schema upgrades


class Store:
    """An open database: an engine, a session factory and small helpers.

    Use :meth:`session` for a transaction (committed on success, rolled back on error).
    """

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine, event
        from sqlalchemy.orm import sessionmaker

        self.url = url
        self.is_postgres = is_postgres(url)
        self.sqlite_file = sqlite_path(url)
        if self.sqlite_file is not None:
            try:
                self.sqlite_file.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the folder for the database {self.sqlite_file}: {exc}; "
                    "pass --db with a writable path or set SHOPOPS_DB"
                ) from exc
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30.0, "check_same_thread": False}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):

            @event.listens_for(self.engine, "connect")
            def _on_connect(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
                dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.close()

            @event.listens_for(self.engine, "begin")
            def _on_begin(conn) -> None:  # pragma: no cover - trivial
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    # ------------------------------------------------------------------ transactions
    @contextlib.contextmanager
    def session(self) -> Iterator[Any]:
        """A session in one transaction: commit on success, roll back on any error."""
        with self._sessions() as s, s.begin():
            yield s

    def migrate(self) -> None:
        """Upgrade the schema to the newest revision (a no-op when already there)."""
        from alembic import command
        from alembic.config import Config
        from sqlalchemy import text

        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        try:
            with self.engine.begin() as conn:
                if self.is_postgres:
                    conn.execute(text(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"))
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except Exception as exc:
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"cannot open or migrate the store at {self.safe_url}: {exc}") from exc

    @property
    def safe_url(self) -> str:
        """The URL with any password masked, for messages."""
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        """Dispose of the connection pool."""
        self.engine.dispose()

    # ------------------------------------------------------------------ blobs
    def put_blob(self, run_id: str, key: str, obj: Any, session: Any = None) -> None:
        """Store ``obj`` (pickled, behind the :data:`BLOB_HEADER` format line) under
        ``(run_id, key)``, replacing any previous value.

        Raises:
            StoreError: ``obj`` cannot be pickled (names the key and the type); nothing is
                written, so a resume never finds a silently missing snapshot.
        """
        try:
            data = BLOB_HEADER + pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise StoreError(
                f"run {run_id}: cannot save {key!r} ({type(obj).__name__}) in the store: "
                f"{type(exc).__name__}: {exc}; a policy or model must be picklable to resume"
            ) from exc
        if session is None:
            with self.session() as s:
                self._put(s, run_id, key, data)
        else:
            self._put(session, run_id, key, data)

    @staticmethod
    def _put(s: Any, run_id: str, key: str, data: bytes) -> None:
        from agent.store.models import Blob, utcnow

        row = s.get(Blob, (run_id, key))
        if row is None:
            s.add(Blob(run_id=run_id, key=key, data=data))
        else:
            row.data = data
            row.created_at = utcnow()

    def get_blob(self, run_id: str, key: str, default: Any = None, session: Any = None) -> Any:
        """The object stored under ``(run_id, key)``, or ``default``."""
        from agent.store.models import Blob

        if session is None:
            with self.session() as s:
                row = s.get(Blob, (run_id, key))
                data = None if row is None else row.data
        else:
            row = session.get(Blob, (run_id, key))
            data = None if row is None else row.data
        return default if data is None else _load_blob(data, run_id, key)

    def delete_blobs(self, run_id: str, keys: list[str], session: Any) -> None:
        """Remove the blobs ``keys`` of ``run_id`` (missing keys are ignored)."""
        from sqlalchemy import delete

        from agent.store.models import Blob

        if keys:
            session.execute(delete(Blob).where(Blob.run_id == run_id, Blob.key.in_(keys)))


#: The first bytes of every blob this version writes: the format and its version. Blobs
#: without it were written before versioning (format 0) and still load.
BLOB_HEADER = b"SHOPOPS-BLOB/1\n"
_BLOB_PREFIX = b"SHOPOPS-BLOB/"


def _load_blob(data: bytes, run_id: str, key: str) -> Any:
    """Unpickle a blob, checking its format version first."""
    if data.startswith(_BLOB_PREFIX):
        head, _, body = data.partition(b"\n")
        version = head[len(_BLOB_PREFIX):].decode("ascii", "replace")
        if version != "1":
            raise StoreError(
                f"run {run_id}: blob {key!r} has format {version}; this ShopOps reads format "
                "1 (and unversioned blobs): upgrade ShopOps to resume this run"
            )
        data = body
    try:
        return pickle.loads(data)
    except Exception as exc:
        raise StoreError(
            f"run {run_id}: blob {key!r} cannot be loaded ({type(exc).__name__}: {exc}); it "
            "was written by an incompatible version of ShopOps or its libraries"
        ) from exc


def open_store(url: str | None = None, migrate: bool = True) -> Store:
    """Open (and by default migrate) the store at ``url`` (see the module docstring).

    Raises:
        StoreError: the database cannot be reached, created or migrated.
    """
    store = Store(resolve_db_url(url))
    if migrate:
        store.migrate()
    return store
