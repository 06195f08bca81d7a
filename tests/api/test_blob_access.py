"""No side doors for bytes: a blob is reachable only through a model namespace.

A blob is readable by whoever may read a version listing it, or a model it was
uploaded for; to anyone else it does not exist (404, missing, absent), whatever the
store holds. Its bytes can still be pushed by uploading them: they are verified, linked
to the uploader's model and stored once. Uploads, cancellations, expiries and
collections are in the audit log.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from modeldepot.db.tables import audit_log
from modeldepot.db.types import utcnow
from modeldepot.registry import Registry
from modeldepot.registry.uploads import SWEEPER
from modeldepot.sample import SAMPLE_MIN_SIZE, sample_digest
from modeldepot.security.context import Context
from tests.api.helpers import (
    API,
    as_user,
    assert_json,
    assert_problem,
    digest_of,
    entry,
    model_url,
    push,
)

SECRET = b"weights of a model only its team may read"
DIGEST = digest_of(SECRET)


@pytest.fixture
def secret(api: TestClient) -> dict[str, Any]:
    """``secret/model`` version 1 holds SECRET, pushed by the admin."""
    return push(api, "secret/model", {"w.bin": SECRET})


@pytest.fixture
def eve(api: TestClient) -> dict[str, str]:
    """A contributor on ``team/``, who may not read ``secret/``."""
    return as_user(api, "eve", "contributor", "team")


def blob_files(registry: Registry, digest: str) -> list[str]:
    """The blob store's files holding ``digest``."""
    hex_digest = digest.removeprefix("sha256:")
    return [p.name for p in (registry.store.root / "sha256").rglob(hex_digest)]


def missing(api: TestClient, headers: dict[str, str], digests: list[str]) -> list[str]:
    response = api.post(f"{API}/blobs/missing", json={"digests": digests}, headers=headers)
    return assert_json(response, 200)["missing"]  # type: ignore[no-any-return]


def put(api: TestClient, headers: dict[str, str], data: bytes, model: str | None = "team/m"):
    params = {"model": model} if model is not None else {}
    return api.put(f"{API}/blobs/{digest_of(data)}", content=data, params=params, headers=headers)


def upload_session(
    api: TestClient, headers: dict[str, str], data: bytes, model: str = "team/m"
) -> str:
    body = {"digest": digest_of(data), "size": len(data), "model": model}
    session = assert_json(api.post(f"{API}/uploads", json=body, headers=headers), 201)
    return session["id"]  # type: ignore[no-any-return]


def audit_rows(registry: Registry, action: str) -> list[dict[str, Any]]:
    with registry.db.read() as conn:
        rows = conn.execute(
            select(audit_log.c.principal, audit_log.c.model, audit_log.c.record)
            .where(audit_log.c.action == action)
            .order_by(audit_log.c.seq)
        ).all()
    return [{"principal": p, "model": m, **json.loads(record)} for p, m, record in rows]


def test_a_blob_of_a_namespace_the_caller_cannot_read_is_404(api, secret, eve) -> None:
    assert api.get(f"{API}/blobs/{DIGEST}").content == SECRET  # the admin reads it
    assert_problem(api.get(f"{API}/blobs/{DIGEST}", headers=eve), 404, "BLOB_UNKNOWN")
    assert api.head(f"{API}/blobs/{DIGEST}", headers=eve).status_code == 404
    # Answered as for a digest nothing holds.
    absent = digest_of(b"nothing")
    assert_problem(api.get(f"{API}/blobs/{absent}", headers=eve), 404, "BLOB_UNKNOWN")
    # The file of the version too: the model does not exist for her.
    file_url = model_url("secret/model", "versions", "1", "files", "w.bin")
    assert_problem(api.get(file_url, headers=eve), 404, "MODEL_NOT_FOUND")
    assert api.get(file_url).content == SECRET


def test_a_reader_of_the_namespace_reads_its_blobs(api, secret) -> None:
    reader = as_user(api, "rita", "reader", "secret")
    assert api.get(f"{API}/blobs/{DIGEST}", headers=reader).content == SECRET
    assert missing(api, reader, [DIGEST]) == []


def test_missing_reports_a_blob_held_only_by_an_unreadable_model(api, secret, eve) -> None:
    own = digest_of(b"eve's own")
    assert_json(put(api, eve, b"eve's own"), 201)
    assert missing(api, eve, [DIGEST, own]) == [DIGEST]
    assert missing(api, {}, [DIGEST, own]) == []  # the admin reads everything


