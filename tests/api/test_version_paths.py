"""Manifest paths over HTTP: what a commit refuses, so a version holds only paths every
filesystem can write (the rules themselves are tested in tests/test_manifest.py)."""

from __future__ import annotations

import json

from tests.api.helpers import assert_problem, commit, create_model, entry, model_url, put_blob
from tests.api.test_versions import NAME, assert_nothing_committed

INVALID_PATHS = {
    "absolute": "/etc/passwd",
    "dotdot": "a/../b",
    "leading dotdot": "../b",
    "NUL": "a\x00b",
    "backslash": "a\\b",
    "trailing slash": "dir/",
    "control character": "a\nb",
    "C1 control character": "a\x85b",
    "drive letter": "C:/x",
    "empty": "",
    "only dots": "./.",
}


def test_invalid_manifest_paths_are_400_path_invalid_and_commit_nothing(api) -> None:
    create_model(api, NAME)
    put_blob(api, b"x")
    for case, path in INVALID_PATHS.items():
        assert_problem(commit(api, NAME, [entry(path, b"x")]), 400, "PATH_INVALID", case)
    assert_nothing_committed(api)


UNPORTABLE_PATHS = {
    "colon (drive-relative on Windows)": "C:evil.bin",
    "colon (alternate data stream)": "weights.bin:hidden",
    "Windows device name": "nul.txt",
    "Windows device name as a directory": "dir/CON/x.bin",
    "trailing dot": "model.",
    "trailing space": "model.bin ",
    "bidirectional override": "invoice\u202egnp.exe",
    "zero-width joiner": "a\u200db.bin",
}


def test_paths_some_filesystem_cannot_hold_are_400_path_invalid(api) -> None:
    create_model(api, NAME)
    put_blob(api, b"x")
    for case, path in UNPORTABLE_PATHS.items():
        assert_problem(commit(api, NAME, [entry(path, b"x")]), 400, "PATH_INVALID", case)
    assert_nothing_committed(api)


def test_an_unpaired_surrogate_in_a_path_is_400_path_invalid_not_a_crash(api) -> None:
    # JSON can spell a lone surrogate (the escape "\\ud800"); no UTF-8 name holds one.
    create_model(api, NAME)
    file = {"path": "a\ud800b", "size": 1, "digest": put_blob(api, b"x")}
    body = json.dumps({"files": [file]})  # ASCII-only: the surrogate travels escaped
    response = api.post(
        model_url(NAME, "versions"), content=body, headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, "PATH_INVALID")
    assert_nothing_committed(api)


def test_paths_that_cannot_all_be_files_are_400_path_conflict(api) -> None:
    create_model(api, NAME)
    put_blob(api, b"x")
    put_blob(api, b"y")
    for paths in [("x", "x/y.bin"), ("Model.bin", "model.bin"), ("A/b.bin", "a/B.bin")]:
        files = [entry(paths[0], b"x"), entry(paths[1], b"y")]
        body = assert_problem(commit(api, NAME, files), 400, "PATH_CONFLICT", paths)
        assert sorted(body["paths"]) == sorted(paths)
    assert_nothing_committed(api)


def test_paths_equal_after_normalisation_are_400_path_duplicate(api) -> None:
    create_model(api, NAME)
    put_blob(api, b"x")
    for paths in [("a/b", "a/./b"), ("a/b", "a//b"), ("x", "./x")]:
        files = [entry(p, b"x") for p in paths]
        body = assert_problem(commit(api, NAME, files), 400, "PATH_DUPLICATE", paths)
        assert body["path"] == paths[0]
    assert_nothing_committed(api)
