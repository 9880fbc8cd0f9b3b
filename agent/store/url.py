"""Where the store lives: the database URL and its flavours.

Resolution order for the URL: an explicit ``--db URL`` / ``url`` argument, then the
``SHOPOPS_DB`` environment variable, then the SQLite file ``~/.shopops/shopops.db``.
A bare file path (no ``://``) is taken as a SQLite file. PostgreSQL URLs may be written
``postgresql://...`` or ``postgresql+psycopg://...``; both use psycopg 3.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEFAULT_DB_PATH", "is_postgres", "psycopg_conninfo", "resolve_db_url", "sqlite_path"]

#: The default embedded database file.
DEFAULT_DB_PATH = Path("~/.shopops/shopops.db")


def resolve_db_url(url: str | os.PathLike[str] | None = None) -> str:
    """The SQLAlchemy URL for ``url`` (see the module docstring for the defaults).

    URLs are parsed by SQLAlchemy's own :func:`~sqlalchemy.engine.make_url`, so any driver
    spelling (``sqlite+pysqlite:///``, ``postgres://``, ``postgresql+psycopg2://``) is read
    for what it is; every PostgreSQL URL uses psycopg 3.
    """
    from sqlalchemy.engine import make_url

    raw = str(url) if url is not None else os.environ.get("SHOPOPS_DB") or str(DEFAULT_DB_PATH)
    if "://" not in raw:
        path = Path(raw).expanduser().resolve()
        return f"sqlite:///{path}"
    if raw.startswith("postgres://"):  # Heroku-style alias SQLAlchemy does not accept
        raw = "postgresql://" + raw[len("postgres://") :]
    parsed = make_url(raw)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_postgres(url: str) -> bool:
    """True for a PostgreSQL URL."""
    from sqlalchemy.engine import make_url

    return make_url(url).get_backend_name() == "postgresql"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (``None`` for in-memory or other databases)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    db = parsed.database
    return None if db in (None, "", ":memory:") else Path(db)


def psycopg_conninfo(url: str) -> str:
    """The libpq connection string psycopg expects for a SQLAlchemy PostgreSQL URL."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return url
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)