def test_the_uploader_of_stored_bytes_is_verified_linked_and_stores_one_copy(
    api, registry, secret, eve
) -> None:
    assert blob_files(registry, DIGEST) == [DIGEST.removeprefix("sha256:")]
    assert_json(put(api, eve, SECRET), 201)
    assert len(blob_files(registry, DIGEST)) == 1  # linked, not stored again
    assert list(registry.store.iter_staged()) == []
    assert api.get(f"{API}/blobs/{DIGEST}", headers=eve).content == SECRET
    assert missing(api, eve, [DIGEST]) == []
    files = [entry("w.bin", SECRET)]
    response = api.post(model_url("team/m", "versions"), json={"files": files}, headers=eve)
    assert_json(response, 201)
    file_url = model_url("team/m", "versions", "1", "files", "w.bin")
    assert api.get(file_url, headers=eve).content == SECRET


def test_an_upload_session_of_stored_bytes_is_verified_and_linked(
    api, registry, secret, eve
) -> None:
    upload_id = upload_session(api, eve, SECRET)
    # An open session proves nothing: the blob stays out of reach until it completes.
    assert api.head(f"{API}/blobs/{DIGEST}", headers=eve).status_code == 404
    sent = api.patch(
        f"{API}/uploads/{upload_id}", content=SECRET, headers={**eve, "Upload-Offset": "0"}
    )
    assert_json(sent, 200)
    assert_json(api.post(f"{API}/uploads/{upload_id}/complete", headers=eve), 200)
    assert len(blob_files(registry, DIGEST)) == 1
    assert api.get(f"{API}/blobs/{DIGEST}", headers=eve).content == SECRET


def test_other_bytes_under_a_stored_digest_are_refused_and_link_nothing(
    api, registry, secret, eve
) -> None:
    forged = b"x" * len(SECRET)  # the right size, not the right bytes
    response = api.put(
        f"{API}/blobs/{DIGEST}", content=forged, params={"model": "team/m"}, headers=eve
    )
    assert_problem(response, 400, "DIGEST_MISMATCH")
    upload_id = upload_session(api, eve, SECRET)
    api.patch(f"{API}/uploads/{upload_id}", content=forged, headers={**eve, "Upload-Offset": "0"})
    complete = api.post(f"{API}/uploads/{upload_id}/complete", headers=eve)
    assert_problem(complete, 400, "DIGEST_MISMATCH")
    assert_problem(api.get(f"{API}/blobs/{DIGEST}", headers=eve), 404, "BLOB_UNKNOWN")
    assert missing(api, eve, [DIGEST]) == [DIGEST]
    assert api.get(f"{API}/blobs/{DIGEST}").content == SECRET  # the stored copy is intact
    assert audit_rows(registry, "upload.complete")[-1]["principal"] == "admin"


