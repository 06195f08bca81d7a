"""The governance tables: protected aliases, policies and their versions, promotion
requests with their reviews, comments, evaluations and waivers, external checks and
change freezes. Same metadata as ``db/tables.py``, which re-exports them; migration
0008 creates them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
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

# A protected alias moves only when a promotion request is applied. ``kind`` "prefix":
# every model under ``scope`` ("" is every model); "model": the model named ``scope``.
protected_aliases = Table(
    "protected_aliases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("scope", String(200), nullable=False),
    Column("alias", String(63), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", ACTOR, nullable=False),
    UniqueConstraint("kind", "scope", "alias"),
)

# Every version of every policy; the highest version of a name is in force unless it
# is a removal. Selection columns are copied out of the spec for lookup.
policies = Table(
    "policies",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("alias", String(63), nullable=False),
    Column("prefix", String(200), nullable=False),
    Column("risk_levels", String(200), nullable=False, default=""),  # "" = any
    Column("source", Text, nullable=False),  # the YAML as applied
    Column("spec", JSON, nullable=False),  # its validated, normalised form
    Column("removed", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", ACTOR, nullable=False),
    UniqueConstraint("name", "version"),
)

promotion_requests = Table(
    "promotion_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
    Column("alias", String(63), nullable=False),
    Column("version_id", ForeignKey("versions.id"), nullable=False),
    # What the alias pointed at when the request was opened (None: unset).
    Column("base_version_id", ForeignKey("versions.id")),
    Column("kind", String(16), nullable=False),  # promote | rollback
    Column("reason", Text, nullable=False, default=""),
    # open | approved | rejected | cancelled | superseded | applied | expired
    Column("state", String(16), nullable=False),
    Column("revision", Integer, nullable=False, default=1),
    Column("requested_by", ACTOR, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime),
    Column("closed_by", ACTOR),
    Column("close_reason", Text),
    Column("policy_name", String(128)),
    Column("policy_version", Integer),
    Index(None, "model_id", "alias", "state"),
    Index(None, "state"),
    Index(None, "version_id"),
)

request_reviews = Table(
    "request_reviews",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "request_id",
        ForeignKey("promotion_requests.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("principal", ACTOR, nullable=False),
    Column("verdict", String(8), nullable=False),  # approve | reject
    Column("revision", Integer, nullable=False),
    Column("groups", JSON, nullable=False, default=list),  # the reviewer's groups then
    Column("comment", Text, nullable=False, default=""),
    Column("at", UTCDateTime, nullable=False),
)

request_comments = Table(
    "request_comments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "request_id",
        ForeignKey("promotion_requests.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("principal", ACTOR, nullable=False),
    Column("body", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
)

# Each evaluation of a request: every requirement with what it saw and what it found.
request_evaluations = Table(
    "request_evaluations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "request_id",
        ForeignKey("promotion_requests.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("at", UTCDateTime, nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("results", JSON, nullable=False),
)

request_waivers = Table(
    "request_waivers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "request_id",
        ForeignKey("promotion_requests.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("requirement", String(200), nullable=False),  # e.g. "rule:fairness"
    Column("reason", Text, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", ACTOR, nullable=False),
)

# External checks (like commit statuses), bound to the content they were run on.
version_checks = Table(
    "version_checks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version_id", ForeignKey("versions.id", ondelete="CASCADE"), nullable=False),
    Column("digest", DIGEST, nullable=False),
    Column("name", String(100), nullable=False),
    Column("state", String(16), nullable=False),  # pending | pass | fail
    Column("url", Text, nullable=False, default=""),
    Column("details", Text, nullable=False, default=""),
    Column("posted_by", ACTOR, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index(None, "version_id", "name"),
)

# A change freeze over a namespace prefix ("" is everything), declared by an admin.
freezes = Table(
    "freezes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("prefix", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime),  # None: until lifted
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", ACTOR, nullable=False),
    Column("lifted_at", UTCDateTime),
    Column("lifted_by", ACTOR),
)
