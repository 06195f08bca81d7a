"""blob links

A blob is reachable through the model namespaces that link it, the way a container
registry links a layer to each repository it was pushed to: ``blob_links`` records each
verified upload of a blob for a model (one row per blob and model, however often it was
sent), and each upload session remembers the model it was opened for.

Sessions opened before have no model (an upload for the whole registry) and were
counted by address, so no principal owns them now: they expire as abandoned ones do.
Blobs stored before are reachable through the versions that list them, as before.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from modeldepot.db.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blob_links",
        sa.Column("digest", sa.String(71), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("digest", "model", name=op.f("pk_blob_links")),
    )
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("model", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("model")
    op.drop_table("blob_links")
