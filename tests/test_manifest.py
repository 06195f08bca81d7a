"""Manifest paths, validation and the canonical serialisation behind a version's digest."""

from __future__ import annotations

import hashlib
import itertools
import json

import pytest

from modeldepot import manifest as manifest_module
from modeldepot.digest import digest_bytes
from modeldepot.errors import ManifestInvalid, PathConflict, PathDuplicate, PathInvalid
from modeldepot.manifest import (
    MAX_FILE_SIZE,
    MAX_PATH_LENGTH,
    MAX_SEGMENT_BYTES,
    MEDIA_TYPES,
    Manifest,
    ManifestEntry,
    check_layout,
    guess_media_type,
    manifest_digest,
    normalize_path,
    portable_path,
)

D1 = digest_bytes(b"one")
D2 = digest_bytes(b"two")
D3 = digest_bytes(b"three")
NFC_E = "\u00e9"  # é as one code point
NFD_E = "e\u0301"  # é as e + combining acute accent


def entry(path="model.bin", size=3, digest=D1, media_type=None):
    return ManifestEntry(path, size, digest, media_type)


def sample_entries():
    return [
        entry("weights/model.safetensors", 3, D1, "application/vnd.safetensors"),
        entry("config.json", 5, D2, "application/json"),
        entry("README", 7, D3),
    ]


@pytest.mark.parametrize(
    ("path", "normalized"),
    [
        ("a", "a"),
        ("model.bin", "model.bin"),
        ("weights/model.safetensors", "weights/model.safetensors"),
        ("a/./b", "a/b"),
        ("./a", "a"),
        ("a/././b", "a/b"),
        ("a//b", "a/b"),
        ("a///b//c", "a/b/c"),
        ("my model (final).bin", "my model (final).bin"),
        ("...", "..."),
        ("a..b", "a..b"),
        (".hidden", ".hidden"),
        (f"caf{NFD_E}.txt", f"caf{NFC_E}.txt"),
        (f"caf{NFC_E}.txt", f"caf{NFC_E}.txt"),
        ("\u1100\u1161", "\uac00"),  # Hangul jamo compose under NFC
        ("模型/权重.bin", "模型/权重.bin"),
        ("a" * MAX_SEGMENT_BYTES, "a" * MAX_SEGMENT_BYTES),
        ("/".join(["a" * 255] * 3) + "//./b", "/".join(["a" * 255] * 3) + "/b"),
    ],
)
def test_normalize_path_returns_canonical_relative_path(path, normalized):
    assert normalize_path(path) == normalized


def test_normalized_path_is_a_fixed_point():
    once = normalize_path(f"./a//b/./caf{NFD_E}")
    assert normalize_path(once) == once


@pytest.mark.parametrize(
    "path",
    [
        "",
        ".",
        "./.",
        "/",
        "/a",
        "/a/b",
        "..",
        "../a",
        "a/..",
        "a/../b",
        "./../a",
        "a\x00b",
        "a\x01b",
        "a\nb",
        "a\rb",
        "a\tb",
        "a\x1fb",
        "a\x7fb",
        "a\\b",
        "..\\a",
        "a/",
        "a/b/",
        "./",
        "C:/x",
        "c:/x",
        "C:",
        "./C:/x",
        "a" * (MAX_SEGMENT_BYTES + 1),
        NFC_E * 128,  # 128 characters but 256 UTF-8 bytes
        "/".join(["a" * 200] * 6),
        None,
        7,
        "a\x85b",
        "a\x9b[2Jb",
        "a\ud800b",  # an unpaired surrogate: no UTF-8 encodes it
        "\udfff",
    ],
)
def test_normalize_path_rejects_unsafe_path(path):
    with pytest.raises(PathInvalid) as excinfo:
        normalize_path(path)
    assert excinfo.value.code == "PATH_INVALID"


def test_longest_path_is_accepted_and_one_byte_more_is_not():
    longest = "/".join(["a" * 200] * 5) + "/" + "b" * (MAX_PATH_LENGTH - 5 * 201)
    assert len(longest.encode()) == MAX_PATH_LENGTH
    assert normalize_path(longest) == longest
    with pytest.raises(PathInvalid):
        normalize_path(longest + "b")


