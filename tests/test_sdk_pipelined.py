"""Pushes hash and send at once: the server is asked about hashed files in batches,
and the blobs it lacks go up while later files are still being hashed. Through the SDK
against a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from modeldepot.client import push as push_mod
from modeldepot.errors import ModelNotFound
from tests.conftest import make_model_dir
from tests.test_sdk import CountingProgress


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The digests of each ``/blobs/missing`` request this test's pushes made."""
    calls: list[list[str]] = []
    missing = push_mod.missing_digests

    def spied(http: Any, digests: list[str]) -> list[str]:
        calls.append(list(digests))
        return missing(http, digests)

    monkeypatch.setattr(push_mod, "missing_digests", spied)
    return calls


def test_uploads_start_before_the_last_file_is_hashed(
    client, uploaded: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The last file's hash waits for the first upload: with hashing done first, the
    push would never get there."""
    files = {"a.bin": os.urandom(1000), "b.bin": os.urandom(2000), "z.bin": os.urandom(3000)}
    source = make_model_dir(tmp_path / "m", files)
    first_upload = threading.Event()
    upload_blob, hash_file = push_mod.upload_blob, push_mod.hash_file

    def signalling_upload_blob(http: Any, file: Any, *args: Any, **kwargs: Any) -> Any:
        first_upload.set()
        return upload_blob(http, file, *args, **kwargs)

    def waiting_hash_file(path: str, file: Path, *args: Any) -> Any:
        if path == "z.bin":
            assert first_upload.wait(10), "no upload started while a file was being hashed"
        return hash_file(path, file, *args)

    monkeypatch.setattr(push_mod, "upload_blob", signalling_upload_blob)
    monkeypatch.setattr(push_mod, "hash_file", waiting_hash_file)
    progress = CountingProgress()
    version = client.push(source, "a/m", progress=progress)
    assert sorted(uploaded) == sorted(files)
    assert progress.totals == progress.done == {"push": 6000}
    manifest = {f.path: f.digest for f in client.get_manifest("a/m:1").files}
    assert manifest == {path: sha256(data) for path, data in files.items()}
    assert version.file_count == 3


def test_each_digest_is_asked_about_and_sent_once_across_batches(
    client,
    uploaded: list[str],
    asked: list[list[str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr(push_mod, "BATCH_FILES", 2)
    shared = os.urandom(5000)
    files = {f"f{i}.bin": os.urandom(100 + i) for i in range(5)}
    files |= {"copy-1/shared.bin": shared, "copy-2/shared.bin": shared, "shared.bin": shared}
    source = make_model_dir(tmp_path / "m", files)
    progress = CountingProgress()
    client.push(source, "a/m", progress=progress)
    every = [digest for call in asked for digest in call]
    assert len(asked) >= 3 and all(len(call) <= 2 for call in asked)
    assert sorted(every) == sorted({sha256(data) for data in files.values()})
    assert len(uploaded) == 6  # five distinct files and one copy of the shared one
    assert progress.totals == {"push": sum(map(len, files.values()))}
    # The shared bytes went up once; their other two copies were skipped.
    assert progress.skipped == {"push": 2 * len(shared)}
    assert progress.done == {"push": sum(map(len, files.values())) - 2 * len(shared)}
    client.pull("a/m:1", tmp_path / "out", use_cache=False)
    for path, data in files.items():
        assert (tmp_path / "out" / path).read_bytes() == data


def test_a_batch_the_server_already_holds_sends_nothing(
    client, uploaded: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Half the files are stored already (another model pushed them): only the others
    go up, whichever batch each lands in."""
    monkeypatch.setattr(push_mod, "BATCH_FILES", 1)
    old = {f"old-{i}.bin": os.urandom(700) for i in range(3)}
    new = {f"new-{i}.bin": os.urandom(900) for i in range(3)}
    client.push(make_model_dir(tmp_path / "before", old), "a/other")
    uploaded.clear()
    client.push(make_model_dir(tmp_path / "m", old | new), "a/m")
    assert sorted(uploaded) == sorted(new)


def test_a_file_that_vanishes_before_it_is_hashed_fails_the_push_and_no_version_appears(
    client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    files = {f"f{i}.bin": os.urandom(4000) for i in range(6)}
    source = make_model_dir(tmp_path / "m", files)
    hash_file = push_mod.hash_file

    def vanishing_hash_file(path: str, file: Path, *args: Any) -> Any:
        if path == "f3.bin":
            file.unlink()
        return hash_file(path, file, *args)

    monkeypatch.setattr(push_mod, "hash_file", vanishing_hash_file)
    with pytest.raises(FileNotFoundError, match=r"f3\.bin"):
        client.push(source, "a/m")
    with pytest.raises(ModelNotFound):
        client.get_model("a/m")
