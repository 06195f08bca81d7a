"""The SDK's audit log and event stream calls.

``AuditMixin`` is part of ``Client``: list and export the audit log, ask the server to
verify its chain, read events after a cursor, and follow them (long polls).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlencode

if TYPE_CHECKING:
    from modeldepot.client.http import Http
    from modeldepot.schemas.audit import AuditRecordRead, AuditVerification, EventPage

# How long one long poll of ``follow_events`` waits on the server (under the client's
# 60 s read timeout, over what most proxies keep an idle request).
FOLLOW_WAIT_SECONDS = 25


def audit_params(
    *,
    model: str | None = None,
    prefix: str | None = None,
    principal: str | None = None,
    action: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> dict[str, Any]:
    """The query of the audit filters given (datetimes as ISO 8601)."""
    params = {
        "model": model,
        "prefix": prefix,
        "principal": principal,
        "action": action,
        "since": since.isoformat() if isinstance(since, datetime) else since,
        "until": until.isoformat() if isinstance(until, datetime) else until,
    }
    return {k: v for k, v in params.items() if v is not None}


class AuditMixin:
    http: Http

    if TYPE_CHECKING:  # Client's own

        def iter_json(
            self, path: str, params: dict[str, Any] | None = None, *, limit: int | None = None
        ) -> Iterator[dict[str, Any]]: ...

    def list_audit(self, *, limit: int | None = None, **filters: Any) -> list[AuditRecordRead]:
        """Audit records the caller may see, newest first (all, or the first ``limit``).
        ``filters``: ``model`` or ``prefix``, ``principal``, ``action`` (``alias.*``),
        ``since``, ``until``."""
        from modeldepot.schemas.audit import AuditRecordRead

        items = self.iter_json("/audit", audit_params(**filters), limit=limit)
        return [AuditRecordRead.model_validate(item) for item in items]

    def export_audit(self, out: IO[bytes], *, after: int = 0, **filters: Any) -> int:
        """Write the records the caller may see as JSON Lines, oldest first, to
        ``out`` as they stream in; return the number of lines."""
        query = urlencode({**audit_params(**filters), **({"after": after} if after else {})})
        lines = 0
        with self.http.download("/audit/export" + (f"?{query}" if query else "")) as answer:
            for chunk in answer.chunks():
                out.write(chunk)
                lines += bytes(chunk).count(b"\n")
        return lines

    def verify_audit(self) -> AuditVerification:
        """The server's walk of the whole chain and its checkpoints (registry admins)."""
        from modeldepot.schemas.audit import AuditVerification

        return AuditVerification.model_validate(self.http.request("GET", "/audit/verify").json())

    def events(
        self,
        *,
        after: int = 0,
        prefix: str | None = None,
        action: str | None = None,
        wait: float = 0,
        limit: int | None = None,
    ) -> EventPage:
        """Changes after ``after`` the caller may read, in commit order; with ``wait``
        the server holds the request up to that many seconds for one to arrive."""
        from modeldepot.schemas.audit import EventPage

        params = {"after": after, "prefix": prefix, "action": action, "limit": limit}
        if wait:
            params["wait"] = wait
        return EventPage.model_validate(self.http.request("GET", "/events", params=params).json())

    def follow_events(
        self, *, after: int = 0, prefix: str | None = None, action: str | None = None
    ) -> Iterator[AuditRecordRead]:
        """Every change after ``after``, then each one as it commits, for ever. Keep
        the ``seq`` of the last one handled: passing it as ``after`` later resumes
        with nothing missed."""
        while True:
            page = self.events(after=after, prefix=prefix, action=action, wait=FOLLOW_WAIT_SECONDS)
            yield from page.items
            after = page.next_after
