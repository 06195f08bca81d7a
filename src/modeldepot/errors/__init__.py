"""Domain errors, each with a stable ``code``.

These carry no HTTP status: ``modeldepot.server.errors`` owns the one table that
maps them onto the wire. The client raises the same classes from problem
responses, so ``except VersionNotFound`` works on both sides.
"""

from __future__ import annotations

import errno
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


class UploadModelRequired(InvalidInput):
    """An upload names no model, and the caller may not push to every model: uploads
    are opened for a model namespace (``model``)."""

    code = "UPLOAD_MODEL_REQUIRED"
    title = "Upload names no model"


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


class PathConflict(ManifestInvalid):
    """Two paths of one version that cannot both be files of one tree: one is a
    directory of the other, or they differ only by case. ``paths`` names both."""

    code = "PATH_CONFLICT"
    title = "Conflicting file paths"


class SymlinkOutside(InvalidInput):
    """Raised by push (client side): a symbolic link in the pushed directory points
    outside it; ``path`` is the link's path in the version."""

    code = "SYMLINK_OUTSIDE"
    title = "Symbolic link points outside the pushed directory"


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


class Forbidden(ModeldepotError):
    """The caller is known and may read the target, but lacks the role this needs
    (``permission`` names what was asked)."""

    code = "FORBIDDEN"
    title = "Not allowed"


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


class InsufficientStorage(ModeldepotError):
    """A disk the server writes to is full. ``resource`` names which one (``blobstore``
    or ``database``); nothing half-written is kept, and the same request succeeds once
    space is freed."""

    code = "INSUFFICIENT_STORAGE"
    title = "Insufficient storage"


class LimitExceeded(ModeldepotError):
    """A request the server refuses because it would pass one of its abuse limits."""

    code = "LIMIT_EXCEEDED"
    title = "A server limit was reached"


class BlobTooLarge(LimitExceeded):
    """A declared blob size over the server's largest blob (``limit`` says it)."""

    code = "BLOB_TOO_LARGE"
    title = "Blob is larger than this server accepts"


class TooManyUploads(LimitExceeded):
    """The client already holds its most open upload sessions (``limit``)."""

    code = "TOO_MANY_UPLOADS"
    title = "Too many open upload sessions"


class StagingFull(LimitExceeded):
    """Open sessions already declare the most bytes the server stages at once."""

    code = "STAGING_FULL"
    title = "The server stages no more upload bytes now"


class RangeNotSatisfiable(ModeldepotError):
    code = "RANGE_NOT_SATISFIABLE"
    title = "Range not satisfiable"


class ServerUnreachable(ModeldepotError):
    code = "SERVER_UNREACHABLE"
    title = "Server unreachable"


class LocalError(ModeldepotError):
    """An operating-system error on the client's machine (reading what a push sends,
    writing what a pull receives), under a stable code; see ``local_error``."""

    code = "OS_ERROR"
    title = "Operating-system error"


class PermissionDenied(LocalError):
    code = "PERMISSION_DENIED"
    title = "Permission denied"


class NoSpace(LocalError):
    code = "NO_SPACE"
    title = "No space left on the local disk"


class ReadOnlyFilesystem(LocalError):
    code = "READ_ONLY_FILESYSTEM"
    title = "Read-only file system"


class NoSuchFile(LocalError):
    code = "NO_SUCH_FILE"
    title = "No such local file or directory"


class FileExists(LocalError):
    code = "FILE_EXISTS"
    title = "A local file is in the way"


class NotADirectory(LocalError):
    code = "NOT_A_DIRECTORY"
    title = "A local file stands where a directory is needed"


class IsADirectory(LocalError):
    code = "IS_A_DIRECTORY"
    title = "A local directory stands where a file is needed"


class NameTooLong(LocalError):
    code = "NAME_TOO_LONG"
    title = "A local file name is too long"


class TooManyOpenFiles(LocalError):
    code = "TOO_MANY_OPEN_FILES"
    title = "Too many open files"


_BY_ERRNO: dict[int, type[LocalError]] = {
    errno.EACCES: PermissionDenied,
    errno.EPERM: PermissionDenied,
    errno.ENOSPC: NoSpace,
    errno.EDQUOT: NoSpace,
    errno.EROFS: ReadOnlyFilesystem,
    errno.ENOENT: NoSuchFile,
    errno.EEXIST: FileExists,
    errno.ENOTDIR: NotADirectory,
    errno.EISDIR: IsADirectory,
    errno.ENAMETOOLONG: NameTooLong,
    errno.EMFILE: TooManyOpenFiles,
    errno.ENFILE: TooManyOpenFiles,
}


def local_error(exc: OSError) -> ModeldepotError:
    """``exc`` under a stable code: by its errno, SERVER_UNREACHABLE for a connection
    that failed outside the SDK's own handling, OS_ERROR for anything else."""
    # Not BrokenPipeError: that is as often a closed stdout (``modeldepot ... | head``).
    if isinstance(exc, ConnectionError) and not isinstance(exc, BrokenPipeError):
        return ServerUnreachable(f"the connection failed: {exc.strerror or exc}")
    names = [str(name) for name in (exc.filename, exc.filename2) if name is not None]
    reason = exc.strerror or str(exc) or type(exc).__name__
    detail = f"{' -> '.join(names)}: {reason}" if names else reason
    return _BY_ERRNO.get(exc.errno or 0, LocalError)(detail)


class ListenFailed(ModeldepotError):
    """``modeldepot serve`` could not listen on its address (raised before it serves)."""

    code = "LISTEN_FAILED"
    title = "Cannot listen"


class PortInUse(ListenFailed):
    code = "PORT_IN_USE"
    title = "Port in use"


class AuditKeyInvalid(ModeldepotError):
    """The audit signing key file (``MODELDEPOT_AUDIT_KEY_FILE``) or a public key given
    to ``audit verify`` holds no Ed25519 key."""

    code = "AUDIT_KEY_INVALID"
    title = "Invalid audit signing key"


class AuditChainBroken(ModeldepotError):
    """``modeldepot audit verify`` found an inconsistency; ``seq`` names the first."""

    code = "AUDIT_CHAIN_BROKEN"
    title = "The audit chain does not verify"


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


# The errors of governance and of identities, in modules of their own (imported last:
# they build on the classes above, and every importer of this package sees them).
from modeldepot.errors.governance import *  # noqa: E402, F403
from modeldepot.errors.identity import *  # noqa: E402, F403
