"""Domain errors, each with a stable ``code``.

These carry no HTTP status: ``modeldepot.server.errors`` owns the one table that
maps them onto the wire. The client raises the same classes from problem
responses, so ``except VersionNotFound`` works on both sides.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ModeldepotError(Exception):
    """Base of every error modeldepot raises on purpose."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(ModeldepotError):
    code = "INVALID_INPUT"
    title = "Invalid input"


class NameInvalid(InvalidInput):
    code = "NAME_INVALID"
    title = "Invalid name"


class ReferenceInvalid(InvalidInput):
    code = "REFERENCE_INVALID"
    title = "Invalid model reference"


class DigestInvalid(InvalidInput):
    code = "DIGEST_INVALID"
    title = "Invalid digest"


class ManifestInvalid(InvalidInput):
    code = "MANIFEST_INVALID"
    title = "Invalid manifest"


class PathInvalid(ManifestInvalid):
    code = "PATH_INVALID"
    title = "Invalid file path"


class PathDuplicate(ManifestInvalid):
    code = "PATH_DUPLICATE"
    title = "Duplicate file path"


class MetadataInvalid(InvalidInput):
    code = "METADATA_INVALID"
    title = "Invalid metadata"


class MetadataTooLarge(InvalidInput):
    code = "METADATA_TOO_LARGE"
    title = "Metadata too large"


class CursorInvalid(InvalidInput):
    code = "CURSOR_INVALID"
    title = "Invalid pagination cursor"


class AliasInvalid(InvalidInput):
    code = "ALIAS_INVALID"
    title = "Invalid alias"


class QueryInvalid(InvalidInput):
    """A search query that cannot be parsed; ``position`` is the 0-based offset."""

    code = "QUERY_SYNTAX"
    title = "Search query syntax error"


class QueryFieldUnknown(InvalidInput):
    code = "QUERY_FIELD_UNKNOWN"
    title = "Search query names an unknown field"


class QueryTypeMismatch(InvalidInput):
    code = "QUERY_TYPE_MISMATCH"
    title = "Search query compares a field with a value of the wrong type"


class QueryTooLarge(InvalidInput):
    code = "QUERY_TOO_LARGE"
    title = "Search query is too long or too deeply nested"


class LineageInvalid(InvalidInput):
    code = "LINEAGE_INVALID"
    title = "Invalid lineage"


class CardInvalid(InvalidInput):
    code = "CARD_INVALID"
    title = "Invalid model card"


class TimeInvalid(InvalidInput):
    code = "TIME_INVALID"
    title = "Invalid point in time"


class NotFound(ModeldepotError):
    code = "NOT_FOUND"
    title = "Not found"


class ModelNotFound(NotFound):
    code = "MODEL_NOT_FOUND"
    title = "Model not found"


class VersionNotFound(NotFound):
    code = "VERSION_NOT_FOUND"
    title = "Version not found"


class AliasNotFound(NotFound):
    code = "ALIAS_NOT_FOUND"
    title = "Alias not found"


class TagNotFound(NotFound):
    code = "TAG_NOT_FOUND"
    title = "Tag not found"


class BlobNotFound(NotFound):
    code = "BLOB_UNKNOWN"
    title = "Blob unknown"


class UploadNotFound(NotFound):
    code = "UPLOAD_UNKNOWN"
    title = "Upload session unknown"


class FileNotInVersion(NotFound):
    code = "FILE_NOT_FOUND"
    title = "File not in version"


class DatasetNotFound(NotFound):
    code = "DATASET_NOT_FOUND"
    title = "Dataset not found"


class CardNotFound(NotFound):
    code = "CARD_NOT_FOUND"
    title = "The model has no card"


class RelationTargetNotFound(NotFound):
    code = "RELATION_TARGET_NOT_FOUND"
    title = "A related version does not exist"


class RelationNotFound(NotFound):
    code = "RELATION_NOT_FOUND"
    title = "Relation not found"


class Conflict(ModeldepotError):
    code = "CONFLICT"
    title = "Conflict"


class ModelExists(Conflict):
    code = "MODEL_EXISTS"
    title = "Model already exists"


class ModelDeleted(NotFound):
    code = "MODEL_DELETED"
    title = "Model is deleted"


class VersionDeleted(NotFound):
    code = "VERSION_DELETED"
    title = "Version is deleted"


class VersionInUse(Conflict):
    code = "VERSION_HAS_ALIASES"
    title = "Version is pointed to by aliases"


class AliasConflict(Conflict):
    code = "ALIAS_CONFLICT"
    title = "Alias changed concurrently"


class RelationCycle(Conflict):
    code = "RELATION_CYCLE"
    title = "Relation would make a cycle"


class DigestMismatch(ModeldepotError):
    code = "DIGEST_MISMATCH"
    title = "Content does not match its declared digest"


class SizeMismatch(ModeldepotError):
    code = "SIZE_MISMATCH"
    title = "Content does not match its declared size"


class UploadOffsetMismatch(Conflict):
    code = "UPLOAD_OFFSET_MISMATCH"
    title = "Upload offset does not match the bytes received"


class UploadConflict(Conflict):
    code = "UPLOAD_BUSY"
    title = "Another request is writing to this upload session"


class UploadIncomplete(Conflict):
    code = "UPLOAD_INCOMPLETE"
    title = "Upload session has not received every byte"


class PresignedUnavailable(Conflict):
    code = "PRESIGNED_UNAVAILABLE"
    title = "Presigned transfers are not offered"


class RangeNotSatisfiable(ModeldepotError):
    code = "RANGE_NOT_SATISFIABLE"
    title = "Range not satisfiable"


class ServerUnreachable(ModeldepotError):
    code = "SERVER_UNREACHABLE"
    title = "Server unreachable"


class ListenFailed(ModeldepotError):
    """``modeldepot serve`` could not listen on its address (raised before it serves)."""

    code = "LISTEN_FAILED"
    title = "Cannot listen"


class PortInUse(ListenFailed):
    code = "PORT_IN_USE"
    title = "Port in use"


def all_error_classes() -> list[type[ModeldepotError]]:
    """Every concrete error class, for the wire table and the client's decoder."""
    seen: list[type[ModeldepotError]] = []
    stack: list[type[ModeldepotError]] = [ModeldepotError]
    while stack:
        cls = stack.pop()
        seen.append(cls)
        stack.extend(cls.__subclasses__())
    return seen


def error_class_for(code: str) -> type[ModeldepotError]:
    """The error class whose stable code is ``code`` (ModeldepotError if unknown)."""
    for cls in all_error_classes():
        if cls.code == code:
            return cls
    return ModeldepotError
