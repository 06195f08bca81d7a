"""Helpers for the REST API tests: upload blobs, commit versions, check problem responses."""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

import httpx
from fastapi.testclient import TestClient

API = "/api/v1"
JSON = "application/json"
PROBLEM = "application/problem+json"


def as_user(api: TestClient, name: str, role: str = "admin", prefix: str = "/") -> dict[str, str]:
    """Headers authenticating as ``name``, a user created on first use with ``role`` on
    ``prefix`` in the registry ``api`` serves."""
    from modeldepot.errors import PrincipalExists
    from modeldepot.security.context import Context
    from modeldepot.security.roles import Role

    registry = api.app.state.registry  # type: ignore[attr-defined]
    ctx = Context.system("tests")
    with contextlib.suppress(PrincipalExists):
        registry.identity.create_principal(ctx, name)
    registry.identity.grant(ctx, name, prefix, Role.parse(role))
    token = registry.identity.create_token(ctx, "tests", owner=name).text
    return {"Authorization": f"Bearer {token}"}


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def model_url(name: str, *sub: str) -> str:
    """``/api/v1/models/<name>``, with sub-resources after ``/-/`` (``versions``, ``3``…)."""
    url = f"{API}/models/{name}"
    return f"{url}/-/{'/'.join(sub)}" if sub else url


def put_blob(api: TestClient, data: bytes) -> str:
    """Upload ``data`` in one ``PUT /blobs/{digest}``; return its digest."""
    digest = digest_of(data)
    response = api.put(f"{API}/blobs/{digest}", content=data)
    assert response.status_code == 201, response.text
    return digest


def entry(path: str, data: bytes, **extra: Any) -> dict[str, Any]:
    """The manifest entry of ``data`` stored at ``path``."""
    return {"path": path, "size": len(data), "digest": digest_of(data), **extra}


def commit(
    api: TestClient,
    name: str,
    files: list[dict[str, Any]],
    *,
    actor: str | None = None,
    **fields: Any,
) -> httpx.Response:
    """``POST /models/{name}/-/versions`` with ``files`` plus any other VersionCreate fields."""
    headers = as_user(api, actor) if actor else {}
    return api.post(model_url(name, "versions"), json={"files": files, **fields}, headers=headers)


def push(
    api: TestClient, name: str, files: dict[str, bytes] | None = None, **fields: Any
) -> dict[str, Any]:
    """Upload every blob of ``files`` (path -> bytes), commit them, return the version."""
    files = {"model.bin": b"weights"} if files is None else files
    for data in files.values():
        put_blob(api, data)
    response = commit(api, name, [entry(p, d) for p, d in files.items()], **fields)
    assert response.status_code in (200, 201), response.text
    return response.json()  # type: ignore[no-any-return]


def create_model(api: TestClient, name: str, **fields: Any) -> httpx.Response:
    return api.post(f"{API}/models", json={"name": name, **fields})


def resolve(api: TestClient, ref: str, **params: Any) -> httpx.Response:
    return api.get(f"{API}/resolve", params={"ref": ref, **params})


def assert_json(response: httpx.Response, status: int) -> Any:
    """Assert a successful JSON response with ``status``; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == JSON
    return response.json()


def assert_problem(
    response: httpx.Response, status: int, code: str, case: object = None
) -> dict[str, Any]:
    """Assert an ``application/problem+json`` answer with ``status`` and stable ``code``.

    ``case`` names the input in failure messages when a test loops over a table.
    """
    where = f"[{case!r}] " if case is not None else ""
    assert response.status_code == status, where + response.text
    assert response.headers["content-type"] == PROBLEM, where + response.headers["content-type"]
    body = response.json()
    assert (body["status"], body["code"]) == (status, code), where + repr(body)
    assert body["title"] and body["detail"], where + repr(body)
    return body  # type: ignore[no-any-return]
