"""upload clients

Each upload session remembers the client that opened it, so the server can bound the
sessions one client holds open at once (``MODELDEPOT_MAX_UPLOADS_PER_CLIENT``).
Sessions opened before have none and count for nobody.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("client", sa.String(length=128), nullable=True))
        batch.create_index(batch.f("ix_uploads_client"), ["client"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.drop_index(batch.f("ix_uploads_client"))
        batch.drop_column("client")
