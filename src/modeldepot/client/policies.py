"""The SDK's policy and freeze calls (docs/policies.md).

``PoliciesMixin`` is part of ``Client``: apply, read, compare and remove policies as
code; declare, list and lift change freezes. Each method is one REST call.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

if TYPE_CHECKING:
    from pydantic import BaseModel

    from modeldepot.client.http import Http
    from modeldepot.schemas.policies import FreezeRead, PolicyRead

M = TypeVar("M", bound="BaseModel")


def _policy(name: str) -> str:
    return f"/policies/{quote(name, safe='')}"


class PoliciesMixin:
    http: Http

    if TYPE_CHECKING:

        def _call(self, schema: type[M], method: str, path: str, **kwargs: Any) -> M: ...
        def _pages(
            self, schema: type[M], path: str, params: dict[str, Any], limit: int | None
        ) -> Iterator[M]: ...

    def apply_policy(self, source: str | Path) -> PolicyRead:
        """Apply a policy's YAML (text, or a path to a file): its new version, or the
        version in force when nothing changed."""
        return self.apply_policy_changed(source)[0]

    def apply_policy_changed(self, source: str | Path) -> tuple[PolicyRead, bool]:
        """``apply_policy``, and whether it made a new version (False: unchanged)."""
        from modeldepot.schemas.policies import PolicyRead

        text = source.read_text(encoding="utf-8") if isinstance(source, Path) else source
        # Applying the same source twice makes one version: safe to retry.
        answer = self.http.request("POST", "/policies", json={"source": text}, idempotent=True)
        return PolicyRead.model_validate(answer.json()), answer.status_code == 201

    def list_policies(self, *, limit: int | None = None) -> list[PolicyRead]:
        """The policies in force, by name (all, or the first ``limit``)."""
        from modeldepot.schemas.policies import PolicyRead

        return list(self._pages(PolicyRead, "/policies", {}, limit))

    def get_policy(self, name: str, version: int | None = None) -> PolicyRead:
        """The version in force of policy ``name``, or its version ``version``."""
        from modeldepot.schemas.policies import PolicyRead

        path = _policy(name) + (f"/versions/{version}" if version is not None else "")
        return self._call(PolicyRead, "GET", path)

    def policy_history(self, name: str) -> list[PolicyRead]:
        """Every version of policy ``name``, oldest first (removals included)."""
        from modeldepot.schemas.policies import PolicyRead

        items = self.http.request("GET", _policy(name) + "/versions").json()
        return [PolicyRead.model_validate(item) for item in items]

    def diff_policy(self, name: str, from_version: int, to_version: int) -> str:
        """A unified diff of two versions' YAML sources ("" when the same)."""
        params = {"from": from_version, "to": to_version}
        answer = self.http.request("GET", _policy(name) + "/diff", params=params).json()
        return str(answer["diff"])

    def remove_policy(self, name: str) -> PolicyRead:
        """Remove policy ``name``; answers the removal version."""
        from modeldepot.schemas.policies import PolicyRead

        return self._call(PolicyRead, "DELETE", _policy(name))

    def create_freeze(
        self,
        prefix: str,
        reason: str,
        *,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
    ) -> FreezeRead:
        """Freeze namespace ``prefix`` ("" or "/" is everything) from ``starts_at``
        (default now) until ``ends_at`` (default: until lifted)."""
        from modeldepot.schemas.policies import FreezeRead

        body = {
            "prefix": prefix,
            "reason": reason,
            "starts_at": starts_at.isoformat() if starts_at is not None else None,
            "ends_at": ends_at.isoformat() if ends_at is not None else None,
        }
        return self._call(FreezeRead, "POST", "/freezes", json=body)

    def list_freezes(self, *, everyone: bool = False, limit: int | None = None) -> list[FreezeRead]:
        """Freezes in force or scheduled, newest first (every one with ``everyone``)."""
        from modeldepot.schemas.policies import FreezeRead

        params = {"all": "true"} if everyone else {}
        return list(self._pages(FreezeRead, "/freezes", params, limit))

    def lift_freeze(self, freeze_id: int) -> FreezeRead:
        """Lift freeze ``freeze_id`` now."""
        from modeldepot.schemas.policies import FreezeRead

        return self._call(FreezeRead, "DELETE", f"/freezes/{freeze_id}")
