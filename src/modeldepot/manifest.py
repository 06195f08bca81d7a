"""Version manifests: the files of a version and the digest that names its content.

A manifest is a set of entries (relative path, size, digest, optional media type).
Its digest is the sha256 of the canonical serialisation::

    {"files":[{"digest":"sha256:…","media_type":"…","path":"a/b.bin","size":12},…],"schema":1}

JSON with keys sorted, no insignificant whitespace, UTF-8, files sorted by path and
``media_type`` left out when unknown. The same files always give the same digest.

Two sets of path rules. ``normalize_path`` is the *safety* rule every path read or
written obeys: relative, no ``..``, no control characters. ``portable_path`` and
``check_layout`` are the *commit* rules: a new version only holds paths that can be
written as files on Linux, macOS and Windows alike (no colon or other character Windows
forbids, no Windows device name, no segment ending in a dot or space, no invisible
format or bidirectional control character, no two paths that differ only by case, no
path that is both a file and a directory). Versions stored before these rules only
have to obey the safety rule, so reads of existing data never break.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from modeldepot.digest import digest_bytes, is_digest
from modeldepot.errors import ManifestInvalid, PathConflict, PathDuplicate, PathInvalid

SCHEMA = 1
MAX_PATH_LENGTH = 1024
MAX_SEGMENT_BYTES = 255
MAX_FILES = 100_000
MAX_FILE_SIZE = 1 << 50
# C0 and C1 controls (exactly Unicode category Cc) and surrogates (Cs: no UTF-8 for a
# lone one, so no file name), matched by a regex because a per-character category
# lookup dominated the cost of a large manifest.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# What Windows cannot hold, in three patterns (one combined pattern is several times
# slower): a character it refuses in a name (besides controls, '/' and '\\'); a device
# name it reserves in every directory, in any case, also with an extension ("nul.txt")
# or spaces before one (the superscript digits are listed by Windows' own
# documentation); a name ending in a dot or a space.
_WINDOWS_FORBIDDEN = re.compile(r'[<>:"|?*]')
_WINDOWS_RESERVED = re.compile(
    "(?<![^/])(?P<device>(?:CON|PRN|AUX|NUL|COM[1-9\u00b9\u00b2\u00b3]|LPT[1-9\u00b9\u00b2\u00b3])"
    " *)(?:[./]|$)",
    re.IGNORECASE,
)
_WINDOWS_STRIPPED = re.compile("[. ](?:/|$)")
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

    Rejected: empty, absolute, ``..`` segments, NUL or control characters, unpaired
    surrogates (no UTF-8 encodes them), backslashes, drive-like prefixes, over-long
    paths or segments. A path that normalises to a directory (trailing ``/``) is
    rejected too.
    """
    if not isinstance(path, str) or not path:
        raise PathInvalid("file path is empty")
    if "\x00" in path:
        raise PathInvalid(f"file path {path!r} contains a NUL byte")
    found = _CONTROL.search(path)
    if found is not None:
        what = "an unpaired surrogate" if found.group() >= "\ud800" else "a control character"
        raise PathInvalid(f"file path {path!r} contains {what}")
    if "\\" in path:
        raise PathInvalid(f"file path {path!r} contains a backslash; use '/'")
    if path.startswith("/"):
        raise PathInvalid(f"file path {path!r} is absolute; paths are relative to the version")
    if path.endswith("/"):
        raise PathInvalid(f"file path {path!r} names a directory")
    nfc = unicodedata.normalize("NFC", path)
    segments = [s for s in nfc.split("/") if s not in ("", ".")]
    if not segments:
        raise PathInvalid(f"file path {path!r} is empty after normalisation")
    if ".." in segments:
        raise PathInvalid(f"file path {path!r} contains '..'")
    # A segment can only be too long when the whole path is (a cheap test, made first).
    if len(nfc.encode()) > MAX_SEGMENT_BYTES and any(
        len(segment.encode()) > MAX_SEGMENT_BYTES for segment in segments
    ):
        raise PathInvalid(f"file path {path!r} has a segment over {MAX_SEGMENT_BYTES} bytes")
    if len(segments[0]) == 2 and segments[0][1] == ":" and segments[0][0].isalpha():
        raise PathInvalid(f"file path {path!r} starts with a drive letter")
    normalized = "/".join(segments)
    if len(normalized.encode()) > MAX_PATH_LENGTH:
        raise PathInvalid(f"file path is longer than {MAX_PATH_LENGTH} bytes")
    return normalized


