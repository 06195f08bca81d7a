"""Pydantic models of everything that crosses the wire, shared by server and SDK."""

from modeldepot.schemas.aliases import AliasEventRead, AliasRead, AliasSet
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
from modeldepot.schemas.models import (
    CardRead,
    CardWrite,
    ModelCreate,
    ModelRead,
    ModelUpdate,
    TagSet,
)
from modeldepot.schemas.versions import FileEntry, ManifestRead, VersionCreate, VersionRead

__all__ = [
    "AliasEventRead",
    "AliasRead",
    "AliasSet",
    "BlobsAbsent",
    "BlobsAbsentQuery",
    "BlobsMissing",
    "BlobsQuery",
    "CardRead",
    "CardWrite",
    "FieldError",
    "FileEntry",
    "FileSample",
    "GarbageReport",
    "ManifestRead",
    "ModelCreate",
    "ModelRead",
    "ModelUpdate",
    "Page",
    "PartUrlsQuery",
    "PresignedUpload",
    "PresignedUrls",
    "Problem",
    "TagSet",
    "UploadComplete",
    "UploadCreate",
    "UploadRead",
    "ValidationProblem",
    "VersionCreate",
    "VersionRead",
]