def test_absent_reports_a_large_blob_held_only_by_an_unreadable_model(api, registry, eve) -> None:
    large = bytes(range(256)) * (SAMPLE_MIN_SIZE // 256 + 1)
    push(api, "secret/large", {"big.bin": large})
    sample = sample_digest(len(large), lambda offset, length: [large[offset : offset + length]])
    query = {"files": [{"size": len(large), "sample": sample}]}
    as_eve = api.post(f"{API}/blobs/absent", json=query, headers=eve)
    assert assert_json(as_eve, 200)["absent"] == [0]
    assert assert_json(api.post(f"{API}/blobs/absent", json=query), 200)["absent"] == []


def test_a_reader_cannot_upload(api) -> None:
    reader = as_user(api, "rita", "reader", "team")
    assert_problem(put(api, reader, b"data"), 403, "FORBIDDEN")
    body = {"digest": digest_of(b"data"), "size": 4, "model": "team/m"}
    assert_problem(api.post(f"{API}/uploads", json=body, headers=reader), 403, "FORBIDDEN")
    # Nor can a contributor elsewhere, nor anyone for a model it cannot even read.
    eve = as_user(api, "eve", "contributor", "team")
    assert_problem(put(api, eve, b"data", model="secret/m"), 403, "FORBIDDEN")


def test_an_upload_without_a_model_is_400_unless_the_caller_may_push_everywhere(api, eve) -> None:
    assert_problem(put(api, eve, b"data", model=None), 400, "UPLOAD_MODEL_REQUIRED")
    body = {"digest": digest_of(b"data"), "size": 4}
    response = api.post(f"{API}/uploads", json=body, headers=eve)
    assert_problem(response, 400, "UPLOAD_MODEL_REQUIRED")
    assert_json(put(api, {}, b"data", model=None), 201)  # the admin may


def test_another_principals_session_does_not_exist_for_the_caller(api, eve) -> None:
    upload_id = upload_session(api, eve, b"data")
    mallory = as_user(api, "mallory", "contributor", "team")
    url = f"{API}/uploads/{upload_id}"
    assert_problem(api.get(url, headers=mallory), 404, "UPLOAD_UNKNOWN")
    appended = api.patch(url, content=b"data", headers={**mallory, "Upload-Offset": "0"})
    assert_problem(appended, 404, "UPLOAD_UNKNOWN")
    assert_problem(api.delete(url, headers=mallory), 404, "UPLOAD_UNKNOWN")
    assert assert_json(api.get(url, headers=eve), 200)["offset"] == 0


def test_uploads_cancellations_expiries_and_collections_are_audited(api, registry, eve) -> None:
    assert_json(put(api, eve, b"kept"), 201)
    [completed] = audit_rows(registry, "upload.complete")
    assert (completed["principal"], completed["model"]) == ("eve", "team/m")
    assert completed["after"] == {"digest": digest_of(b"kept"), "size": 4}

    cancelled = upload_session(api, eve, b"cancelled")
    assert api.delete(f"{API}/uploads/{cancelled}", headers=eve).status_code == 204
    expired = upload_session(api, eve, b"expired")
    later = utcnow() + timedelta(seconds=registry.settings.upload_expiry_seconds + 60)
    assert registry.uploads.expire_uploads(SWEEPER, now=later) == 1
    abandoned = audit_rows(registry, "upload.abandon")
    assert [(r["target"], r["principal"], r["after"]["reason"]) for r in abandoned] == [
        (cancelled, "eve", "cancelled"),
        (expired, "upload-sweeper", "expired"),
    ]
    assert abandoned[1]["before"] == {"digest": digest_of(b"expired"), "size": 7}

    report = registry.gc.collect(Context.system("gc"), grace_seconds=0)
    assert report.blobs_deleted == 1
    [run] = audit_rows(registry, "gc.run")
    assert run["principal"] == "gc"
    assert (run["after"]["blobs_deleted"], run["after"]["bytes_freed"]) == (1, 4)
    assert blob_files(registry, digest_of(b"kept")) == []


def test_garbage_collection_is_the_registry_admins(registry, admin) -> None:
    from modeldepot.errors import Forbidden
    from modeldepot.security.access import Access, Grant
    from modeldepot.security.context import Principal
    from modeldepot.security.roles import Role

    maintainer = Context(Principal(7, "max", "user"), Access((Grant("", Role.MAINTAINER),)))
    with pytest.raises(Forbidden):
        registry.gc.collect(maintainer, dry_run=True)
    assert registry.gc.collect(admin, dry_run=True).dry_run


def test_a_version_cannot_claim_a_blob_its_pusher_cannot_read(api, secret, eve) -> None:
    files = [entry("w.bin", SECRET)]
    response = api.post(model_url("team/m", "versions"), json={"files": files}, headers=eve)
    assert_problem(response, 404, "BLOB_UNKNOWN")
    assert response.json()["missing"] == [DIGEST]
    # Once eve has sent the bytes herself, they are hers to use.
    assert (
        api.put(
            f"{API}/blobs/{DIGEST}", content=SECRET, params={"model": "team/m"}, headers=eve
        ).status_code
        == 201
    )
    assert (
        assert_json(
            api.post(model_url("team/m", "versions"), json={"files": files}, headers=eve), 201
        )["number"]
        == 1
    )


def test_a_streamed_upload_of_stored_bytes_is_verified_and_linked(
    api, registry, secret, eve
) -> None:
    body = {"size": len(SECRET), "model": "team/m"}
    upload_id = assert_json(api.post(f"{API}/uploads", json=body, headers=eve), 201)["id"]
    sent = api.patch(
        f"{API}/uploads/{upload_id}", content=SECRET, headers={**eve, "Upload-Offset": "0"}
    )
    assert_json(sent, 200)
    complete = api.post(f"{API}/uploads/{upload_id}/complete", json={"digest": DIGEST}, headers=eve)
    assert assert_json(complete, 200)["digest"] == DIGEST
    assert len(blob_files(registry, DIGEST)) == 1
    assert api.get(f"{API}/blobs/{DIGEST}", headers=eve).content == SECRET


def test_a_session_whose_bytes_are_gone_does_not_complete_on_anothers_blob(
    api, registry, secret, eve
) -> None:
    """Bytes discarded (a failed verification, a full disk) with the session still
    recorded: the stored blob of that digest is someone else's, and stays so."""
    upload_id = upload_session(api, eve, SECRET)
    registry.store.abort_upload(upload_id)
    complete = api.post(f"{API}/uploads/{upload_id}/complete", headers=eve)
    assert_problem(complete, 404, "UPLOAD_UNKNOWN")
    assert_problem(api.get(f"{API}/blobs/{DIGEST}", headers=eve), 404, "BLOB_UNKNOWN")
    assert_problem(api.get(f"{API}/uploads/{upload_id}", headers=eve), 404, "UPLOAD_UNKNOWN")
    assert audit_rows(registry, "upload.complete")[-1]["principal"] == "admin"
