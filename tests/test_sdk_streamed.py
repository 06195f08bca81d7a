"""Streamed pushes through the SDK against a real server: a large file the server
certainly lacks is sent while it is hashed; anything that might be stored is hashed
first, so unchanged content still sends no bytes. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from modeldepot.client import push as push_mod
from modeldepot.client import upload as upload_mod
from modeldepot.errors import DigestMismatch, ModelNotFound, UploadNotFound
from modeldepot.sample import SAMPLE_MIN_SIZE, window_offsets
from tests.conftest import make_model_dir
from tests.test_sdk import CountingProgress

BIG = SAMPLE_MIN_SIZE + 4096


class Spy:
    """Which files a push hashed first and which it streamed."""

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, streamed: list[str], uploaded: list[str]
    ) -> None:
        self.hashed_first: list[str] = []
        self.streamed = streamed
        self.uploaded = uploaded
        send_files = push_mod.send_files

        def spied_send_files(http: Any, files: list[tuple[str, Path]], *args: Any) -> Any:
            self.hashed_first += [path for path, _ in files]
            return send_files(http, files, *args)

        monkeypatch.setattr(push_mod, "send_files", spied_send_files)
        # Stream files from the smallest size that has a sample, to keep tests small.
        monkeypatch.setattr(push_mod, "STREAM_THRESHOLD", SAMPLE_MIN_SIZE)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch, streamed: list[str], uploaded: list[str]) -> Spy:
    return Spy(monkeypatch, streamed, uploaded)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_a_new_large_file_is_streamed_and_stored_under_its_digest(
    client, spy: Spy, tmp_path: Path
) -> None:
    big, small = os.urandom(BIG), b'{"lr": 0.1}'
    source = make_model_dir(tmp_path / "m", {"weights.bin": big, "config.json": small})
    progress = CountingProgress()
    version = client.push(source, "a/streamed", progress=progress)
    assert (spy.streamed, spy.hashed_first) == (["weights.bin"], ["config.json"])
    assert sorted(spy.uploaded) == ["config.json", "weights.bin"]
    assert progress.totals == progress.done == {"push": BIG + len(small)}
    files = {f.path: f.digest for f in client.get_manifest("a/streamed:1").files}
    assert files == {"weights.bin": sha256(big), "config.json": sha256(small)}
    assert version.total_size == BIG + len(small)
    client.pull("a/streamed:1", tmp_path / "out", use_cache=False)
    assert (tmp_path / "out" / "weights.bin").read_bytes() == big


def test_unchanged_content_is_hashed_first_and_sends_nothing(
    client, spy: Spy, tmp_path: Path
) -> None:
    source = make_model_dir(tmp_path / "m", {"weights.bin": os.urandom(BIG)})
    first = client.push(source, "a/m")
    spy.streamed.clear()
    spy.uploaded.clear()
    progress = CountingProgress()
    second = client.push(source, "b/other-model", progress=progress)
    assert (spy.streamed, spy.hashed_first[-1:]) == ([], ["weights.bin"])
    assert spy.uploaded == [] and progress.skipped == {"push": BIG}
    assert progress.done == {"push": 0}
    assert second.digest == first.digest


def test_a_file_that_only_looks_stored_is_hashed_first_and_sent(
    client, spy: Spy, tmp_path: Path
) -> None:
    """Same size and windows, other bytes between them: the sample matches, the digest
    does not, so the file goes up the usual way."""
    data = bytearray(os.urandom(BIG))
    client.push(make_model_dir(tmp_path / "v1", {"w.bin": bytes(data)}), "a/m")
    data[window_offsets(BIG)[2] - 1] ^= 0xFF
    spy.streamed.clear()
    spy.uploaded.clear()
    client.push(make_model_dir(tmp_path / "v2", {"w.bin": bytes(data)}), "a/m")
    assert spy.streamed == [] and spy.uploaded == ["w.bin"]
    client.pull("a/m:2", tmp_path / "out", use_cache=False)
    assert (tmp_path / "out" / "w.bin").read_bytes() == bytes(data)


def test_identical_new_files_in_one_push_go_up_once(client, spy: Spy, tmp_path: Path) -> None:
    data = os.urandom(BIG)
    source = make_model_dir(tmp_path / "m", {"a.bin": data, "copy/a.bin": data})
    progress = CountingProgress()
    client.push(source, "a/m", progress=progress)
    assert spy.streamed == [] and len(spy.uploaded) == 1
    # The copy is sent once: its second occurrence is skipped, not counted as sent.
    assert progress.totals == {"push": 2 * BIG}
    assert progress.done == progress.skipped == {"push": BIG}


def test_a_file_changed_while_streamed_is_refused_and_no_version_appears(
    client, live, monkeypatch: pytest.MonkeyPatch, spy: Spy, tmp_path: Path
) -> None:
    """The helper hashes the file only after the upload sent it and the file changed:
    the server got other bytes than the digest the client names, so it stores nothing."""
    source = make_model_dir(tmp_path / "m", {"w.bin": os.urandom(BIG)})
    sent = threading.Event()
    hash_file = push_mod.hash_file

    def late_hash_file(path: str, file: Path, *args: Any) -> Any:
        assert sent.wait(30)
        with open(file, "r+b") as changing:
            changing.write(b"changed")
        return hash_file(path, file, *args)

    class Progress(CountingProgress):
        def advance(self, n: int) -> None:
            super().advance(n)
            if self.done["push"] == BIG:
                sent.set()

    monkeypatch.setattr(push_mod, "hash_file", late_hash_file)
    with pytest.raises(DigestMismatch, match=r"w\.bin changed while it was pushed"):
        client.push(source, "a/m", progress=Progress())
    assert spy.streamed == ["w.bin"]
    with pytest.raises(ModelNotFound):  # created by a push's commit, which never came
        client.get_model("a/m")
    changed = sha256((source / "w.bin").read_bytes())
    answer = client.http.request("POST", "/blobs/missing", json={"digests": [changed]})
    assert answer.json()["missing"] == [changed]


def test_a_completion_whose_answer_was_lost_is_not_followed_by_a_second_upload(
    client, spy: Spy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The server completed the session, but the answer never came back and the retry
    found the session gone: the client sees that the blob is stored and goes on."""
    complete = upload_mod._complete
    opened: list[str] = []
    open_session = upload_mod._open_session

    def completed_then_lost(http: Any, upload_id: str, later: Any) -> None:
        complete(http, upload_id, later)
        raise UploadNotFound(f"upload {upload_id!r} does not exist or has expired")

    def counted_open_session(*args: Any, **kwargs: Any) -> Any:
        session = open_session(*args, **kwargs)
        opened.append(session.id)
        return session

    monkeypatch.setattr(upload_mod, "_complete", completed_then_lost)
    monkeypatch.setattr(upload_mod, "_open_session", counted_open_session)
    data = os.urandom(BIG)
    progress = CountingProgress()
    client.push(make_model_dir(tmp_path / "m", {"w.bin": data}), "a/m", progress=progress)
    assert spy.streamed == ["w.bin"] and len(opened) == 1
    assert progress.done["push"] == progress.totals["push"] == BIG
    client.pull("a/m:1", tmp_path / "out", use_cache=False)
    assert (tmp_path / "out" / "w.bin").read_bytes() == data
