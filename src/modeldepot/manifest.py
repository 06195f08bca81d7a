"""Version manifests: the files of a version and the digest that names its content.

A manifest is a set of entries (relative path, size, digest, optional media type).
Its digest is the sha256 of the canonical serialisation::

    {"files":[{"digest":"sha256:…","media_type":"…","path":"a/b.bin","size":12},…],"schema":1}

JSON with keys sorted, no insignificant whitespace, UTF-8, files sorted by path and
``media_type`` left out when unknown. The same files always give the same digest.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from modeldepot.digest import digest_bytes, is_digest
from modeldepot.errors import ManifestInvalid, PathDuplicate, PathInvalid

SCHEMA = 1
MAX_PATH_LENGTH = 1024
MAX_SEGMENT_BYTES = 255
MAX_FILES = 100_000
MAX_FILE_SIZE = 1 << 50
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")

# Our own table, never the host's mimetypes database: the media type is part of the
# manifest digest, so every client must guess the same one for the same path.
MEDIA_TYPES: dict[str, str] = {
    ".json": "application/json",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".csv": "text/csv",
    ".onnx": "application/onnx",
    ".safetensors": "application/vnd.safetensors",
    ".pkl": "application/x-pickle",
    ".pickle": "application/x-pickle",
    ".joblib": "application/x-joblib",
    ".skops": "application/x-skops",
    ".pt": "application/x-pytorch",
    ".pth": "application/x-pytorch",
    ".h5": "application/x-hdf5",
    ".keras": "application/x-keras",
    ".npy": "application/x-npy",
    ".npz": "application/x-npz",
    ".parquet": "application/vnd.apache.parquet",
    ".gguf": "application/x-gguf",
    ".tflite": "application/x-tflite",
    ".zip": "application/zip",
    ".gz": "application/gzip",
    ".tar": "application/x-tar",
}


def guess_media_type(path: str) -> str | None:
    """The media type for ``path`` from modeldepot's own extension table, or None."""
    dot = path.rfind(".")
    if dot <= path.rfind("/"):
        return None
    return MEDIA_TYPES.get(path[dot:].lower())


def normalize_path(path: str) -> str:
    """Normalise a manifest path (NFC, no ``.`` or empty segments) or raise PathInvalid.

    Rejected: empty, absolute, ``..`` segments, NUL or control characters, backslashes,
    drive-like prefixes, over-long paths or segments. A path that normalises to a
    directory (trailing ``/``) is rejected too.
    """
    if not isinstance(path, str) or not path:
        raise PathInvalid("file path is empty")
    if "\x00" in path:
        raise PathInvalid(f"file path {path!r} contains a NUL byte")
    if any(unicodedata.category(c) == "Cc" for c in path):
        raise PathInvalid(f"file path {path!r} contains a control character")
    if "\\" in path:
        raise PathInvalid(f"file path {path!r} contains a backslash; use '/'")
    if path.startswith("/"):
        raise PathInvalid(f"file path {path!r} is absolute; paths are relative to the version")
    if path.endswith("/"):
        raise PathInvalid(f"file path {path!r} names a directory")
    segments = [s for s in unicodedata.normalize("NFC", path).split("/") if s not in ("", ".")]
    if not segments:
        raise PathInvalid(f"file path {path!r} is empty after normalisation")
    for segment in segments:
        if segment == "..":
            raise PathInvalid(f"file path {path!r} contains '..'")
        if len(segment.encode()) > MAX_SEGMENT_BYTES:
            raise PathInvalid(f"file path {path!r} has a segment over {MAX_SEGMENT_BYTES} bytes")
    if len(segments[0]) == 2 and segments[0][1] == ":" and segments[0][0].isalpha():
        raise PathInvalid(f"file path {path!r} starts with a drive letter")
    normalized = "/".join(segments)
    if len(normalized.encode()) > MAX_PATH_LENGTH:
        raise PathInvalid(f"file path is longer than {MAX_PATH_LENGTH} bytes")
    return normalized


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One file of a version."""

    path: str
    size: int
    digest: str
    media_type: str | None = None

    def canonical(self) -> dict[str, object]:
        item: dict[str, object] = {"digest": self.digest, "path": self.path, "size": self.size}
        if self.media_type is not None:
            item["media_type"] = self.media_type
        return item


@dataclass(frozen=True, slots=True)
class Manifest:
    """A validated manifest: normalised unique paths, sorted; well-formed digests and sizes."""

    entries: tuple[ManifestEntry, ...]

    @classmethod
    def build(cls, entries: Iterable[ManifestEntry]) -> Manifest:
        """Validate and normalise ``entries``; raise a ManifestInvalid subclass on bad input."""
        seen: dict[str, str] = {}
        normalized: list[ManifestEntry] = []
        for entry in entries:
            path = normalize_path(entry.path)
            if path in seen:
                raise PathDuplicate(
                    f"file paths {seen[path]!r} and {entry.path!r} are the same "
                    "after normalisation",
                    path=path,
                )
            seen[path] = entry.path
            if len(seen) > MAX_FILES:
                raise ManifestInvalid(f"a version holds at most {MAX_FILES} files")
            if not is_digest(entry.digest):
                raise ManifestInvalid(f"file {path!r}: digest must be 'sha256:' and 64 hex digits")
            if isinstance(entry.size, bool) or not isinstance(entry.size, int):
                raise ManifestInvalid(f"file {path!r}: size must be an integer")
            if not 0 <= entry.size <= MAX_FILE_SIZE:
                raise ManifestInvalid(f"file {path!r}: size {entry.size} is out of range")
            if entry.media_type is not None and not _MEDIA_TYPE.fullmatch(entry.media_type):
                raise ManifestInvalid(
                    f"file {path!r}: media type {entry.media_type!r} is malformed"
                )
            normalized.append(ManifestEntry(path, entry.size, entry.digest, entry.media_type))
        if not normalized:
            raise ManifestInvalid("a version needs at least one file")
        normalized.sort(key=lambda e: e.path)
        return cls(tuple(normalized))

    def canonical_bytes(self) -> bytes:
        document = {"files": [e.canonical() for e in self.entries], "schema": SCHEMA}
        return json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()

    @property
    def digest(self) -> str:
        return digest_bytes(self.canonical_bytes())

    @property
    def total_size(self) -> int:
        return sum(e.size for e in self.entries)

    def blob_digests(self) -> list[str]:
        """Distinct blob digests, in first-seen order."""
        return list(dict.fromkeys(e.digest for e in self.entries))


def manifest_digest(entries: Sequence[ManifestEntry]) -> str:
    return Manifest.build(entries).digest
