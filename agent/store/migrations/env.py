"""Alembic environment for the ShopOps store.

Used two ways: programmatically by :func:`agent.store.open_store` (which passes its open
connection in ``config.attributes["connection"]``), and by developers through ``alembic``
with ``alembic.ini`` (the URL then comes from ``SHOPOPS_DB`` or the default file).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from agent.store.schema import metadata
from agent.store.url import resolve_db_url

config = context.config
target_metadata = metadata

#: Search structures the 0005 migration creates per dialect outside the ORM models (the
#: SQLite FTS5 table and its shadow tables, PostgreSQL's generated column and GIN index).
_MIGRATION_ONLY = ("kb_documents_fts", "search_vector", "ix_kb_documents_search")


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Keep autogenerate from proposing to drop the migration-only search structures."""
    return not (reflected and name is not None and name.startswith(_MIGRATION_ONLY))


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url") or resolve_db_url(),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or resolve_db_url())
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
