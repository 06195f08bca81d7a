"""The SDK's protected-alias calls.

``ProtectionsMixin`` is part of ``Client``: list the rules saying which aliases move only
by applying a promotion request, add one for a model or a prefix, remove one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from modeldepot.errors import InvalidInput

if TYPE_CHECKING:
    from pydantic import BaseModel

    from modeldepot.client.http import Http
    from modeldepot.schemas.governance import ProtectionRead

M = TypeVar("M", bound="BaseModel")


def rule_scope(model: str | None, prefix: str | None) -> tuple[str, str]:
    """(kind, scope) of a rule on exactly one of ``model`` and ``prefix`` (``"/"`` or
    ``""``: every model)."""
    if (model is None) == (prefix is None):
        raise InvalidInput("name either a model or a prefix (`/` for every model)")
    return ("model", model) if model is not None else ("prefix", prefix or "")


class ProtectionsMixin:
    http: Http

    if TYPE_CHECKING:  # Client's own

        def _call(self, schema: type[M], method: str, path: str, **kwargs: Any) -> M: ...

    def protections(self, model: str | None = None) -> list[ProtectionRead]:
        """Every protection rule, or those covering ``model`` (its own and its prefixes')."""
        from modeldepot.schemas.governance import ProtectionRead

        params = {"model": model} if model is not None else {}
        response = self.http.request("GET", "/protections", params=params)
        return [ProtectionRead.model_validate(item) for item in response.json()]

    def protect(
        self, model: str | None = None, *, prefix: str | None = None, alias: str
    ) -> ProtectionRead:
        """Protect ``alias`` of ``model`` (a maintainer of it may) or of every model under
        ``prefix`` (an admin of the prefix may): from then on it moves only by applying
        a promotion request. Protecting twice is a no-op."""
        from modeldepot.schemas.governance import ProtectionRead

        kind, scope = rule_scope(model, prefix)
        body = {"kind": kind, "scope": scope, "alias": alias}
        return self._call(ProtectionRead, "POST", "/protections", json=body)

    def unprotect(self, model: str | None = None, *, prefix: str | None = None, alias: str) -> None:
        """Remove the rule protecting ``alias`` of ``model`` or under ``prefix`` (an
        admin's act); ProtectionNotFound if there is no such rule. A rule of a prefix
        still protects the model's alias after its own rule is removed."""
        kind, scope = rule_scope(model, prefix)
        params = {"kind": kind, "scope": scope, "alias": alias}
        self.http.request("DELETE", "/protections", params=params)
