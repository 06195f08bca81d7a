"""streamed uploads

An upload session may leave its digest for its completion (the client hashes the
file while sending it), and blobs keep their sample digest, by which a client learns
that the server certainly lacks a large file before hashing it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.alter_column("digest", existing_type=sa.String(length=71), nullable=True)
    with op.batch_alter_table("blobs") as batch:
        batch.add_column(sa.Column("sample", sa.String(length=71), nullable=True))
        batch.create_index(batch.f("ix_blobs_size"), ["size"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("blobs") as batch:
        batch.drop_index(batch.f("ix_blobs_size"))
        batch.drop_column("sample")
    # Sessions still waiting for their digest cannot be kept without one.
    op.execute(sa.text("DELETE FROM uploads WHERE digest IS NULL"))
    with op.batch_alter_table("uploads") as batch:
        batch.alter_column("digest", existing_type=sa.String(length=71), nullable=False)
