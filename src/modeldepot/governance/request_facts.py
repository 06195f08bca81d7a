"""What a promotion request is about, read from the database: shared by the request
service (``governance/requests.py``), its read side and its followers."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, Row, select

from modeldepot.db.tables import (
    alias_events,
    aliases,
    group_members,
    groups,
    models,
    principals,
    promotion_requests,
    versions,
)
from modeldepot.errors import InvalidInput, RequestClosed, RequestNotFound
from modeldepot.governance.evaluation import Subject
from modeldepot.governance.policies import Policy, policy_version
from modeldepot.metadata import reject_nul

OPEN_STATES = ("open", "approved")
MAX_TEXT = 4000


def subject_of(conn: Connection, row: Row[Any], model_name: str) -> Subject:
    version = conn.execute(
        select(versions.c.digest, versions.c.created_by, versions.c.status).where(
            versions.c.id == row.version_id
        )
    ).one()
    return Subject(
        request_id=row.id,
        kind=row.kind,
        revision=row.revision,
        requested_by=row.requested_by,
        model_id=row.model_id,
        model_name=model_name,
        alias=row.alias,
        version_id=row.version_id,
        version_digest=version.digest,
        version_author=version.created_by,
        version_status=version.status,
        base_version_id=row.base_version_id,
        current_version_id=current_version_id(conn, row.model_id, row.alias),
    )


def policy_of(conn: Connection, row: Row[Any]) -> Policy | None:
    """The policy version the request was opened under."""
    if row.policy_name is None:
        return None
    return policy_version(conn, row.policy_name, row.policy_version)


def current_version_id(conn: Connection, model_id: int, alias: str) -> int | None:
    return conn.execute(
        select(aliases.c.version_id).where(aliases.c.model_id == model_id, aliases.c.name == alias)
    ).scalar()


def previous_version(
    conn: Connection, model_id: int, alias: str, skip: Collection[int] = ()
) -> Row[Any] | None:
    """The most recent version ``alias`` held, other than its current one and those in
    ``skip``, that is neither deleted nor revoked: where a rollback goes."""
    current = current_version_id(conn, model_id, alias)
    held = conn.execute(
        select(versions)
        .join(alias_events, alias_events.c.to_version_id == versions.c.id)
        .where(alias_events.c.model_id == model_id, alias_events.c.alias == alias)
        .order_by(alias_events.c.id.desc())
    ).all()
    for row in held:
        gone = row.deleted_at is not None or row.status == "revoked"
        if not gone and row.id != current and row.id not in skip:
            return row
    return None


def groups_of(conn: Connection, principal: str) -> set[str]:
    return set(
        conn.execute(
            select(groups.c.name)
            .join(group_members, group_members.c.group_id == groups.c.id)
            .join(principals, principals.c.id == group_members.c.principal_id)
            .where(principals.c.name == principal)
        ).scalars()
    )


def request_row(conn: Connection, request_id: int) -> Row[Any]:
    row = conn.execute(
        select(promotion_requests).where(promotion_requests.c.id == request_id)
    ).first()
    if row is None:
        raise not_found(request_id)
    return row


def not_found(request_id: int) -> RequestNotFound:
    return RequestNotFound(f"promotion request {request_id} does not exist", request=request_id)


def model_name_of(conn: Connection, model_id: int) -> str:
    return str(conn.execute(select(models.c.name).where(models.c.id == model_id)).scalar_one())


def require_open(row: Row[Any]) -> None:
    if row.state not in OPEN_STATES:
        raise RequestClosed(f"request {row.id} is {row.state}", request=row.id, state=row.state)


def number_of(conn: Connection, version_id: int | None) -> int | None:
    if version_id is None:
        return None
    return int(
        conn.execute(select(versions.c.number).where(versions.c.id == version_id)).scalar_one()
    )


def target_of(subject: Subject, request_id: int) -> str:
    return f"{subject.model_name}@{subject.alias}#{request_id}"


def checked_text(what: str, text: str, *, required: bool = False) -> str:
    text = reject_nul(what, text.strip())
    if required and not text:
        raise InvalidInput(f"a {what} is required")
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"the {what} is over {MAX_TEXT} characters")
    return text
