"""The SDK's governance calls: promotion requests, rollbacks, reviews, waivers, external
checks, and metrics added to a version after its push.

``RequestsMixin`` is part of ``Client``; each method is one REST call (or a walk over
the pages of a list). ``promote`` takes any reference to a version (``name:7``,
``name@staging``, ``name@sha256:…``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

if TYPE_CHECKING:
    from pydantic import BaseModel

    from modeldepot.client.http import Http
    from modeldepot.refs import Ref
    from modeldepot.schemas import VersionRead
    from modeldepot.schemas.governance import CheckRead, RequestDetail, RequestRead

M = TypeVar("M", bound="BaseModel")


def _model(name: str) -> str:
    return "/models/" + quote(name, safe="/")


class RequestsMixin:
    http: Http

    if TYPE_CHECKING:

        def _call(self, schema: type[M], method: str, path: str, **kwargs: Any) -> M: ...
        def _pages(
            self, schema: type[M], path: str, params: dict[str, Any], limit: int | None
        ) -> Iterator[M]: ...
        def _numbered(
            self, ref: str | Ref, *, include_deleted: bool = False
        ) -> tuple[str, int]: ...

    def promote(self, ref: str | Ref, to: str, *, reason: str = "") -> RequestDetail:
        """Open a request to point alias ``to`` at the version ``ref`` names."""
        from modeldepot.schemas.governance import RequestDetail

        name, number = self._numbered(ref)
        body = {"version": number, "alias": to, "reason": reason}
        return self._call(RequestDetail, "POST", f"{_model(name)}/-/requests", json=body)

    def rollback(self, name: str, alias: str, *, reason: str = "") -> RequestDetail:
        """Open a request to move ``alias`` of ``name`` back to its previous version."""
        from modeldepot.schemas.governance import RequestDetail

        body = {"alias": alias, "reason": reason}
        return self._call(RequestDetail, "POST", f"{_model(name)}/-/rollback", json=body)

    def requests(
        self,
        *,
        state: str | None = "open",
        model: str | None = None,
        alias: str | None = None,
        requested_by: str | None = None,
        waiting_for_me: bool = False,
        limit: int | None = None,
    ) -> list[RequestRead]:
        """Requests, newest first: ``state`` one state, ``open`` (the default: open or
        approved), ``closed`` or ``all``; ``waiting_for_me`` the ones I may approve."""
        from modeldepot.schemas.governance import RequestRead

        params: dict[str, Any] = {"state": state or "all"}
        for key, value in (("model", model), ("alias", alias), ("requested_by", requested_by)):
            if value is not None:
                params[key] = value
        if waiting_for_me:
            params["waiting_for"] = "me"
        return list(self._pages(RequestRead, "/requests", params, limit))

    def request(self, request_id: int) -> RequestDetail:
        """One request at a glance: requirements, reviews, comments, checks, the diff."""
        from modeldepot.schemas.governance import RequestDetail

        return self._call(RequestDetail, "GET", f"/requests/{int(request_id)}")

    def approve(self, request_id: int, comment: str = "") -> RequestDetail:
        return self._act(request_id, "reviews", {"verdict": "approve", "comment": comment})

    def reject(self, request_id: int, comment: str = "") -> RequestDetail:
        return self._act(request_id, "reviews", {"verdict": "reject", "comment": comment})

    def comment_request(self, request_id: int, body: str) -> RequestDetail:
        return self._act(request_id, "comments", {"body": body})

    def cancel_request(self, request_id: int, reason: str = "") -> RequestDetail:
        return self._act(request_id, "cancel", {"reason": reason})

    def apply_request(self, request_id: int) -> RequestDetail:
        """Move the alias; ``REQUEST_NOT_READY`` (with ``missing``) until the policy is met."""
        return self._act(request_id, "apply", None)

    def waive(
        self, request_id: int, requirement: str, *, reason: str, hours: float
    ) -> RequestDetail:
        """Waive a failing rule, check, stage or window requirement for ``hours``."""
        body = {"requirement": requirement, "reason": reason, "expires_in_hours": hours}
        return self._act(request_id, "waivers", body)

    def _act(self, request_id: int, what: str, body: dict[str, Any] | None) -> RequestDetail:
        from modeldepot.schemas.governance import RequestDetail

        kwargs = {} if body is None else {"json": body}
        return self._call(RequestDetail, "POST", f"/requests/{int(request_id)}/{what}", **kwargs)

    def post_check(
        self,
        ref: str | Ref,
        name: str,
        state: str,
        *,
        digest: str | None = None,
        url: str = "",
        details: str = "",
    ) -> CheckRead:
        """Post an external check result (``pending``, ``pass``, ``fail``) on a version.
        ``digest`` is the content the check ran on (default: the version's, read now)."""
        from modeldepot.schemas.governance import CheckRead

        model, number = self._numbered(ref)
        if digest is None:
            digest = self.get_version(f"{model}:{number}").digest  # type: ignore[attr-defined]
        body = {"name": name, "state": state, "digest": digest, "url": url, "details": details}
        path = f"{_model(model)}/-/versions/{number}/checks"
        return self._call(CheckRead, "POST", path, json=body)

    def checks(self, ref: str | Ref) -> list[CheckRead]:
        """The last result of each check posted on the version."""
        from modeldepot.schemas.governance import CheckRead

        model, number = self._numbered(ref)
        rows = self.http.request("GET", f"{_model(model)}/-/versions/{number}/checks").json()
        return [CheckRead.model_validate(r) for r in rows]

    def add_metrics(
        self,
        ref: str | Ref,
        metrics: Mapping[str, float] | None = None,
        *,
        slices: Sequence[Mapping[str, Any]] = (),
    ) -> VersionRead:
        """Record metrics on a version after its push (never replacing recorded ones);
        ``slices``: ``{"name", "value", "slice", "dataset"}`` per slice or dataset."""
        from modeldepot.schemas import VersionRead

        model, number = self._numbered(ref)
        body = {"metrics": dict(metrics or {}), "slices": [dict(s) for s in slices]}
        path = f"{_model(model)}/-/versions/{number}/metrics"
        return self._call(VersionRead, "POST", path, json=body)