def test_path_errors_are_manifest_errors():
    with pytest.raises(ManifestInvalid):
        normalize_path("../etc/passwd")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("a/b", "a/b"),
        ("a/b", "a/./b"),
        ("a/b", "a//b"),
        ("a/b", "./a/b"),
        (f"caf{NFC_E}.txt", f"caf{NFD_E}.txt"),
    ],
)
def test_build_rejects_paths_equal_after_normalisation(first, second):
    with pytest.raises(PathDuplicate) as excinfo:
        Manifest.build([entry(first, digest=D1), entry(second, digest=D2)])
    assert excinfo.value.code == "PATH_DUPLICATE"
    assert excinfo.value.extra["path"] == normalize_path(first)


def test_build_rejects_invalid_path_with_path_invalid():
    with pytest.raises(PathInvalid):
        Manifest.build([entry("../escape")])


@pytest.mark.parametrize(
    "digest",
    [
        "",
        "sha256:",
        "sha256:abc",
        "sha256:" + "a" * 63,
        "sha256:" + "a" * 65,
        "sha256:" + "A" * 64,
        "SHA256:" + "a" * 64,
        "sha512:" + "a" * 128,
        "md5:" + "a" * 32,
        "a" * 64,
        None,
    ],
)
def test_build_rejects_malformed_digest(digest):
    with pytest.raises(ManifestInvalid) as excinfo:
        Manifest.build([entry(digest=digest)])
    assert excinfo.value.code == "MANIFEST_INVALID"


@pytest.mark.parametrize("size", [-1, -(2**63), MAX_FILE_SIZE + 1, True, False, 1.0, "3", None])
def test_build_rejects_size_that_is_not_a_non_negative_integer(size):
    with pytest.raises(ManifestInvalid) as excinfo:
        Manifest.build([entry(size=size)])
    assert excinfo.value.code == "MANIFEST_INVALID"


@pytest.mark.parametrize("size", [0, 1, MAX_FILE_SIZE])
def test_build_accepts_size_within_bounds(size):
    assert Manifest.build([entry(size=size)]).entries[0].size == size


def test_build_rejects_empty_manifest():
    with pytest.raises(ManifestInvalid) as excinfo:
        Manifest.build([])
    assert excinfo.value.code == "MANIFEST_INVALID"


def test_build_rejects_more_files_than_the_limit(monkeypatch):
    monkeypatch.setattr(manifest_module, "MAX_FILES", 3)
    Manifest.build([entry(f"f{i}") for i in range(3)])
    with pytest.raises(ManifestInvalid):
        Manifest.build([entry(f"f{i}") for i in range(4)])


@pytest.mark.parametrize(
    "media_type",
    [
        "",
        "text",
        "text/",
        "/plain",
        "text/plain/x",
        "Text/Plain",
        "text/plain; charset=utf-8",
        "text plain",
        "text/ plain",
        "-text/plain",
        "text/" + "a" * 128,
        "text/plain\n",
    ],
)
def test_build_rejects_malformed_media_type(media_type):
    with pytest.raises(ManifestInvalid) as excinfo:
        Manifest.build([entry(media_type=media_type)])
    assert excinfo.value.code == "MANIFEST_INVALID"


@pytest.mark.parametrize(
    "media_type",
    ["text/plain", "application/vnd.safetensors", "application/x-pickle", "model/gltf+json"],
)
def test_build_accepts_well_formed_media_type(media_type):
    assert Manifest.build([entry(media_type=media_type)]).entries[0].media_type == media_type


def test_build_normalises_and_sorts_entries_by_path():
    built = Manifest.build(
        [entry("b//c", digest=D1), entry("./a", digest=D2), entry(f"{NFD_E}", digest=D3)]
    )
    assert [e.path for e in built.entries] == ["a", "b/c", NFC_E]
    assert [e.digest for e in built.entries] == [D2, D1, D3]


