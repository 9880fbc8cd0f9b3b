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
    """The SQLAlchemy URL for ``url`` (see the module docstring for the defaults)."""
    raw = str(url) if url is not None else os.environ.get("SHOPOPS_DB") or str(DEFAULT_DB_PATH)
    if "://" not in raw:
        path = Path(raw).expanduser().resolve()
        return f"sqlite:///{path}"
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://") :]
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw[len("postgresql://") :]
    return raw


def is_postgres(url: str) -> bool:
    """True for a PostgreSQL URL."""
    return url.startswith("postgresql")


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL (``None`` for in-memory or other databases)."""
    if not url.startswith("sqlite:///"):
        return None
    rest = url[len("sqlite:///") :].split("?", 1)[0]
    return None if rest in ("", ":memory:") else Path(rest)


def psycopg_conninfo(url: str) -> str:
    """The libpq connection string psycopg expects for a SQLAlchemy PostgreSQL URL."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url
