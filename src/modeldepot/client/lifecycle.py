"""The SDK's lifecycle calls: deprecate, revoke and reinstate versions, revoke every
version made from a dataset; and the warning a pull of a deprecated version gives.

``LifecycleMixin`` is part of ``Client``; each method is one REST call.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, TypeVar

from modeldepot.client.paths import version_path
from modeldepot.refs import Ref

if TYPE_CHECKING:
    from pydantic import BaseModel

    from modeldepot.schemas.lifecycle import RevocationPlan
    from modeldepot.schemas.versions import VersionRead

M = TypeVar("M", bound="BaseModel")


class VersionStatusWarning(UserWarning):
    """A pulled or loaded version is deprecated (or revoked, pulled with
    ``allow_revoked=True``): the message says why and what to use instead."""


def status_message(version: VersionRead) -> str | None:
    """One line on a version that is not active, or None: ``ads/m:3 is deprecated
    (reason); use ads/m:4 instead``."""
    if version.status == "active":
        return None
    ref = f"{version.model}:{version.number}"
    reason = f" ({version.status_reason})" if version.status_reason else ""
    instead = (
        f"; use {version.model}:{version.replacement} instead"
        if version.replacement is not None
        else ""
    )
    return f"{ref} is {version.status}{reason}{instead}"


def warn_status(version: VersionRead, *, stacklevel: int = 3) -> None:
    """Warn (VersionStatusWarning) when ``version`` is deprecated or revoked."""
    message = status_message(version)
    if message is not None:
        warnings.warn(message, VersionStatusWarning, stacklevel=stacklevel)


class LifecycleMixin:
    if TYPE_CHECKING:

        def _call(self, schema: type[M], method: str, path: str, **kwargs: Any) -> M: ...
        def _numbered(
            self, ref: str | Ref, *, include_deleted: bool = False
        ) -> tuple[str, int]: ...

    def deprecate_version(
        self, ref: str | Ref, reason: str, *, replacement: int | None = None
    ) -> VersionRead:
        """Deprecate the version ``ref`` names: pulls still work and warn, naming
        ``replacement`` (a version number of the same model) if given."""
        body = {"reason": reason, "replacement": replacement}
        return self._status(ref, "deprecate", body)

    def revoke_version(self, ref: str | Ref, reason: str) -> VersionRead:
        """Revoke the version ``ref`` names: pulls are refused (``VersionRevoked``)
        unless ``allow_revoked=True``. Revoking it again changes nothing."""
        return self._status(ref, "revoke", {"reason": reason})

    def reinstate_version(self, ref: str | Ref, reason: str) -> VersionRead:
        """Make a deprecated or revoked version active again."""
        return self._status(ref, "reinstate", {"reason": reason})

    def revoke_by_dataset(
        self, dataset: str, reason: str, *, apply: bool = False, digest: str | None = None
    ) -> RevocationPlan:
        """The plan of revoking every version that used ``dataset`` (a URI; one
        snapshot with ``digest``) and rolling back the protected aliases pointing at
        them; with ``apply=True`` it is carried out."""
        from modeldepot.schemas.lifecycle import RevocationPlan

        body = {"dataset": dataset, "digest": digest, "reason": reason, "apply": apply}
        return self._call(RevocationPlan, "POST", "/datasets/-/revoke", json=body)

    def _status(self, ref: str | Ref, verb: str, body: dict[str, Any]) -> VersionRead:
        from modeldepot.schemas.versions import VersionRead

        name, number = self._numbered(ref, include_deleted=True)
        return self._call(VersionRead, "POST", f"{version_path(name, number)}/{verb}", json=body)
