"""External checks, like commit statuses: CI or a person posts ``bias-audit: pass`` on a
version, with a link and details. A result is bound to the digest of the content it
ran on, so it cannot be replayed onto other content; the last result of each name
counts. Posting one re-evaluates the open requests for that version."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, insert, select

from modeldepot.db.tables import promotion_requests, version_checks
from modeldepot.errors import CheckDigestMismatch
from modeldepot.governance.evaluation import latest_checks
from modeldepot.governance.request_facts import OPEN_STATES
from modeldepot.governance.requests import RequestService
from modeldepot.metadata import reject_nul
from modeldepot.registry.lookup import model_row, version_row
from modeldepot.registry.unit import Units
from modeldepot.schemas.governance import CheckCreate, CheckRead
from modeldepot.security.context import Context
from modeldepot.security.roles import Permission


class CheckService:
    def __init__(self, units: Units, requests: RequestService) -> None:
        self.units = units
        self.requests = requests

    def post(self, ctx: Context, name: str, number: int, data: CheckCreate) -> CheckRead:
        url = reject_nul("url", data.url)
        details = reject_nul("details", data.details)
        with self.units.write(ctx) as uow:
            uow.require(Permission.CHECK_POST, name)
            conn = uow.conn
            model = model_row(conn, name)
            version = version_row(conn, model, number)
            if data.digest != version.digest:
                raise CheckDigestMismatch(
                    f"the check ran on {data.digest}, but {name}:{number} is {version.digest}",
                    digest=version.digest,
                )
            conn.execute(
                insert(version_checks).values(
                    version_id=version.id,
                    digest=version.digest,
                    name=data.name,
                    state=data.state,
                    url=url,
                    details=details,
                    posted_by=ctx.name,
                    at=uow.now,
                )
            )
            uow.record(
                "check.post",
                f"{name}:{number}/{data.name}",
                model=name,
                after={
                    "name": data.name,
                    "state": data.state,
                    "digest": version.digest,
                    "url": url,
                },
            )
            waiting = conn.execute(
                select(promotion_requests.c.id).where(
                    promotion_requests.c.version_id == version.id,
                    promotion_requests.c.state.in_(OPEN_STATES),
                )
            ).scalars()
            for request_id in list(waiting):
                self.requests.reevaluate(uow, request_id)
            return check_read(
                name, number, latest_checks(conn, version.id, version.digest)[data.name]
            )

    def list_checks(self, ctx: Context, name: str, number: int) -> list[CheckRead]:
        """The last result of each check posted on the version's content."""
        with self.units.read(ctx) as reading:
            reading.require(Permission.MODEL_READ, name)
            conn = reading.conn
            version = version_row(conn, model_row(conn, name), number)
            rows = latest_checks(conn, version.id, version.digest)
        return [check_read(name, number, r) for r in sorted(rows.values(), key=lambda r: r.name)]


def check_read(model: str, number: int, row: Row[Any]) -> CheckRead:
    """A ``version_checks`` row on the wire."""
    return CheckRead(
        model=model,
        version=number,
        name=row.name,
        state=row.state,
        digest=row.digest,
        url=row.url,
        details=row.details,
        posted_by=row.posted_by,
        at=row.at,
    )