def portable_path(path: str) -> str:
    """``normalize_path``, and PathInvalid unless the path can be written on every common
    filesystem (the rules a new version's paths obey; see the module docstring)."""
    normalized = normalize_path(path)
    problem = windows_problem(normalized)
    if problem is not None:
        raise PathInvalid(f"file path {path!r} {problem}")
    # Category Cf (bidi overrides and isolates, zero-width joiners, soft hyphens, ...) can
    # make a name read as something else ("invoice\u202egnp.exe"). ``isprintable`` is
    # false for every Cf character (and for spaces other than ' '): the scan by category
    # runs only for the rare path that fails it.
    if not normalized.isprintable() and any(unicodedata.category(c) == "Cf" for c in normalized):
        # repr() escapes them, so the message cannot be disguised the same way.
        raise PathInvalid(
            f"file path {path!r} contains an invisible format or bidirectional control character"
        )
    return normalized


def windows_problem(normalized: str) -> str | None:
    """Why Windows cannot write ``normalized`` (a normalised path), or None.

    A segment ending in a dot or a space is refused too: Windows silently strips them,
    so ``a.`` would be written as ``a``, and could collide with another file.
    """
    found = _WINDOWS_FORBIDDEN.search(normalized)
    if found is not None:
        return f"contains {found.group()!r}, which Windows does not allow in a file name"
    found = _WINDOWS_RESERVED.search(normalized)
    if found is not None:
        return f"has a segment Windows reserves for a device ({found.group('device')!r})"
    if _WINDOWS_STRIPPED.search(normalized):
        return "has a segment ending in a dot or a space, which Windows strips"
    return None


def fold_case(normalized: str) -> str:
    """The key under which case-insensitive filesystems (macOS, Windows) see a path."""
    if normalized.isascii():
        return normalized.lower()
    return unicodedata.normalize("NFC", normalized.casefold())


def check_layout(paths: Iterable[str], *, fold: bool = True) -> None:
    """PathConflict unless the normalised, distinct ``paths`` can all be files of one
    tree: none is also a directory of another, and (with ``fold``) no two differ only
    by case, not even where one is a directory of the other."""
    files = set(paths)
    directories: set[str] = set()
    for path in files:
        cut = path.rfind("/")
        while cut > 0 and path[:cut] not in directories:
            directories.add(path[:cut])
            cut = path.rfind("/", 0, cut)
    both = files & directories
    if both:
        path = min(both)
        below = min(p for p in files if p.startswith(path + "/"))
        raise PathConflict(
            f"{path!r} is a file and also the directory of {below!r}", paths=[path, below]
        )
    if not fold:
        return
    seen: dict[str, str] = {}
    for path in files:
        other = seen.setdefault(fold_case(path), path)
        if other != path:
            pair = sorted((other, path))
            raise PathConflict(
                f"file paths {pair[0]!r} and {pair[1]!r} differ only by case; they cannot "
                "both exist on macOS or Windows",
                paths=pair,
            )
    for directory in directories:
        other = seen.get(fold_case(directory))
        if other is not None:
            below = min(p for p in files if p.startswith(directory + "/"))
            raise PathConflict(
                f"file path {other!r} and the directory of {below!r} differ only by case; "
                "they cannot both exist on macOS or Windows",
                paths=[other, below],
            )


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
    """A validated manifest: normalised unique portable paths that fit in one tree (see
    ``portable_path`` and ``check_layout``), sorted; well-formed digests and sizes."""

    entries: tuple[ManifestEntry, ...]

    @classmethod
    def build(cls, entries: Iterable[ManifestEntry]) -> Manifest:
        """Validate and normalise ``entries``; raise a ManifestInvalid subclass on bad input."""
        seen: dict[str, str] = {}
        normalized: list[ManifestEntry] = []
        for entry in entries:
            path = portable_path(entry.path)
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
        check_layout(seen)
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