def test_canonical_bytes_have_the_documented_shape():
    built = Manifest.build(
        [entry("b.bin", 12, D2), entry("a.txt", 3, D1, "text/plain")],
    )
    expected = (
        '{"files":['
        f'{{"digest":"{D1}","media_type":"text/plain","path":"a.txt","size":3}},'
        f'{{"digest":"{D2}","path":"b.bin","size":12}}'
        '],"schema":1}'
    ).encode()
    assert built.canonical_bytes() == expected


def test_canonical_bytes_do_not_depend_on_input_order():
    serialisations = {
        Manifest.build(order).canonical_bytes()
        for order in itertools.permutations(sample_entries())
    }
    assert len(serialisations) == 1


def test_canonical_bytes_are_stable_across_builds():
    first = Manifest.build(sample_entries())
    second = Manifest.build(sample_entries())
    assert first.canonical_bytes() == second.canonical_bytes()
    assert first.digest == second.digest


def test_digest_is_sha256_of_canonical_bytes():
    built = Manifest.build(sample_entries())
    assert built.digest == "sha256:" + hashlib.sha256(built.canonical_bytes()).hexdigest()


def test_manifest_digest_equals_built_manifest_digest():
    assert manifest_digest(sample_entries()) == Manifest.build(sample_entries()).digest


def test_unicode_paths_are_serialised_as_utf8_in_nfc():
    nfd = Manifest.build([entry(f"caf{NFD_E}.txt")])
    nfc = Manifest.build([entry(f"caf{NFC_E}.txt")])
    assert nfd.canonical_bytes() == nfc.canonical_bytes()
    assert f"caf{NFC_E}.txt".encode() in nfc.canonical_bytes()


def test_absent_media_type_is_left_out_and_changes_nothing_else():
    with_type = Manifest.build([entry("a.txt", 3, D1, "text/plain"), entry("b", 4, D2)])
    without = Manifest.build([entry("a.txt", 3, D1, None), entry("b", 4, D2)])
    document = json.loads(with_type.canonical_bytes())
    del document["files"][0]["media_type"]
    assert json.loads(without.canonical_bytes()) == document
    assert b"media_type" not in without.canonical_bytes()
    assert b"null" not in without.canonical_bytes()
    assert with_type.digest != without.digest


@pytest.mark.parametrize(
    ("field", "value"),
    [("path", "other.bin"), ("size", 4), ("digest", D2), ("media_type", "text/plain")],
)
def test_any_field_change_changes_the_digest(field, value):
    base = {"path": "model.bin", "size": 3, "digest": D1, "media_type": None}
    changed = {**base, field: value}
    assert manifest_digest([ManifestEntry(**base)]) != manifest_digest([ManifestEntry(**changed)])


def test_total_size_and_distinct_blob_digests():
    built = Manifest.build(
        [entry("c", 5, D2), entry("a", 3, D1), entry("b", 3, D1), entry("d", 0, D3)]
    )
    assert built.total_size == 11
    assert built.blob_digests() == [D1, D2, D3]


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("model.onnx", "application/onnx"),
        ("weights/model.safetensors", "application/vnd.safetensors"),
        ("config.json", "application/json"),
        ("dir/CONFIG.JSON", "application/json"),
        ("params.yaml", "application/yaml"),
        ("params.yml", "application/yaml"),
        ("model.pkl", "application/x-pickle"),
        ("model.pt", "application/x-pytorch"),
        ("archive.tar.gz", "application/gzip"),
        ("README", None),
        ("dir.d/README", None),
        ("model.unknownext", None),
        ("train.py", None),
        ("image.png", None),
        ("trailing.", None),
    ],
)
def test_guess_media_type_uses_modeldepots_own_table(path, media_type):
    assert guess_media_type(path) == media_type


@pytest.mark.parametrize("extension", sorted(MEDIA_TYPES))
def test_every_guessed_media_type_is_accepted_in_a_manifest(extension):
    guessed = guess_media_type(f"file{extension}")
    assert guessed is not None
    Manifest.build([entry(f"file{extension}", media_type=guessed)])


