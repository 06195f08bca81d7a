"""Pydantic models of everything that crosses the wire, shared by server and SDK.

The names below load their module on first use (PEP 562): building pydantic models
costs start-up time, and a CLI command should pay only for the ones it uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modeldepot.schemas.aliases import AliasEventRead, AliasRead, AliasSet
    from modeldepot.schemas.audit import (
        AuditFinding,
        AuditRecordRead,
        AuditVerification,
        EventPage,
    )
    from modeldepot.schemas.blobs import (
        BlobsAbsent,
        BlobsAbsentQuery,
        BlobsMissing,
        BlobsQuery,
        FileSample,
        GarbageReport,
        PartUrlsQuery,
        PresignedUpload,
        PresignedUrls,
        UploadComplete,
        UploadCreate,
        UploadRead,
    )
    from modeldepot.schemas.common import FieldError, Page, Problem, ValidationProblem
    from modeldepot.schemas.identity import (
        GrantCreate,
        GrantRead,
        GroupCreate,
        GroupRead,
        LoginRequest,
        PrincipalCreate,
        PrincipalRead,
        PrincipalUpdate,
        TokenCreate,
        TokenCreated,
        TokenRead,
        TokenScope,
        WhoAmI,
    )
    from modeldepot.schemas.models import (
        CardRead,
        CardWrite,
        ModelCreate,
        ModelRead,
        ModelUpdate,
        TagSet,
    )
    from modeldepot.schemas.versions import FileEntry, ManifestRead, VersionCreate, VersionRead


# name -> module of modeldepot.schemas that defines it
_WHERE = {
    "AliasEventRead": "aliases",
    "AliasRead": "aliases",
    "AliasSet": "aliases",
    "AuditFinding": "audit",
    "AuditRecordRead": "audit",
    "AuditVerification": "audit",
    "BlobsAbsent": "blobs",
    "BlobsAbsentQuery": "blobs",
    "BlobsMissing": "blobs",
    "BlobsQuery": "blobs",
    "CardRead": "models",
    "CardWrite": "models",
    "EventPage": "audit",
    "FieldError": "common",
    "FileEntry": "versions",
    "FileSample": "blobs",
    "GarbageReport": "blobs",
    "GrantCreate": "identity",
    "GrantRead": "identity",
    "GroupCreate": "identity",
    "GroupRead": "identity",
    "LoginRequest": "identity",
    "ManifestRead": "versions",
    "ModelCreate": "models",
    "ModelRead": "models",
    "ModelUpdate": "models",
    "Page": "common",
    "PartUrlsQuery": "blobs",
    "PresignedUpload": "blobs",
    "PresignedUrls": "blobs",
    "PrincipalCreate": "identity",
    "PrincipalRead": "identity",
    "PrincipalUpdate": "identity",
    "Problem": "common",
    "TagSet": "models",
    "TokenCreate": "identity",
    "TokenCreated": "identity",
    "TokenRead": "identity",
    "TokenScope": "identity",
    "UploadComplete": "blobs",
    "UploadCreate": "blobs",
    "UploadRead": "blobs",
    "ValidationProblem": "common",
    "VersionCreate": "versions",
    "VersionRead": "versions",
    "WhoAmI": "identity",
}

__all__ = [
    "AliasEventRead",
    "AliasRead",
    "AliasSet",
    "AuditFinding",
    "AuditRecordRead",
    "AuditVerification",
    "BlobsAbsent",
    "BlobsAbsentQuery",
    "BlobsMissing",
    "BlobsQuery",
    "CardRead",
    "CardWrite",
    "EventPage",
    "FieldError",
    "FileEntry",
    "FileSample",
    "GarbageReport",
    "GrantCreate",
    "GrantRead",
    "GroupCreate",
    "GroupRead",
    "LoginRequest",
    "ManifestRead",
    "ModelCreate",
    "ModelRead",
    "ModelUpdate",
    "Page",
    "PartUrlsQuery",
    "PresignedUpload",
    "PresignedUrls",
    "PrincipalCreate",
    "PrincipalRead",
    "PrincipalUpdate",
    "Problem",
    "TagSet",
    "TokenCreate",
    "TokenCreated",
    "TokenRead",
    "TokenScope",
    "UploadComplete",
    "UploadCreate",
    "UploadRead",
    "ValidationProblem",
    "VersionCreate",
    "VersionRead",
    "WhoAmI",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
