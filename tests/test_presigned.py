"""Presigned transfers: blob bytes go straight between clients and an S3 store (moto),
verified by the server before they are stored; on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from modeldepot.blobstore.presigned import MIN_PART_SIZE, part_count, part_size_for
from modeldepot.blobstore.s3 import S3BlobStore
from modeldepot.client import push as push_mod
from modeldepot.client.client import Client
from modeldepot.config import ServerSettings
from modeldepot.db.engine import Database
from modeldepot.digest import digest_bytes
from modeldepot.registry import Registry
from modeldepot.sample import SAMPLE_MIN_SIZE
from tests.conftest import LiveServer, make_model_dir

MIB = 1024 * 1024
EMPTY = digest_bytes(b"")


def _store(s3_client: Any, s3_bucket: str) -> S3BlobStore:
    return S3BlobStore(s3_bucket, f"presigned-{uuid.uuid4().hex[:12]}", client=s3_client)


@pytest.fixture
def s3_registry(db: Database, settings: ServerSettings, s3_client: Any, s3_bucket: str) -> Registry:
    return Registry(db, _store(s3_client, s3_bucket), settings)


@pytest.fixture
def s3_live(live_server: LiveServer, s3_registry: Registry) -> LiveServer:
    live_server.use(s3_registry)
    return live_server


@pytest.fixture
def api_http(s3_live: LiveServer, admin_token: str) -> Iterator[httpx.Client]:
    auth = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=s3_live.url + "/api/v1", timeout=30, headers=auth) as http:
        yield http


class Recorder:
    """Every request a Client sends to the modeldepot server (not to the store)."""

    def __init__(self, md: Client) -> None:
        self.seen: list[tuple[str, str]] = []
        # API requests and blob bytes go over whichever transport suits the URL
        # (``rawhttp`` or httpx): record them where the SDK makes them.
        http = md.http
        request, send_file, download = http.request, http.send_file, http.download

        def recorded_request(method: str, path: str, **kwargs: Any) -> Any:
            self.seen.append((method, path))
            return request(method, path, **kwargs)

        def recorded_send(method: str, target: str, *args: Any, **kwargs: Any) -> None:
            if not kwargs.get("store"):
                self.seen.append((method, target))
            send_file(method, target, *args, **kwargs)

        def recorded_download(target: str, **kwargs: Any) -> Any:
            if not kwargs.get("store"):
                self.seen.append(("GET", target))
            return download(target, **kwargs)

        http.request = recorded_request  # type: ignore[method-assign]
        http.send_file = recorded_send  # type: ignore[method-assign]
        http.download = recorded_download  # type: ignore[method-assign]

    def blob_bytes_through_server(self) -> list[tuple[str, str]]:
        """Requests that carried blob bytes (the empty blob's PUT carries none)."""
        return [
            (method, path)
            for method, path in self.seen
            if (method in ("PUT", "PATCH") and path.startswith(("/blobs/", "/uploads/")))
            or (method == "GET" and path.startswith("/blobs/sha256:"))
            if path.partition("?")[0] != f"/blobs/{EMPTY}"
        ]


def _blob(size: int, seed: int = 0) -> bytes:
    block = bytes((i * 31 + seed) % 251 for i in range(MIB))
    return (block * (size // MIB + 1))[:size]


def test_push_and_pull_move_no_blob_bytes_through_the_server(
    admin_token: str, s3_live: LiveServer, tmp_path: Path
) -> None:
    files = {"weights.bin": _blob(40 * MIB + 5), "config.json": b'{"a": 1}', "empty": b""}
    model = make_model_dir(tmp_path / "model", files)
    with Client(s3_live.url, cache_dir=tmp_path / "c1", token=admin_token) as md:
        seen = Recorder(md)
        version = md.push(model, "s3/presigned")
        assert seen.blob_bytes_through_server() == []
        assert ("POST", "/uploads") in seen.seen
    with Client(s3_live.url, cache_dir=tmp_path / "c2", token=admin_token) as md:
        seen = Recorder(md)
        md.pull(f"s3/presigned:{version.number}", tmp_path / "out")
        assert ("POST", "/blobs/urls") in seen.seen
        assert seen.blob_bytes_through_server() == []
    for name, data in files.items():
        assert (tmp_path / "out" / name).read_bytes() == data


def test_a_new_large_file_streams_to_the_store_and_its_sample_is_read_back_from_it(
    admin_token: str,
    s3_live: LiveServer,
    s3_registry: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    streamed: list[str],
) -> None:
    """Streamed (sent while hashed, digest named at completion) straight to the store;
    a second push finds the stored blob by its sample, read from the bucket, and sends
    nothing."""
    monkeypatch.setattr(push_mod, "STREAM_THRESHOLD", SAMPLE_MIN_SIZE)
    data = os.urandom(SAMPLE_MIN_SIZE + MIN_PART_SIZE + 3)
    model = make_model_dir(tmp_path / "model", {"weights.bin": data})
    with Client(s3_live.url, cache_dir=tmp_path / "c1", token=admin_token) as md:
        seen = Recorder(md)
        first = md.push(model, "s3/streamed")
        opened = [p for m, p in seen.seen if (m, p) == ("POST", "/uploads")]
        assert len(opened) == 1 and seen.blob_bytes_through_server() == []
        assert streamed == ["weights.bin"]
        again = md.push(model, "s3/streamed")
        assert again.digest == first.digest
        assert len([p for m, p in seen.seen if (m, p) == ("POST", "/uploads")]) == 1
        assert streamed == ["weights.bin"]
    assert s3_registry.store.stat(digest_bytes(data)) == len(data)
    with Client(s3_live.url, cache_dir=tmp_path / "c2", token=admin_token) as md:
        md.pull("s3/streamed:1", tmp_path / "out")
    assert (tmp_path / "out" / "weights.bin").read_bytes() == data


def test_a_presigned_session_resumes_with_the_parts_it_lacks(
    api_http: httpx.Client, s3_registry: Registry
) -> None:
    data = _blob(2 * MIN_PART_SIZE + 123, seed=7)
    digest = digest_bytes(data)
    session = api_http.post(
        "/uploads", json={"digest": digest, "size": len(data), "presigned": True}
    ).json()
    plan = session["presigned"]
    assert plan == {"part_size": MIN_PART_SIZE, "part_count": 3, "parts_done": []}
    urls = api_http.post(f"/uploads/{session['id']}/parts", json={"numbers": [1, 2, 3]}).json()
    size = plan["part_size"]
    put = httpx.put(urls["urls"]["2"], content=data[size : 2 * size])
    assert put.status_code == 200

    state = api_http.get(f"/uploads/{session['id']}").json()
    assert state["presigned"]["parts_done"] == [2]
    assert state["offset"] == 0  # the leading run of parts is empty
    early = api_http.post(f"/uploads/{session['id']}/complete")
    assert early.status_code == 409 and early.json()["code"] == "UPLOAD_INCOMPLETE"

    # Resumed elsewhere: fresh URLs, only the missing parts.
    missing = [n for n in range(1, 4) if n not in state["presigned"]["parts_done"]]
    fresh = api_http.post(f"/uploads/{session['id']}/parts", json={"numbers": missing}).json()
    for number in missing:
        chunk = data[(number - 1) * size : number * size]
        assert httpx.put(fresh["urls"][str(number)], content=chunk).status_code == 200
    state = api_http.get(f"/uploads/{session['id']}").json()
    assert state["presigned"]["parts_done"] == [1, 2, 3] and state["offset"] == len(data)
    done = api_http.post(f"/uploads/{session['id']}/complete").json()
    assert done["complete"] is True
    assert s3_registry.store.stat(digest) == len(data)
    blob = httpx.get(
        api_http.post("/blobs/urls", json={"digests": [digest]}).json()["urls"][digest]
    )
    assert blob.content == data


def test_bytes_that_do_not_match_are_refused_and_nothing_is_stored(
    api_http: httpx.Client, s3_registry: Registry
) -> None:
    data = _blob(MIN_PART_SIZE + 10, seed=3)
    digest = digest_bytes(data)
    session = api_http.post(
        "/uploads", json={"digest": digest, "size": len(data), "presigned": True}
    ).json()
    urls = api_http.post(f"/uploads/{session['id']}/parts", json={"numbers": [1, 2]}).json()
    forged = bytearray(data)
    forged[5] ^= 0xFF
    size = session["presigned"]["part_size"]
    httpx.put(urls["urls"]["1"], content=bytes(forged[:size])).raise_for_status()
    httpx.put(urls["urls"]["2"], content=bytes(forged[size:])).raise_for_status()
    refused = api_http.post(f"/uploads/{session['id']}/complete")
    assert refused.status_code == 400 and refused.json()["code"] == "DIGEST_MISMATCH"
    assert s3_registry.store.stat(digest) is None
    gone = api_http.get(f"/uploads/{session['id']}")
    assert gone.status_code == 404 and gone.json()["code"] == "UPLOAD_UNKNOWN"
    missing = api_http.post("/blobs/urls", json={"digests": [digest]})
    assert missing.status_code == 404 and missing.json()["missing"] == [digest]


def test_bad_part_requests_get_clear_errors(api_http: httpx.Client) -> None:
    data = b"x" * 1000
    digest = digest_bytes(data)
    session = api_http.post(
        "/uploads", json={"digest": digest, "size": len(data), "presigned": True}
    ).json()
    for numbers in ([0], [2], [True], []):
        bad = api_http.post(f"/uploads/{session['id']}/parts", json={"numbers": numbers})
        assert bad.status_code in (400, 422) and bad.json()["code"] == "INVALID_INPUT", numbers
    # Bytes of a presigned session go to the store, not through PATCH.
    patch = api_http.patch(
        f"/uploads/{session['id']}", content=data, headers={"Upload-Offset": "0"}
    )
    assert patch.status_code == 400 and patch.json()["code"] == "INVALID_INPUT"
    plain = api_http.post("/uploads", json={"digest": digest, "size": len(data)}).json()
    assert plain["presigned"] is None
    refused = api_http.post(f"/uploads/{plain['id']}/parts", json={"numbers": [1]})
    assert refused.status_code == 400
    unknown = api_http.post(f"/uploads/{'0' * 32}/parts", json={"numbers": [1]})
    assert unknown.status_code == 404 and unknown.json()["code"] == "UPLOAD_UNKNOWN"
    # An empty blob has nothing to send: the session is an ordinary one.
    empty = api_http.post(
        "/uploads", json={"digest": digest_bytes(b""), "size": 0, "presigned": True}
    ).json()
    assert empty["presigned"] is None


def test_stores_without_presigning_say_so_and_clients_fall_back(
    admin_token: str, live: LiveServer, api: Any, tmp_path: Path
) -> None:
    session = api.post(
        "/api/v1/uploads", json={"digest": digest_bytes(b"abc"), "size": 3, "presigned": True}
    ).json()
    assert session["presigned"] is None
    # No URLs, and no error either: relaying is the ordinary way of a local store.
    answer = api.post("/api/v1/blobs/urls", json={"digests": [digest_bytes(b"abc")]})
    assert answer.status_code == 200 and answer.json()["urls"] == {}
    model = make_model_dir(tmp_path / "m", {"a.bin": b"a" * 1000})
    with Client(live.url, cache_dir=tmp_path / "c", token=admin_token) as md:
        version = md.push(model, "local/fallback")
        assert md.http.presigned is False
        md.pull(f"local/fallback:{version.number}", tmp_path / "out")
    assert (tmp_path / "out" / "a.bin").read_bytes() == b"a" * 1000


def test_operators_can_turn_presigning_off(
    db: Database, settings: ServerSettings, s3_client: Any, s3_bucket: str, api: Any
) -> None:
    off = dataclasses.replace(settings, presigned_transfers=False)
    api.app.state.registry = Registry(db, _store(s3_client, s3_bucket), off)
    session = api.post(
        "/api/v1/uploads", json={"digest": digest_bytes(b"abc"), "size": 3, "presigned": True}
    ).json()
    assert session["presigned"] is None


def test_clients_that_cannot_reach_the_store_use_the_server(
    admin_token: str,
    s3_live: LiveServer,
    db: Database,
    settings: ServerSettings,
    s3_client: Any,
    s3_bucket: str,
    tmp_path: Path,
) -> None:
    files = {"w.bin": _blob(3 * MIB, seed=5)}
    model = make_model_dir(tmp_path / "model", files)
    with Client(s3_live.url, cache_dir=tmp_path / "c0", token=admin_token) as md:
        md.http.presigned = False  # what MODELDEPOT_USE_PRESIGNED_URLS=false does
        seen = Recorder(md)
        version = md.push(model, "s3/proxied")
        assert seen.blob_bytes_through_server() != []
    # The server hands out URLs for an endpoint this client cannot reach.
    store = _store(s3_client, s3_bucket)
    store._presigner = _unreachable_presigner()
    store.prefix = s3_live.app.state.registry.store.prefix  # type: ignore[attr-defined]
    s3_live.use(Registry(db, store, settings))
    with Client(s3_live.url, cache_dir=tmp_path / "c1", token=admin_token) as md:
        md.pull(f"s3/proxied:{version.number}", tmp_path / "out")
    assert (tmp_path / "out" / "w.bin").read_bytes() == files["w.bin"]


def _unreachable_presigner() -> Any:
    import boto3
    from botocore.config import Config

    from tests.conftest import free_port

    return boto3.session.Session().client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )


@pytest.mark.parametrize(
    ("size", "part_size", "count"),
    [
        (1, 16 * MIB, 1),
        (16 * MIB, 16 * MIB, 1),
        (16 * MIB + 1, 16 * MIB, 2),
        (10_000 * 16 * MIB, 16 * MIB, 10_000),
        (10_000 * 16 * MIB + 1, 17 * MIB, 9_412),
        (5 * 1024**4, 525 * MIB, 9_987),
    ],
)
def test_part_plans_stay_within_s3s_limits(size: int, part_size: int, count: int) -> None:
    assert part_size_for(size) == part_size
    assert part_count(size, part_size) == count <= 10_000


def test_part_urls_are_asked_for_in_batches_as_the_upload_goes(
    admin_token: str, s3_live: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modeldepot.client import upload as upload_module

    monkeypatch.setattr(upload_module, "PART_URL_BATCH", 2)
    data = _blob(2 * MIN_PART_SIZE + 77, seed=9)  # three parts: batches of 2 and 1
    model = make_model_dir(tmp_path / "model", {"w.bin": data})
    with Client(s3_live.url, cache_dir=tmp_path / "c", token=admin_token) as md:
        seen = Recorder(md)
        version = md.push(model, "s3/batched")
        asked = [path for method, path in seen.seen if path.endswith("/parts")]
        assert len(asked) == 2 and seen.blob_bytes_through_server() == []
        md.pull(f"s3/batched:{version.number}", tmp_path / "out")
    assert (tmp_path / "out" / "w.bin").read_bytes() == data


def test_a_failed_part_is_sent_again_and_only_it(
    admin_token: str, s3_live: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modeldepot.client import upload as upload_module
    from modeldepot.client.http import Http
    from modeldepot.errors import ServerUnreachable

    monkeypatch.setattr(upload_module.time, "sleep", lambda seconds: None)
    real_send = Http.send_file
    puts: list[int] = []

    def flaky_send(self: Http, method: str, target: str, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("store"):
            length = args[2]
            puts.append(length)
            if len(puts) == 2:  # the store drops the second part sent, once
                kwargs["sent"](length)
                raise ServerUnreachable("connection reset by the store")
        real_send(self, method, target, *args, **kwargs)

    monkeypatch.setattr(Http, "send_file", flaky_send)
    data = _blob(2 * MIN_PART_SIZE + 5, seed=11)
    model = make_model_dir(tmp_path / "model", {"w.bin": data})
    with Client(s3_live.url, cache_dir=tmp_path / "c", token=admin_token, workers=1) as md:
        version = md.push(model, "s3/flaky")
        md.pull(f"s3/flaky:{version.number}", tmp_path / "out")
    assert (tmp_path / "out" / "w.bin").read_bytes() == data
    assert len(puts) == 4  # three parts, one of them twice


def test_a_part_url_signs_its_parts_length(api_http: httpx.Client) -> None:
    """A part cannot stage more bytes than its share of the declared size: its URL signs
    the length (SigV4 ``X-Amz-SignedHeaders``), which S3 then enforces. The local S3
    server does not check signatures, so the URL is what is checked here."""
    data = _blob(MIN_PART_SIZE + 10, seed=4)
    session = api_http.post(
        "/uploads", json={"digest": digest_bytes(data), "size": len(data), "presigned": True}
    ).json()
    urls = api_http.post(f"/uploads/{session['id']}/parts", json={"numbers": [1, 2]}).json()
    for number in ("1", "2"):
        query = parse_qs(urlsplit(urls["urls"][number]).query)
        assert "content-length" in query["X-Amz-SignedHeaders"][0].split(";")
    size = session["presigned"]["part_size"]
    httpx.put(urls["urls"]["1"], content=data[:size]).raise_for_status()
    httpx.put(urls["urls"]["2"], content=data[size:]).raise_for_status()
    done = api_http.post(f"/uploads/{session['id']}/complete")
    assert done.status_code == 200, done.text


def test_download_urls_and_presigned_uploads_are_scoped_to_namespaces(
    api_http: httpx.Client, s3_registry: Registry
) -> None:
    """A blob of a model the caller cannot read gets no URL (404, as if absent); its
    bytes sent through a presigned session are verified by the store, linked to the
    uploader's model, and kept once."""
    from modeldepot.security.context import Context
    from modeldepot.security.roles import Role

    data = b"a secret blob, straight to the bucket"
    digest = digest_bytes(data)
    api_http.put(f"/blobs/{digest}", content=data).raise_for_status()
    files = [{"path": "s.bin", "size": len(data), "digest": digest}]
    api_http.post("/models/secret/m/-/versions", json={"files": files}).raise_for_status()
    operator = Context.system("tests")
    s3_registry.identity.create_principal(operator, "eve")
    s3_registry.identity.grant(operator, "eve", "team", Role.CONTRIBUTOR)
    token = s3_registry.identity.create_token(operator, "t", owner="eve").text
    eve = {"Authorization": f"Bearer {token}"}

    refused = api_http.post("/blobs/urls", json={"digests": [digest]}, headers=eve)
    assert refused.status_code == 404 and refused.json()["code"] == "BLOB_UNKNOWN"
    assert refused.json()["missing"] == [digest]
    assert digest in api_http.post("/blobs/urls", json={"digests": [digest]}).json()["urls"]

    body = {"digest": digest, "size": len(data), "presigned": True, "model": "team/m"}
    session = api_http.post("/uploads", json=body, headers=eve).json()
    part = api_http.post(f"/uploads/{session['id']}/parts", json={"numbers": [1]}, headers=eve)
    httpx.put(part.json()["urls"]["1"], content=data).raise_for_status()
    api_http.post(f"/uploads/{session['id']}/complete", headers=eve).raise_for_status()
    urls = api_http.post("/blobs/urls", json={"digests": [digest]}, headers=eve).json()["urls"]
    assert httpx.get(urls[digest]).content == data
    assert [b.digest for b in s3_registry.store.iter_blobs()].count(digest) == 1
