"""The relational schema. Alembic migrations in ``migrations/versions`` create it.

Soft-deleted rows keep their data and carry ``deleted_at``/``deleted_by``. Every
mutation records ``*_by`` (the actor's name) and ``*_at`` (UTC).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from modeldepot.db.metadata import ACTOR, DIGEST, metadata
from modeldepot.db.types import UTCDateTime

models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("last_version_number", Integer, nullable=False, default=0),
    Column("owner", String(128), index=True),
    Column("contacts", JSON, nullable=False, default=list),
    Column("risk_level", String(16), index=True),
    Column("risk_reason", Text, nullable=False, default=""),
    # The model card (Markdown, optional YAML front matter) and its completeness, 0 to 1.
    Column("card", Text),
    Column("card_completeness", Float),
    Column("created_at", UTCDateTime, nullable=False, index=True),
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
    # Detected or declared model format (``sklearn``, ``onnx``, ``safetensors`` …).
    Column("format", String(32), index=True),
    # Lineage that is read whole, never searched: code, environment, format details,
    # signature, input example and its expected output.
    Column("lineage", JSON, nullable=False, default=dict),
    Column("card", Text),
    Column("card_completeness", Float),
    # Lifecycle (governance/lifecycle.py): active, deprecated (pulls warn and name the
    # replacement) or revoked (pulls refused unless allowed; never promoted).
    Column("status", String(16), nullable=False, server_default="active"),
    Column("status_reason", Text),
    Column("status_replacement", Integer),  # the number of the version to use instead
    Column("status_at", UTCDateTime),
    Column("status_by", ACTOR),
    UniqueConstraint("model_id", "number"),
    UniqueConstraint("model_id", "push_id"),
    Index(None, "digest"),
    Index(None, "created_at"),
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
    # A scalar, or nested JSON objects and lists (the configuration as the user wrote it).
    Column("value", JSON, nullable=False),
)

# Every scalar leaf of a version's params under its dotted path (``optimizer.lr``), typed
# so that search compares numbers as numbers: the index search uses, derived from
# ``version_params`` in the same transaction. Strings longer than PARAM_INDEX_TEXT are
# not indexed (an index entry must stay small on PostgreSQL).
PARAM_INDEX_TEXT = 500
version_param_leaves = Table(
    "version_param_leaves",
    metadata,
    Column("version_id", ForeignKey("versions.id", ondelete="CASCADE"), primary_key=True),
    Column("path", String(512), primary_key=True),
    Column("kind", String(8), nullable=False),  # number | string | boolean
    Column("num", Float),
    Column("text", String(PARAM_INDEX_TEXT)),
    Index(None, "path", "num"),
    Index(None, "path", "text"),
)

version_metrics = Table(
    "version_metrics",
    metadata,
    Column("version_id", ForeignKey("versions.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(128), primary_key=True),
    # "" for the headline value; otherwise the slice it was computed on ("sex=female").
    Column("slice", String(200), primary_key=True, default=""),
    Column("value", Float, nullable=False),
    Column("dataset_id", ForeignKey("datasets.id"), index=True),
    Index(None, "key", "slice", "value"),
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
    Column("size", BigInteger, nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    # Refreshed whenever a push relies on the blob; GC spares blobs touched recently.
    Column("touched_at", UTCDateTime, nullable=False, index=True),
    # Set by garbage collection before it deletes the bytes: from then on the blob
    # counts as absent, and an upload of the same bytes clears it.
    Column("collecting_at", UTCDateTime),
    # The blob's sample digest (modeldepot.sample), computed when first asked for; NULL
    # until then and for blobs too small to have one.
    Column("sample", DIGEST),
)

uploads = Table(
    "uploads",
    metadata,
    Column("id", String(32), primary_key=True),
    # NULL for a session whose digest comes with its completion (a streamed upload).
    Column("digest", DIGEST),
    Column("size", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", ACTOR, nullable=False),
    Column("touched_at", UTCDateTime, nullable=False, index=True),
    # Presigned sessions: the size of the parts clients PUT to the store (else NULL).
    Column("part_size", BigInteger),
    # Who opened it (``UploadQuota.client``), counted against that client's limit.
    Column("client", ACTOR, index=True),
    # The model namespace it uploads for; NULL: for the whole registry.
    Column("model", String(200)),
)

# Which model namespaces a blob was uploaded for (verified): those who may read one of
# them may read the blob, as may those who may read a version listing it.
blob_links = Table(
    "blob_links",
    metadata,
    Column("digest", DIGEST, primary_key=True),
    Column("model", String(200), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", ACTOR, nullable=False),
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
    # The promotion request whose application moved a protected alias.
    Column("request_id", Integer),
    Index(None, "model_id", "alias", "at"),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uri", String(1000), nullable=False),
    # "sha256:…" (or another algorithm's digest) of the data; "" when none was given.
    Column("digest", String(200), nullable=False, default=""),
    Column("name", String(200), nullable=False, default=""),
    Column("size", BigInteger),
    Column("personal_data", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", ACTOR, nullable=False),
    UniqueConstraint("uri", "digest"),
)

version_datasets = Table(
    "version_datasets",
    metadata,
    Column("version_id", ForeignKey("versions.id", ondelete="CASCADE"), primary_key=True),
    Column("dataset_id", ForeignKey("datasets.id"), primary_key=True, index=True),
    Column("role", String(16), primary_key=True),  # train | validation | test | other
)

# Edges from a version to the versions it came from (derived_from) or uses (depends_on).
version_relations = Table(
    "version_relations",
    metadata,
    Column("version_id", ForeignKey("versions.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("target_id", ForeignKey("versions.id"), primary_key=True, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", ACTOR, nullable=False),
)

version_pulls = Table(
    "version_pulls",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version_id", ForeignKey("versions.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", ACTOR, nullable=False),
    Index(None, "version_id", "actor"),
)

# People (``user``) and machines (``service``) who authenticate. A user may have a
# password (argon2id, for the web UI); both authenticate with API tokens.
principals = Table(
    "principals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # user | service
    Column("display_name", String(200), nullable=False, default=""),
    Column("password_hash", String(200)),
    Column("disabled_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", ACTOR, nullable=False),
)

groups = Table(
    "groups",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", ACTOR, nullable=False),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "principal_id",
        ForeignKey("principals.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)

# A role on a namespace prefix ("" is the root), held by a principal or by a group.
grants = Table(
    "grants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("principal_id", ForeignKey("principals.id", ondelete="CASCADE"), index=True),
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), index=True),
    Column("prefix", String(200), nullable=False),
    Column("role", Integer, nullable=False),  # modeldepot.security.roles.Role
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", ACTOR, nullable=False),
    UniqueConstraint("principal_id", "group_id", "prefix"),
)

# API tokens: ``mdp_<id>_<secret>``; only the SHA-256 of the secret is kept.
tokens = Table(
    "tokens",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("principal_id", ForeignKey("principals.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("scope_prefix", String(200)),
    Column("scope_role", Integer),
    Column("expires_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Column("revoked_by", ACTOR),
    Column("last_used_at", UTCDateTime),
    Column("last_used_from", String(64)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", ACTOR, nullable=False),
    Index(None, "principal_id", "revoked_at"),
)

# The audit log and event stream: one row per change, in commit order. ``record`` is
# the change as RFC 8785 canonical JSON (it holds ``prev``, the previous record's
# hash); ``hash`` is its SHA-256. The other columns repeat fields of ``record`` so
# they can be filtered; ``audit verify`` checks they agree with it.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("principal", ACTOR, nullable=False, index=True),
    Column("action", String(64), nullable=False, index=True),
    Column("target", String(1200), nullable=False),
    Column("model", String(200), index=True),
    Column("record", Text, nullable=False),
    Column("hash", String(64), nullable=False),
)

# The head of the chain: one row, locked by each appending transaction just before it
# commits, so sequence numbers follow commit order on every replica.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    # The hash before the last append (see audit/chain.py: PostgreSQL appends a record
    # in one statement, which reads the previous hash back from here).
    Column("prev_hash", String(64), nullable=False),
)

# Signed statements "the chain's record ``seq`` has hash ``hash``" (Ed25519, by a key
# kept outside the database): an attacker who rewrites the chain cannot re-sign them.
audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
)

# The text free-text search reads: one row per model (version_id NULL) and per version.
# SQLite indexes ``body`` in the FTS5 table ``search_fts`` (kept in step by triggers),
# PostgreSQL in a GIN index on its ``tsvector``; migration 0002 creates both, which are
# dialect-specific and so not declared here (see DIALECT_OBJECTS).
search_documents = Table(
    "search_documents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", ForeignKey("models.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("version_id", ForeignKey("versions.id", ondelete="CASCADE"), unique=True),
    Column("body", Text, nullable=False),
)

FTS_CONFIG = "english"  # PostgreSQL text-search configuration; SQLite uses porter.
DIALECT_OBJECTS = frozenset(
    {
        "search_fts",
        "search_fts_data",
        "search_fts_idx",
        "search_fts_docsize",
        "search_fts_config",
        "ix_search_documents_tsv",
    }
)


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic filter: leave the dialect-specific search objects to the migrations."""
    return name not in DIALECT_OBJECTS


# The governance tables (protected aliases, policies, requests, checks, freezes) are in
# a module of their own, on the same metadata; imported here so that every importer of
# the schema sees them.
from modeldepot.db.governance_tables import (  # noqa: E402
    freezes,
    policies,
    promotion_requests,
    protected_aliases,
    request_comments,
    request_evaluations,
    request_reviews,
    request_waivers,
    version_checks,
)

__all__ = [
    "ACTOR",
    "DIGEST",
    "freezes",
    "metadata",
    "policies",
    "promotion_requests",
    "protected_aliases",
    "request_comments",
    "request_evaluations",
    "request_reviews",
    "request_waivers",
    "version_checks",
]