# Paths a new version may not hold: they cannot be written on some common filesystem.
UNPORTABLE = [
    "C:evil.bin",
    "weights/c:model.bin",
    "stream.bin:hidden",
    "a<b",
    "a>b",
    'a"b',
    "a|b",
    "what?.bin",
    "star*.bin",
    "CON",
    "con",
    "nul.txt",
    "NUL.tar.gz",
    "dir/Aux.json",
    "prn/x.bin",
    "COM1",
    "com9.log",
    "LPT1.txt",
    "lpt9",
    "COM\u00b9",
    "nul .txt",
    "a.",
    "dir./x.bin",
    "trailing ",
    "dir /x.bin",
    "invoice\u202egnp.exe",  # RIGHT-TO-LEFT OVERRIDE: reads as invoiceexe.png
    "a\u202ab",
    "a\u2066b\u2069",  # isolates
    "a\u200eb",  # LEFT-TO-RIGHT MARK
    "a\u200fb",
    "zero\u200bwidth",
    "join\u200dme",
    "\ufeffbom.txt",
    "soft\u00adhyphen",
]


@pytest.mark.parametrize("path", UNPORTABLE)
def test_commit_rules_refuse_paths_some_filesystem_cannot_hold(path):
    with pytest.raises(PathInvalid) as excinfo:
        Manifest.build([entry(path)])
    assert excinfo.value.code == "PATH_INVALID"


@pytest.mark.parametrize("path", UNPORTABLE)
def test_safety_rule_alone_still_reads_unportable_paths(path):
    # Versions stored before the commit rules keep their paths readable.
    assert normalize_path(path) == path


@pytest.mark.parametrize(
    "path",
    [
        "CONFIG.json",
        "console.log",
        "nullable.bin",
        "COM10",
        "LPT0.txt",
        "auxiliary/x.bin",
        "a.b.c",
        ".hidden",
        "...x",
        "my model (final).bin",
        "caf\u00e9/\u6a21\u578b.bin",
        "\u05de\u05d5\u05d3\u05dc.bin",  # right-to-left letters are letters, not controls
        "a\u00a0b",  # no-break space (Zs) is printable enough to keep
        "emoji-\U0001f600.txt",
    ],
)
def test_commit_rules_accept_names_that_only_look_like_refused_ones(path):
    assert portable_path(path) == path
    assert Manifest.build([entry(path)]).entries[0].path == path


@pytest.mark.parametrize(
    "paths",
    [
        ["x", "x/y.bin"],
        ["a/b", "a/b/c/d.bin"],
        ["Model.bin", "model.bin"],
        ["weights/Model.bin", "WEIGHTS/model.bin"],
        ["Stra\u00dfe.bin", "STRASSE.bin"],  # case folding, not just lower()
        ["\u00c9t\u00e9.txt", "e\u0301t\u00e9.TXT".upper()],
        ["X", "x/y.bin"],  # a file and, by case, a directory
        ["a/B", "a/b/c.bin"],
    ],
)
def test_commit_rules_refuse_paths_that_cannot_all_be_files_of_one_tree(paths):
    with pytest.raises(PathConflict) as excinfo:
        Manifest.build([entry(p, digest=d) for p, d in zip(paths, (D1, D2), strict=True)])
    assert excinfo.value.code == "PATH_CONFLICT"
    conflict = excinfo.value.extra["paths"]
    assert len(conflict) == 2
    assert {normalize_path(p) for p in conflict} <= {normalize_path(p) for p in paths}


def test_directories_that_differ_only_by_case_are_not_a_conflict():
    # On a case-insensitive filesystem both files land in one directory, as two files.
    Manifest.build([entry("Weights/a.bin", digest=D1), entry("weights/b.bin", digest=D2)])


def test_a_file_and_a_directory_conflict_even_when_case_may_differ():
    check_layout(["x", "X/y.bin"], fold=False)
    with pytest.raises(PathConflict):
        check_layout(["x", "x/y.bin"], fold=False)


def test_path_conflict_is_a_manifest_error():
    with pytest.raises(ManifestInvalid):
        Manifest.build([entry("x", digest=D1), entry("x/y", digest=D2)])


def test_a_refused_disguised_name_is_shown_escaped_not_disguised():
    with pytest.raises(PathInvalid) as excinfo:
        portable_path("invoice\u202egnp.exe")
    assert "\u202e" not in excinfo.value.detail
    assert "\\u202e" in excinfo.value.detail
