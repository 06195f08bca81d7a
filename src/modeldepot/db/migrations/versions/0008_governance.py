"""governance

Protected aliases (by default ``staging`` and ``production`` of every model), policies
and their versions, promotion requests with their reviews, comments, evaluations and
waivers, external checks bound to a version's digest, change freezes, and each
version's lifecycle status (active, deprecated, revoked). An alias move made by
applying a request remembers the request.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 09:34:18
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from modeldepot.db.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "freezes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("lifted_at", UTCDateTime(), nullable=True),
        sa.Column("lifted_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_freezes")),
    )
    op.create_table(
        "policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(length=63), nullable=False),
        sa.Column("prefix", sa.String(length=200), nullable=False),
        sa.Column("risk_levels", sa.String(length=200), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policies")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_policies_name_version")),
    )
    op.create_table(
        "protected_aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("alias", sa.String(length=63), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protected_aliases")),
        sa.UniqueConstraint(
            "kind", "scope", "alias", name=op.f("uq_protected_aliases_kind_scope_alias")
        ),
    )
    op.create_table(
        "promotion_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(length=63), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("base_version_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=128), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column("policy_name", sa.String(length=128), nullable=True),
        sa.Column("policy_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["base_version_id"],
            ["versions.id"],
            name=op.f("fk_promotion_requests_base_version_id_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["models.id"],
            name=op.f("fk_promotion_requests_model_id_models"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["versions.id"], name=op.f("fk_promotion_requests_version_id_versions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_requests")),
    )
    with op.batch_alter_table("promotion_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_promotion_requests_model_id_alias_state"),
            ["model_id", "alias", "state"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_promotion_requests_state"), ["state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_promotion_requests_version_id"), ["version_id"], unique=False
        )

    op.create_table(
        "version_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=71), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("posted_by", sa.String(length=128), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.id"],
            name=op.f("fk_version_checks_version_id_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_version_checks")),
    )
    with op.batch_alter_table("version_checks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_version_checks_version_id_name"), ["version_id", "name"], unique=False
        )

    op.create_table(
        "request_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("principal", sa.String(length=128), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["promotion_requests.id"],
            name=op.f("fk_request_comments_request_id_promotion_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_comments")),
    )
    with op.batch_alter_table("request_comments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_request_comments_request_id"), ["request_id"], unique=False
        )

    op.create_table(
        "request_evaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["promotion_requests.id"],
            name=op.f("fk_request_evaluations_request_id_promotion_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_evaluations")),
    )
    with op.batch_alter_table("request_evaluations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_request_evaluations_request_id"), ["request_id"], unique=False
        )

    op.create_table(
        "request_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("principal", sa.String(length=128), nullable=False),
        sa.Column("verdict", sa.String(length=8), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["promotion_requests.id"],
            name=op.f("fk_request_reviews_request_id_promotion_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_reviews")),
    )
    with op.batch_alter_table("request_reviews", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_request_reviews_request_id"), ["request_id"], unique=False
        )

    op.create_table(
        "request_waivers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("requirement", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["promotion_requests.id"],
            name=op.f("fk_request_waivers_request_id_promotion_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_waivers")),
    )
    with op.batch_alter_table("request_waivers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_request_waivers_request_id"), ["request_id"], unique=False
        )

    with op.batch_alter_table("alias_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.Integer(), nullable=True))

    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="active", nullable=False)
        )
        batch_op.add_column(sa.Column("status_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("status_replacement", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("status_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("status_by", sa.String(length=128), nullable=True))

    protected = sa.table(
        "protected_aliases",
        sa.column("kind", sa.String),
        sa.column("scope", sa.String),
        sa.column("alias", sa.String),
        sa.column("created_at", UTCDateTime()),
        sa.column("created_by", sa.String),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        protected,
        [
            {
                "kind": "prefix",
                "scope": "",
                "alias": alias,
                "created_at": now,
                "created_by": "modeldepot",
            }
            for alias in ("staging", "production")
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.drop_column("status_by")
        batch_op.drop_column("status_at")
        batch_op.drop_column("status_replacement")
        batch_op.drop_column("status_reason")
        batch_op.drop_column("status")

    with op.batch_alter_table("alias_events", schema=None) as batch_op:
        batch_op.drop_column("request_id")

    with op.batch_alter_table("request_waivers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_request_waivers_request_id"))

    op.drop_table("request_waivers")
    with op.batch_alter_table("request_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_request_reviews_request_id"))

    op.drop_table("request_reviews")
    with op.batch_alter_table("request_evaluations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_request_evaluations_request_id"))

    op.drop_table("request_evaluations")
    with op.batch_alter_table("request_comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_request_comments_request_id"))

    op.drop_table("request_comments")
    with op.batch_alter_table("version_checks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_version_checks_version_id_name"))

    op.drop_table("version_checks")
    with op.batch_alter_table("promotion_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_promotion_requests_version_id"))
        batch_op.drop_index(batch_op.f("ix_promotion_requests_state"))
        batch_op.drop_index(batch_op.f("ix_promotion_requests_model_id_alias_state"))

    op.drop_table("promotion_requests")
    op.drop_table("protected_aliases")
    op.drop_table("policies")
    op.drop_table("freezes")
