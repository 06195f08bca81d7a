"""Helpers for the lineage, dataset, inventory, compare, card and history API tests."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.api.helpers import API, as_user, assert_json, model_url, push

SHA_A = "sha256:" + "a" * 64
SHA_B = "sha256:" + "b" * 64
SHA_C = "sha256:" + "c" * 64


def push_version(api: TestClient, name: str, content: bytes = b"weights", **fields: Any) -> int:
    """Push one file holding ``content`` with ``fields``; return the new version's number."""
    return int(push(api, name, {"model.bin": content}, **fields)["number"])


def dataset(uri: str, digest: str = "", **fields: Any) -> dict[str, Any]:
    """A ``DatasetUse`` of ``uri`` at ``digest``."""
    return {"uri": uri, "digest": digest, **fields}


def lineage(api: TestClient, name: str, number: int) -> dict[str, Any]:
    """``GET …/versions/{n}/lineage``, asserted 200."""
    return assert_json(api.get(model_url(name, "versions", str(number), "lineage")), 200)  # type: ignore[no-any-return]


def refs_of(relations: list[dict[str, Any]]) -> list[str]:
    """``name:number`` of each relation read, in order."""
    return [f"{r['model']}:{r['number']}" for r in relations]


def add_relation(api: TestClient, name: str, number: int, kind: str, target: str) -> httpx.Response:
    url = model_url(name, "versions", str(number), "relations")
    return api.post(url, json={"kind": kind, "target": target})


def remove_relation(
    api: TestClient, name: str, number: int, kind: str, target: str
) -> httpx.Response:
    url = model_url(name, "versions", str(number), "relations")
    return api.delete(url, params={"kind": kind, "target": target})


def set_alias(api: TestClient, name: str, alias: str, version: int) -> None:
    response = api.put(model_url(name, "aliases", alias), json={"version": version})
    assert response.status_code == 200, response.text


def record_pull(api: TestClient, name: str, number: int, actor: str) -> None:
    url = model_url(name, "versions", str(number), "pulls")
    response = api.post(url, headers=as_user(api, actor))
    assert (response.status_code, response.content) == (204, b""), response.text


def get(api: TestClient, path: str, **params: Any) -> httpx.Response:
    """``GET /api/v1{path}`` with query ``params``."""
    return api.get(f"{API}{path}", params=params)


def search(api: TestClient, kind: str, word: str) -> list[str]:
    """Model names, or ``name:number`` of versions, that the quoted ``word`` finds."""
    page = assert_json(api.get(f"{API}/search/{kind}", params={"q": f'"{word}"'}), 200)
    if kind == "models":
        return [m["name"] for m in page["items"]]
    return [f"{v['model']}:{v['number']}" for v in page["items"]]


def bearer(token: str) -> dict[str, str]:
    """The headers that authenticate with ``token``."""
    return {"Authorization": f"Bearer {token}"}


def concurrently(base_url: str, token: str, jobs: list[Any], job: Any) -> list[Any]:
    """Run ``job(http, item)`` for every item of ``jobs`` at once, each in its own thread
    with its own ``httpx.Client`` on ``base_url`` sending ``token``, released together
    by a barrier."""
    barrier = threading.Barrier(len(jobs))

    def run(item: Any) -> Any:
        with httpx.Client(base_url=base_url, headers=bearer(token), timeout=60) as http:
            barrier.wait()
            return job(http, item)

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(run, jobs))
