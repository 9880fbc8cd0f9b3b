"""Superseded decisions: ``actions.superseded_by`` points at the newer decision for the same
SKU and kind that replaced a pending one (see agent/answers.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("actions") as batch:
        batch.add_column(sa.Column("superseded_by", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("actions") as batch:
        batch.drop_column("superseded_by")
