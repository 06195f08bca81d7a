"""presigned uploads

Upload sessions whose bytes go straight to the blob store remember their part size.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 00:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("part_size", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("part_size")
