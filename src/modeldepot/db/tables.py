"""The relational schema. Alembic migrations in ``migrations/versions`` create it.

Soft-deleted rows keep their data and carry ``deleted_at``/``deleted_by``. Every
mutation records ``*_by`` (the actor's name) and ``*_at`` (UTC).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from modeldepot.db.types import UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

DIGEST = String(71)
ACTOR = String(128)

models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("last_version_number", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", ACTOR, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", ACTOR, nullable=False),
    Column("deleted_at", UTCDateTime),
    Column("deleted_by", ACTOR),
)

model_tags = Table(
    "model_tags",
    metadata,
    Column("model_id", ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", String(1000), nullable=False),
    Index(None, "key", "value"),
)

versions = Table(
    "versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("digest", DIGEST, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("total_size", BigInteger, nullable=False),
    Column("file_count", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", ACTOR, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", ACTOR, nullable=False),
    Column("deleted_at", UTCDateTime),
    Column("deleted_by", ACTOR),
    # Client-chosen id of the push that created the version: retrying a commit whose
    # answer was lost returns the version it made instead of making a second one.
    Column("push_id", String(64)),
    UniqueConstraint("model_id", "number"),
    UniqueConstraint("model_id", "push_id"),
    Index(None, "digest"),
)

version_tags = Table(
    "version_tags",
    metadata,
    Column("version_id", ForeignKey("versions.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", String(1000), nullable=False),
    Index(None, "key", "value"),
)

version_params = Table(
    "version_params",
    metadata,
    Column("version_id", ForeignKey("versions.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", JSON, nullable=False),
)

version_metrics = Table(
    "version_metrics",
    metadata,
    Column("version_id", ForeignKey("versions.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", Float, nullable=False),
    Index(None, "key", "value"),
)

version_files = Table(
    "version_files",
    metadata,
    Column("version_id", ForeignKey("versions.id", ondelete="CASCADE"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("digest", DIGEST, nullable=False),
    Column("media_type", String(255)),
    Index(None, "digest"),
)

blobs = Table(
    "blobs",
    metadata,
    Column("digest", DIGEST, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Refreshed whenever a push relies on the blob; GC spares blobs touched recently.
    Column("touched_at", UTCDateTime, nullable=False, index=True),
    # Set by garbage collection before it deletes the bytes: from then on the blob
    # counts as absent, and an upload of the same bytes clears it.
    Column("collecting_at", UTCDateTime),
)

uploads = Table(
    "uploads",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("digest", DIGEST, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", ACTOR, nullable=False),
    Column("touched_at", UTCDateTime, nullable=False, index=True),
)

aliases = Table(
    "aliases",
    metadata,
    Column("model_id", ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(63), primary_key=True),
    Column("version_id", ForeignKey("versions.id"), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", ACTOR, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", ACTOR, nullable=False),
)

alias_events = Table(
    "alias_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
    Column("alias", String(63), nullable=False),
    Column("from_version_id", ForeignKey("versions.id")),
    Column("to_version_id", ForeignKey("versions.id")),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", ACTOR, nullable=False),
    Index(None, "model_id", "alias", "at"),
)
