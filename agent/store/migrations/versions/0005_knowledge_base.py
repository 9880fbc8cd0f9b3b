"""Knowledge base: document versions, the directives read from them, and their full-text
index (see agent/store/kb.py).

The index is the database's own, made per dialect:

* SQLite: the FTS5 table ``kb_documents_fts`` (external content ``kb_documents``, tokenizer
  ``porter unicode61 remove_diacritics 2``) and three triggers that keep it in sync on
  insert, delete and update of ``id``, ``title`` or ``text``. A later migration that runs
  ``batch_alter_table("kb_documents")`` on SQLite rebuilds the table and so drops these
  triggers: it must create them again.
* PostgreSQL: the generated column ``kb_documents.search_vector`` (title weighted ``A``,
  text ``B``, English configuration, ``STORED``) and its GIN index.

The DDL is written out here, not imported from agent/store/kb.py, so this revision keeps
meaning what it meant when it was written.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PG_VECTOR = (
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, text), 'B')"
)

_SQLITE_FTS = (
    "CREATE VIRTUAL TABLE kb_documents_fts USING fts5("
    "title, text, content='kb_documents', content_rowid='id', "
    "tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER kb_documents_fts_insert AFTER INSERT ON kb_documents BEGIN "
    "INSERT INTO kb_documents_fts(rowid, title, text) VALUES (new.id, new.title, new.text); "
    "END",
    "CREATE TRIGGER kb_documents_fts_delete AFTER DELETE ON kb_documents BEGIN "
    "INSERT INTO kb_documents_fts(kb_documents_fts, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); "
    "END",
    "CREATE TRIGGER kb_documents_fts_update AFTER UPDATE OF id, title, text ON kb_documents "
    "BEGIN "
    "INSERT INTO kb_documents_fts(kb_documents_fts, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); "
    "INSERT INTO kb_documents_fts(rowid, title, text) VALUES (new.id, new.title, new.text); "
    "END",
)


def upgrade() -> None:
    """Upgrade schema."""
    dialect = op.get_bind().dialect.name
    search_column = []
    if dialect == "postgresql":
        search_column = [
            sa.Column(
                "search_vector",
                postgresql.TSVECTOR(),
                sa.Computed(_PG_VECTOR, persisted=True),
                nullable=True,
            )
        ]
    op.create_table(
        "kb_documents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("shop_id", sa.String(length=64), nullable=False),
        sa.Column("doc_key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("author", sa.String(length=128), nullable=True),
        sa.Column("doc_date", sa.Date(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("skus", sa.JSON(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("suppliers", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("superseded_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("retired_at", sa.DateTime(), nullable=True),
        sa.Column("retired_by", sa.String(length=128), nullable=True),
        sa.Column("retire_reason", sa.Text(), nullable=True),
        *search_column,
        sa.ForeignKeyConstraint(["superseded_by"], ["kb_documents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shop_id", "doc_key", "version", name="uq_kb_documents_version"),
    )
    with op.batch_alter_table("kb_documents", schema=None) as batch_op:
        batch_op.create_index("ix_kb_documents_shop_status", ["shop_id", "status"], unique=False)
        batch_op.create_index(
            "uq_kb_documents_active",
            ["shop_id", "doc_key"],
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )

    op.create_table(
        "kb_directives",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("original_payload", sa.JSON(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reader", sa.String(length=128), nullable=False),
        sa.Column("reviewed_by", sa.String(length=128), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("review_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["kb_documents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("document_id", "position", name="uq_kb_directives_position"),
    )
    with op.batch_alter_table("kb_directives", schema=None) as batch_op:
        batch_op.create_index("ix_kb_directives_status", ["status"], unique=False)

    if dialect == "postgresql":
        op.create_index(
            "ix_kb_documents_search",
            "kb_documents",
            ["search_vector"],
            unique=False,
            postgresql_using="gin",
        )
    elif dialect == "sqlite":
        for statement in _SQLITE_FTS:
            op.execute(statement)


def downgrade() -> None:
    """Downgrade schema."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("update", "delete", "insert"):
            op.execute(f"DROP TRIGGER IF EXISTS kb_documents_fts_{name}")
        op.execute("DROP TABLE IF EXISTS kb_documents_fts")
    elif dialect == "postgresql":
        op.drop_index("ix_kb_documents_search", table_name="kb_documents")
    with op.batch_alter_table("kb_directives", schema=None) as batch_op:
        batch_op.drop_index("ix_kb_directives_status")
    op.drop_table("kb_directives")
    with op.batch_alter_table("kb_documents", schema=None) as batch_op:
        batch_op.drop_index("uq_kb_documents_active")
        batch_op.drop_index("ix_kb_documents_shop_status")
    op.drop_table("kb_documents")
