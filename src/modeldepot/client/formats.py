"""The format of a pushed model, judged from file names and a few sniffed bytes.

Nothing is loaded or unpickled: a file is read for at most ``SNIFF_BYTES`` (pickles:
``PICKLE_BYTES``, walked as opcodes only) and a zip archive for its directory. At
most ``MAX_SNIFFED_FILES`` files are opened per push.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from modeldepot.schemas.lineage import FormatInfo

log = logging.getLogger(__name__)

SNIFF_BYTES = 4096
PICKLE_BYTES = 1024 * 1024
MAX_SNIFFED_FILES = 1000

# Most specific first. Among several candidates the earliest format wins, then the
# shallowest path, then the first path in sorted order.
PRIORITY = (
    "huggingface",
    "sklearn",
    "skops",
    "onnx",
    "pytorch",
    "keras",
    "xgboost",
    "lightgbm",
    "safetensors",
    "joblib",
    "pickle",
)
# The distribution that loads each format. skops files (and joblib files naming
# scikit-learn) hold scikit-learn estimators, so scikit-learn is what they need.
FRAMEWORKS: dict[str, str | None] = {
    "huggingface": "transformers",
    "sklearn": "scikit-learn",
    "skops": "scikit-learn",
    "onnx": "onnx",
    "pytorch": "torch",
    "keras": "keras",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "safetensors": "safetensors",
    "joblib": "joblib",
    "pickle": None,
}
HF_WEIGHTS = ("model.safetensors", "pytorch_model.bin", "tf_model.h5")
# LightGBM writes text models under any name; these are the usual ones.
LIGHTGBM_SUFFIXES = ("", ".txt", ".model", ".lgb", ".lgbm")
_ZIP = b"PK\x03\x04"
_HDF5 = b"\x89HDF\r\n\x1a\n"

Found = tuple[str, str | None]
"""A format name and the framework that loads it."""


@dataclass(frozen=True, slots=True, order=True)
class _Candidate:
    rank: int
    depth: int
    path: str
    name: str
    framework: str | None


@dataclass(frozen=True, slots=True)
class _Sniffer:
    sniff: Callable[[Path], Found | None]
    best: str  # the most specific format it can find, to skip needless reads
    speculative: bool = False  # tried on common names, not on a telling extension


def detect_format(root: Path, files: list[str]) -> FormatInfo | None:
    """The model format of ``root``, a pushed directory or file, else None.

    ``files`` are the pushed relative POSIX paths (for a single file: its name).
    ``framework_version`` is the installed version of the framework, if installed.
    Deterministic for the same files; never raises.
    """
    try:
        best = _best(root, files)
    except Exception:  # detection is a courtesy: it must never fail a push
        log.debug("could not detect the model format of %s", root, exc_info=True)
        return None
    if best is None:
        return None
    return FormatInfo.model_validate(
        {
            "name": best.name,
            "framework": best.framework,
            "framework_version": _installed_version(best.framework),
            "path": best.path,
        }
    )


def _best(root: Path, files: list[str]) -> _Candidate | None:
    folder = _huggingface_folder(files)
    if folder is not None:
        return _candidate(_found("huggingface"), folder)
    single = root.is_file()
    planned = [(path, s) for path in set(files) if (s := _sniffer(path)) is not None]
    planned.sort(key=lambda item: (item[1].speculative, _depth(item[0]), item[0]))
    best: _Candidate | None = None
    sniffed = 0
    for path, sniffer in planned:
        bound = (PRIORITY.index(sniffer.best), _depth(path), path)
        if best is not None and bound > (best.rank, best.depth, best.path):
            continue  # cannot beat what was found
        if sniffed == MAX_SNIFFED_FILES:
            log.debug("format detection stopped after %d files", sniffed)
            break
        sniffed += 1
        try:
            found = sniffer.sniff(root if single else root / path)
        except (OSError, ValueError) as exc:
            log.debug("could not sniff %s: %s", path, exc)
            continue
        if found is not None:
            candidate = _candidate(found, path)
            best = candidate if best is None else min(best, candidate)
    return best


def _candidate(found: Found, path: str) -> _Candidate:
    name, framework = found
    return _Candidate(PRIORITY.index(name), _depth(path), path, name, framework)


def _depth(path: str) -> int:
    return 0 if path == "." else path.count("/") + 1


def _found(name: str, framework: str | None = None) -> Found:
    return name, framework or FRAMEWORKS[name]


def _installed_version(distribution: str | None) -> str | None:
    if distribution is None:
        return None
    try:
        version = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
    return version if version and len(version) <= 64 else None


def _huggingface_folder(files: list[str]) -> str | None:
    """The shallowest folder holding ``config.json`` next to transformer weights."""
    names: dict[str, set[str]] = {}
    for path in files:
        folder, _, name = path.rpartition("/")
        names.setdefault(folder, set()).add(name)
    for folder in sorted(names, key=lambda f: (f.count("/") + bool(f), f)):
        inside = names[folder]
        if "config.json" in inside and any(_is_transformer_weight(n) for n in inside):
            return folder or "."
    return None


def _is_transformer_weight(name: str) -> bool:
    return (
        name in HF_WEIGHTS
        or name.endswith(".safetensors")
        or (name.startswith("pytorch_model-") and name.endswith(".bin"))
    )


def _sniffer(path: str) -> _Sniffer | None:
    name = path.rpartition("/")[2].lower()
    stem, dot, extension = name.rpartition(".")
    suffix = dot + extension if stem else ""  # ".profile" has no suffix
    if suffix in LIGHTGBM_SUFFIXES:
        return _Sniffer(_lightgbm, "lightgbm", speculative=True)
    return _SNIFFERS.get(suffix)


def _head(file: Path, size: int = SNIFF_BYTES) -> bytes:
    with file.open("rb") as stream:
        return stream.read(size)


def _safetensors(file: Path) -> Found | None:
    # An 8-byte little-endian header length, then the JSON header itself.
    head = _head(file, 9)
    if len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") > 1:
        return _found("safetensors")
    return None


def _onnx(file: Path) -> Found | None:
    return _found("onnx") if file.stat().st_size > 0 else None


def _skops(file: Path) -> Found | None:
    return _found("skops") if _head(file, 4) == _ZIP else None


def _pytorch(file: Path) -> Found | None:
    # torch.save and torch.jit.save both write a zip with ``<name>/data.pkl``.
    members = _zip_members(file)
    if any(m.count("/") == 1 and m.endswith("/data.pkl") for m in members):
        return _found("pytorch")
    return None


def _keras(file: Path) -> Found | None:
    return _found("keras") if "config.json" in _zip_members(file) else None


def _hdf5(file: Path) -> Found | None:
    # The HDF5 signature sits at 0, or after a user block of 512, 1024 or 2048 bytes.
    head = _head(file, 2048 + len(_HDF5))
    if any(head[at : at + len(_HDF5)] == _HDF5 for at in (0, 512, 1024, 2048)):
        return _found("keras")
    return None


def _ubjson(file: Path) -> Found | None:
    return _found("xgboost") if file.stat().st_size > 0 else None


def _json(file: Path) -> Found | None:
    return _found("xgboost") if b'"learner"' in _head(file, 1024) else None


def _lightgbm(file: Path) -> Found | None:
    head = _head(file, SNIFF_BYTES)
    if not head.startswith((b"tree\n", b"tree\r\n")):
        return None
    first_lines = head.splitlines()[1:10]
    if any(line.startswith(b"version=v") for line in first_lines):
        return _found("lightgbm")
    return None


def _joblib(file: Path) -> Found | None:
    return _found("joblib", "scikit-learn" if _names_sklearn(file) else None)


def _pickle(file: Path) -> Found | None:
    return _found("sklearn") if _names_sklearn(file) else _found("pickle")


def _zip_members(file: Path) -> list[str]:
    import zipfile

    if _head(file, 4) != _ZIP:
        return []
    try:
        with zipfile.ZipFile(file) as archive:
            return archive.namelist()
    except zipfile.BadZipFile:
        return []


def _names_sklearn(file: Path) -> bool:
    """Whether the pickle's first ``PICKLE_BYTES`` import a ``sklearn`` global."""
    from modeldepot.client.capture.pickles import pickled_modules, unwrap

    data = unwrap(_head(file, PICKLE_BYTES), PICKLE_BYTES)
    return any(m == "sklearn" or m.startswith("sklearn.") for m in pickled_modules(data))


_SNIFFERS: dict[str, _Sniffer] = {
    ".safetensors": _Sniffer(_safetensors, "safetensors"),
    ".onnx": _Sniffer(_onnx, "onnx"),
    ".skops": _Sniffer(_skops, "skops"),
    ".pt": _Sniffer(_pytorch, "pytorch"),
    ".pth": _Sniffer(_pytorch, "pytorch"),
    ".bin": _Sniffer(_pytorch, "pytorch"),
    ".keras": _Sniffer(_keras, "keras"),
    ".h5": _Sniffer(_hdf5, "keras"),
    ".hdf5": _Sniffer(_hdf5, "keras"),
    ".ubj": _Sniffer(_ubjson, "xgboost"),
    ".json": _Sniffer(_json, "xgboost", speculative=True),
    ".joblib": _Sniffer(_joblib, "joblib"),
    ".pkl": _Sniffer(_pickle, "sklearn"),
    ".pickle": _Sniffer(_pickle, "sklearn"),
}
