"""Two real ``modeldepot serve`` processes on one PostgreSQL database and one S3 bucket
(a local moto server) behave as one registry.

Replicas share PostgreSQL, so these run on the PostgreSQL backend only.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modeldepot.client.client import Client
from modeldepot.digest import digest_bytes
from tests.conftest import make_model_dir
from tests.e2e.conftest import (
    _FAILED,
    ServerProcess,
    _close_all,
    new_server,
    server_token,
    share_token,
    unique_name,
)
from tests.s3server import REGION

MIB = 1024 * 1024


@pytest.fixture
def replicas(
    request: pytest.FixtureRequest,
    database_url: str,
    tmp_path: Path,
    s3_endpoint: str,
    s3_bucket: str,
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    if database_url.startswith("sqlite"):
        pytest.skip("replicas share a PostgreSQL database")
    prefix = f"replicas-{uuid.uuid4().hex[:12]}/"
    servers = []
    for name in ("a", "b"):
        server = new_server(tmp_path / name, database_url)
        server.env.update(
            {
                "MODELDEPOT_BLOBSTORE": "s3",
                "MODELDEPOT_S3_BUCKET": s3_bucket,
                "MODELDEPOT_S3_PREFIX": prefix,
                "MODELDEPOT_S3_ENDPOINT_URL": s3_endpoint,
                "MODELDEPOT_S3_REGION": REGION,
                "MODELDEPOT_AUTO_MIGRATE": "false",
            }
        )
        servers.append(server)
    try:
        for server in servers:
            server.start()
        # One principal on both: an upload session is its owner's alone.
        share_token(servers[1], servers[0])
        yield servers[0], servers[1]
    finally:
        _close_all(servers, request.node.stash.get(_FAILED, False))


def _client(server: ServerProcess, cache: Path) -> Client:
    return Client(server.url, cache_dir=cache, token=server_token(server))


def _data(size: int, seed: int) -> bytes:
    block = bytes((i * 13 + seed) % 256 for i in range(MIB))
    return (block * (size // MIB + 1))[:size]


def test_push_through_one_replica_pull_through_the_other(
    replicas: tuple[ServerProcess, ServerProcess], tmp_path: Path
) -> None:
    a, b = replicas
    name = unique_name("replicas")
    files = {"weights.bin": _data(20 * MIB + 3, 1), "README.md": b"# model"}
    with _client(a, tmp_path / "ca") as md:
        version = md.push(make_model_dir(tmp_path / "m", files), name)
    with _client(b, tmp_path / "cb") as md:
        assert md.get_version(f"{name}:{version.number}").digest == version.digest
        md.pull(f"{name}:{version.number}", tmp_path / "out")
    assert {p: (tmp_path / "out" / p).read_bytes() for p in files} == files


def test_sixteen_pushers_over_both_replicas_get_contiguous_numbers(
    replicas: tuple[ServerProcess, ServerProcess], tmp_path: Path
) -> None:
    name = unique_name("replicas", "contended")
    errors: list[BaseException] = []

    def push(i: int) -> None:
        try:
            model = make_model_dir(tmp_path / f"m{i}", {"w.bin": f"pusher {i}".encode() * 100})
            with _client(replicas[i % 2], tmp_path / f"c{i}") as md:
                md.push(model, name)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=push, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    with _client(replicas[1], tmp_path / "check") as md:
        numbers = sorted(v.number for v in md.list_versions(name, limit=100))
    assert numbers == list(range(1, 17))


def test_an_alias_moved_through_one_replica_reads_through_the_other(
    replicas: tuple[ServerProcess, ServerProcess], tmp_path: Path
) -> None:
    a, b = replicas
    name = unique_name("replicas", "aliased")
    with _client(a, tmp_path / "ca") as md_a, _client(b, tmp_path / "cb") as md_b:
        for i in range(2):
            md_a.push(make_model_dir(tmp_path / f"m{i}", {"w": f"v{i}".encode()}), name)
        for number in (1, 2, 1):
            md_a.set_alias(name, "champion", number)
            assert md_b.get_version(f"{name}@champion").number == number


def test_an_upload_started_through_one_replica_completes_through_the_other(
    replicas: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = replicas
    data = _data(40 * MIB + 11, 2)
    digest = digest_bytes(data)
    with httpx.Client(base_url=a.url + "/api/v1", timeout=60, headers=a.auth) as via_a:
        session = via_a.post(
            "/uploads", json={"digest": digest, "size": len(data), "presigned": True}
        ).json()
        size = session["presigned"]["part_size"]
        url = via_a.post(f"/uploads/{session['id']}/parts", json={"numbers": [1]}).json()
        httpx.put(url["urls"]["1"], content=data[:size]).raise_for_status()
    with httpx.Client(base_url=b.url + "/api/v1", timeout=60, headers=b.auth) as via_b:
        state = via_b.get(f"/uploads/{session['id']}").json()
        assert state["presigned"]["parts_done"] == [1]
        rest = list(range(2, state["presigned"]["part_count"] + 1))
        urls = via_b.post(f"/uploads/{session['id']}/parts", json={"numbers": rest}).json()
        for n in rest:
            part = data[(n - 1) * size : n * size]
            httpx.put(urls["urls"][str(n)], content=part).raise_for_status()
        assert via_b.post(f"/uploads/{session['id']}/complete").json()["complete"] is True
        name = unique_name("replicas", "joined")
        files = [{"path": "w.bin", "size": len(data), "digest": digest}]
        made = via_b.post(f"/models/{name}/-/versions", json={"files": files})
        assert made.status_code == 201
    with httpx.Client(base_url=a.url + "/api/v1", timeout=60, headers=a.auth) as via_a:
        assert via_a.get(f"/models/{name}/-/versions/1").json()["digest"] == made.json()["digest"]


def test_killing_a_replica_mid_upload_loses_nothing_and_the_client_resumes_elsewhere(
    replicas: tuple[ServerProcess, ServerProcess], tmp_path: Path
) -> None:
    a, b = replicas
    name = unique_name("replicas", "survivor")
    with _client(a, tmp_path / "ca") as md:
        committed = md.push(make_model_dir(tmp_path / "m0", {"w": b"committed"}), name)

    # Proxied bytes streaming into replica A, which dies mid-body.
    data = _data(30 * MIB + 7, 3)
    digest = digest_bytes(data)
    with httpx.Client(base_url=a.url + "/api/v1", timeout=60, headers=a.auth) as via_a:
        session = via_a.post("/uploads", json={"digest": digest, "size": len(data)}).json()

        def body() -> Iterator[bytes]:
            for start in range(0, 20 * MIB, MIB):
                yield data[start : start + MIB]
            # Once replica B sees bytes A flushed to the bucket, SIGKILL A mid-request.
            deadline = time.monotonic() + 30
            while (
                httpx.get(f"{b.url}/api/v1/uploads/{session['id']}", headers=b.auth).json()[
                    "offset"
                ]
                == 0
            ):
                assert time.monotonic() < deadline, "replica A flushed nothing"
                time.sleep(0.05)
            a.kill()
            yield data[20 * MIB : 21 * MIB]

        with pytest.raises(httpx.TransportError):
            via_a.patch(
                f"/uploads/{session['id']}",
                content=body(),
                headers={"Upload-Offset": "0", "Content-Length": str(len(data))},
            )

    with httpx.Client(base_url=b.url + "/api/v1", timeout=60, headers=b.auth) as via_b:
        offset = via_b.get(f"/uploads/{session['id']}").json()["offset"]
        assert 0 < offset <= 20 * MIB  # what was flushed to the bucket survived
        # The dead replica's lease on the session lapses within 30 s; until then B
        # answers UPLOAD_BUSY (the SDK waits and retries).
        deadline = time.monotonic() + 45
        while True:
            resumed = via_b.patch(
                f"/uploads/{session['id']}",
                content=data[offset:],
                headers={"Upload-Offset": str(offset)},
            )
            if resumed.status_code != 409 or time.monotonic() > deadline:
                break
            assert resumed.json()["code"] == "UPLOAD_BUSY"
            time.sleep(1)
        assert resumed.status_code == 200, resumed.text
        assert via_b.post(f"/uploads/{session['id']}/complete").json()["complete"] is True
    with _client(b, tmp_path / "cb") as md:
        md.pull(f"{name}:{committed.number}", tmp_path / "out")
        assert (tmp_path / "out" / "w").read_bytes() == b"committed"
        version = md.push(make_model_dir(tmp_path / "m1", {"big.bin": data}), name)
        assert version.number == committed.number + 1
