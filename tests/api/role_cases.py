"""The role matrix's cases: for every route, the least caller allowed and a request
(see ``test_role_matrix.py``)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.api.helpers import API

CALLERS = ("nobody", "reader", "contributor", "maintainer", "admin", "root")
RANK = {caller: i for i, caller in enumerate(CALLERS)}
USERS = {
    "nobody": "nobody",
    **{role: f"the-{role}" for role in CALLERS[1:5]},
    "root": "admin",
}
BLOB = b"weights"
DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()


@dataclass
class World:
    api: TestClient
    headers: dict[str, dict[str, str]]
    # Each route is tried on models (and accounts, groups) of its own, numbered here.
    round: int = 0
    # The alias the seed points at version 1 and the alias routes move: not one of the
    # protected ones, which only a promotion request moves (the guard's own test walks
    # these cases with ``alias="production"``).
    alias: str = "champion"

    def model(self, caller: str) -> str:
        return f"ads/m{self.round}-{caller}"

    def name(self, kind: str, caller: str) -> str:
        """A name of its own for an account or group a case makes."""
        return f"{kind}{self.round}-{caller}"

    def user(self, caller: str) -> str:
        """The account name of ``caller``."""
        return USERS[caller]

    def call(self, caller: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers[caller], **kwargs.pop("headers", {})}
        return self.api.request(method, f"{API}{path}", headers=headers, **kwargs)

    def root(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.call("root", method, path, **kwargs)
        assert response.status_code < 300, (method, path, response.text)
        return response


Request = Callable[[World, str, str], httpx.Response]  # world, caller, its model


@dataclass(frozen=True)
class Case:
    least: str  # the least caller allowed
    request: Request
    # What an allowed call answers, when not a success: a session on the local store
    # has no presigned part URLs (400), which still means the call was let through.
    allowed: tuple[int, ...] = ()
    # Refusals may also answer 404 where the target is another principal's (an upload
    # session exists only for its owner).
    hidden: bool = False
    # False for what is granted on the registry, not on a model: refused with 403 to
    # everyone below, since there is no model to hide.
    scoped: bool = True


def m(path: str) -> Callable[[str], str]:
    return lambda model: f"/models/{model}{path}"


def get(path: str) -> Request:
    return lambda w, caller, model: w.call(caller, "GET", m(path)(model))


def req(method: str, path: str, **kwargs: Any) -> Request:
    """``method`` on ``path``, where ``{m}`` is the caller's model and ``{a}`` the alias."""
    return lambda w, caller, model: w.call(
        caller, method, path.format(m=model, a=w.alias), **kwargs
    )


CASES: dict[tuple[str, str], Case] = {
    # Models
    ("GET", "/api/v1/models"): Case("nobody", lambda w, c, mo: w.call(c, "GET", "/models")),
    ("POST", "/api/v1/models"): Case(
        "contributor",
        lambda w, c, mo: w.call(c, "POST", "/models", json={"name": f"{mo}-new"}),
    ),
    ("GET", "/api/v1/models/{name:path}"): Case("reader", get("")),
    ("PATCH", "/api/v1/models/{name:path}"): Case(
        "contributor",
        req("PATCH", "/models/{m}", json={"description": "d"}),
    ),
    ("DELETE", "/api/v1/models/{name:path}"): Case("maintainer", req("DELETE", "/models/{m}")),
    ("POST", "/api/v1/models/{name:path}/-/restore"): Case(
        "maintainer",
        lambda w, c, mo: (
            w.root("DELETE", f"/models/{mo}"),
            w.call(c, "POST", f"/models/{mo}/-/restore"),
        )[1],
    ),
    ("PUT", "/api/v1/models/{name:path}/-/tags/{key:path}"): Case(
        "contributor",
        req("PUT", "/models/{m}/-/tags/k", json={"value": "v"}),
    ),
    ("DELETE", "/api/v1/models/{name:path}/-/tags/{key:path}"): Case(
        "contributor", req("DELETE", "/models/{m}/-/tags/team")
    ),
    ("GET", "/api/v1/models/{name:path}/-/card"): Case("reader", get("/-/card")),
    ("PUT", "/api/v1/models/{name:path}/-/card"): Case(
        "contributor",
        req("PUT", "/models/{m}/-/card", json={"card": "# x"}),
    ),
    ("DELETE", "/api/v1/models/{name:path}/-/card"): Case(
        "contributor", req("DELETE", "/models/{m}/-/card")
    ),
    # Versions
    ("GET", "/api/v1/models/{name:path}/-/versions"): Case("reader", get("/-/versions")),
    ("POST", "/api/v1/models/{name:path}/-/versions"): Case(
        "contributor",
        lambda w, c, mo: w.call(
            c,
            "POST",
            f"/models/{mo}/-/versions",
            json={"files": [{"path": "w.bin", "size": len(BLOB), "digest": DIGEST}]},
        ),
    ),
    ("GET", "/api/v1/models/{name:path}/-/versions/{number}"): Case("reader", get("/-/versions/1")),
    ("DELETE", "/api/v1/models/{name:path}/-/versions/{number}"): Case(
        "maintainer", req("DELETE", "/models/{m}/-/versions/2")
    ),
    ("POST", "/api/v1/models/{name:path}/-/versions/{number}/restore"): Case(
        "maintainer",
        lambda w, c, mo: (
            w.root("DELETE", f"/models/{mo}/-/versions/2"),
            w.call(c, "POST", f"/models/{mo}/-/versions/2/restore"),
        )[1],
    ),
    ("GET", "/api/v1/models/{name:path}/-/versions/{number}/manifest"): Case(
        "reader", get("/-/versions/1/manifest")
    ),
    ("GET", "/api/v1/models/{name:path}/-/versions/{number}/files/{path:path}"): Case(
        "reader", get("/-/versions/1/files/w.bin")
    ),
    ("HEAD", "/api/v1/models/{name:path}/-/versions/{number}/files/{path:path}"): Case(
        "reader", req("HEAD", "/models/{m}/-/versions/1/files/w.bin")
    ),
    ("PUT", "/api/v1/models/{name:path}/-/versions/{number}/tags/{key:path}"): Case(
        "contributor",
        req("PUT", "/models/{m}/-/versions/1/tags/k", json={"value": "v"}),
    ),
    ("DELETE", "/api/v1/models/{name:path}/-/versions/{number}/tags/{key:path}"): Case(
        "contributor", req("DELETE", "/models/{m}/-/versions/1/tags/stage")
    ),
    ("GET", "/api/v1/resolve"): Case(
        "reader", lambda w, c, mo: w.call(c, "GET", "/resolve", params={"ref": f"{mo}@{w.alias}"})
    ),
    # Lineage
    ("GET", "/api/v1/models/{name:path}/-/versions/{number}/lineage"): Case(
        "reader", get("/-/versions/1/lineage")
    ),
    ("POST", "/api/v1/models/{name:path}/-/versions/{number}/relations"): Case(
        "contributor",
        lambda w, c, mo: w.call(
            c,
            "POST",
            f"/models/{mo}/-/versions/2/relations",
            json={"kind": "derived_from", "target": f"{mo}:1"},
        ),
    ),
    ("DELETE", "/api/v1/models/{name:path}/-/versions/{number}/relations"): Case(
        "contributor",
        lambda w, c, mo: (
            w.root(
                "POST",
                f"/models/{mo}/-/versions/2/relations",
                json={"kind": "derived_from", "target": f"{mo}:1"},
            ),
            w.call(
                c,
                "DELETE",
                f"/models/{mo}/-/versions/2/relations",
                params={"kind": "derived_from", "target": f"{mo}:1"},
            ),
        )[1],
    ),
    ("GET", "/api/v1/models/{name:path}/-/versions/{number}/requirements"): Case(
        "reader", get("/-/versions/1/requirements")
    ),
    ("GET", "/api/v1/models/{name:path}/-/versions/{number}/card"): Case(
        "reader", get("/-/versions/1/card")
    ),
    ("POST", "/api/v1/models/{name:path}/-/versions/{number}/pulls"): Case(
        "reader", req("POST", "/models/{m}/-/versions/1/pulls")
    ),
    ("GET", "/api/v1/lineage/graph"): Case(
        "reader", lambda w, c, mo: w.call(c, "GET", "/lineage/graph", params={"ref": f"{mo}:1"})
    ),
    ("GET", "/api/v1/diff"): Case(
        "reader",
        lambda w, c, mo: w.call(c, "GET", "/diff", params={"a": f"{mo}:1", "b": f"{mo}:2"}),
    ),
    # Aliases
    ("GET", "/api/v1/models/{name:path}/-/aliases"): Case("reader", get("/-/aliases")),
    ("GET", "/api/v1/models/{name:path}/-/alias-history"): Case("reader", get("/-/alias-history")),
    ("GET", "/api/v1/models/{name:path}/-/aliases/{alias}"): Case(
        "reader", req("GET", "/models/{m}/-/aliases/{a}")
    ),
    ("PUT", "/api/v1/models/{name:path}/-/aliases/{alias}"): Case(
        "maintainer", req("PUT", "/models/{m}/-/aliases/{a}", json={"version": 2})
    ),
    ("DELETE", "/api/v1/models/{name:path}/-/aliases/{alias}"): Case(
        "maintainer", req("DELETE", "/models/{m}/-/aliases/{a}")
    ),
    ("GET", "/api/v1/models/{name:path}/-/aliases/{alias}/history"): Case(
        "reader", req("GET", "/models/{m}/-/aliases/{a}/history")
    ),
}


def session(w: World, caller: str, model: str) -> str:
    """An upload session of ``caller``'s (of root's, for callers who may not upload)."""
    owner = caller if RANK[caller] >= RANK["contributor"] else "root"
    body = {"size": len(BLOB), "digest": DIGEST, "model": model}
    response = w.call(owner, "POST", "/uploads", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def on_session(method: str, suffix: str = "", **kwargs: Any) -> Request:
    def request(w: World, caller: str, model: str) -> httpx.Response:
        upload = session(w, caller, model)
        return w.call(caller, method, f"/uploads/{upload}{suffix}", **kwargs)

    return request


def dataset_id(w: World, model: str) -> int:
    page = w.root("GET", "/datasets", params={"uri_prefix": f"s3://data/{model}"}).json()
    return int(page["items"][0]["id"])


BLOBS_QUERY = {"json": {"digests": [DIGEST]}}
CASES.update(
    {
        # Blobs: what exists is answered per caller; bytes follow readable versions.
        ("POST", "/api/v1/blobs/missing"): Case(
            "nobody", req("POST", "/blobs/missing", **BLOBS_QUERY)
        ),
        ("POST", "/api/v1/blobs/absent"): Case(
            "nobody",
            req("POST", "/blobs/absent", json={"files": [{"size": 1, "sample": DIGEST}]}),
        ),
        # The local store presigns nothing: an empty answer, whoever asks.
        ("POST", "/api/v1/blobs/urls"): Case("nobody", req("POST", "/blobs/urls", **BLOBS_QUERY)),
        ("GET", "/api/v1/blobs/{digest}"): Case("reader", req("GET", f"/blobs/{DIGEST}")),
        ("HEAD", "/api/v1/blobs/{digest}"): Case("reader", req("HEAD", f"/blobs/{DIGEST}")),
        ("PUT", "/api/v1/blobs/{digest}"): Case(
            "contributor",
            lambda w, c, mo: w.call(
                c, "PUT", f"/blobs/{DIGEST}", content=BLOB, params={"model": mo}
            ),
        ),
        ("POST", "/api/v1/uploads"): Case(
            "contributor",
            lambda w, c, mo: w.call(
                c, "POST", "/uploads", json={"size": len(BLOB), "digest": DIGEST, "model": mo}
            ),
        ),
        ("GET", "/api/v1/uploads/{upload_id}"): Case("contributor", on_session("GET"), hidden=True),
        ("POST", "/api/v1/uploads/{upload_id}/parts"): Case(
            "contributor",
            on_session("POST", "/parts", json={"numbers": [1]}),
            allowed=(400,),
            hidden=True,
        ),
        ("PATCH", "/api/v1/uploads/{upload_id}"): Case(
            "contributor",
            on_session("PATCH", content=BLOB, headers={"Upload-Offset": "0"}),
            hidden=True,
        ),
        ("POST", "/api/v1/uploads/{upload_id}/complete"): Case(
            "contributor",
            lambda w, c, mo: (
                upload := session(w, c, mo),
                w.call(
                    "root" if RANK[c] < RANK["contributor"] else c,
                    "PATCH",
                    f"/uploads/{upload}",
                    content=BLOB,
                    headers={"Upload-Offset": "0"},
                ),
                w.call(c, "POST", f"/uploads/{upload}/complete"),
            )[-1],
            hidden=True,
        ),
        ("DELETE", "/api/v1/uploads/{upload_id}"): Case(
            "contributor", on_session("DELETE"), hidden=True
        ),
        # Lists and searches answer everyone, with what each may read.
        ("GET", "/api/v1/datasets"): Case("nobody", req("GET", "/datasets")),
        ("GET", "/api/v1/datasets/usage"): Case(
            "reader",
            lambda w, c, mo: w.call(c, "GET", "/datasets/usage", params={"uri": f"s3://data/{mo}"}),
        ),
        ("GET", "/api/v1/datasets/impact"): Case(
            "reader",
            lambda w, c, mo: w.call(
                c, "GET", "/datasets/impact", params={"uri": f"s3://data/{mo}"}
            ),
        ),
        ("GET", "/api/v1/datasets/{dataset_id}"): Case(
            "reader", lambda w, c, mo: w.call(c, "GET", f"/datasets/{dataset_id(w, mo)}")
        ),
        ("GET", "/api/v1/inventory"): Case("nobody", req("GET", "/inventory")),
        ("GET", "/api/v1/search/models"): Case(
            "nobody", req("GET", "/search/models", params={"q": "tags.team = t"})
        ),
        ("GET", "/api/v1/search/versions"): Case(
            "nobody", req("GET", "/search/versions", params={"q": "tags.stage = x"})
        ),
        # The audit log answers each with the records of what it maintains.
        ("GET", "/api/v1/audit"): Case("nobody", req("GET", "/audit")),
        ("GET", "/api/v1/audit/export"): Case("nobody", req("GET", "/audit/export")),
        ("GET", "/api/v1/audit/verify"): Case("root", req("GET", "/audit/verify"), scoped=False),
        ("GET", "/api/v1/events"): Case("nobody", req("GET", "/events")),
    }
)


def login(w: World, caller: str, model: str) -> httpx.Response:
    password = f"secret-of-{caller}"
    w.root("PATCH", f"/principals/{w.user(caller)}", json={"password": password})
    return w.call(
        caller, "POST", "/auth/token", json={"username": w.user(caller), "password": password}
    )


def own_token_revoked(w: World, caller: str, model: str) -> httpx.Response:
    token = w.call(caller, "POST", "/tokens", json={"name": "spare"}).json()["id"]
    return w.call(caller, "DELETE", f"/tokens/{token}")


def new_account(w: World, caller: str) -> str:
    name = w.name("victim", caller)
    w.root("POST", "/principals", json={"name": name})
    return name


def new_group(w: World, caller: str) -> str:
    name = w.name("group", caller)
    w.root("POST", "/groups", json={"name": name})
    return name


def grant_below(w: World, caller: str, model: str) -> httpx.Response:
    name = new_account(w, caller)
    grant = w.root("POST", "/grants", json={"subject": name, "role": "reader", "prefix": model})
    return w.call(caller, "DELETE", f"/grants/{grant.json()['id']}")


REGISTRY = {"scoped": False}
CASES.update(
    {
        # One's own account and tokens: anyone authenticated.
        ("GET", "/api/v1/whoami"): Case("nobody", req("GET", "/whoami")),
        ("POST", "/api/v1/auth/token"): Case("nobody", login),
        ("GET", "/api/v1/tokens"): Case("nobody", req("GET", "/tokens")),
        ("POST", "/api/v1/tokens"): Case("nobody", req("POST", "/tokens", json={"name": "t"})),
        ("DELETE", "/api/v1/tokens/{token_id}"): Case("nobody", own_token_revoked),
        ("GET", "/api/v1/principals/{name}"): Case(
            "nobody", lambda w, c, mo: w.call(c, "GET", f"/principals/{w.user(c)}")
        ),
        ("PATCH", "/api/v1/principals/{name}"): Case(
            "nobody",
            lambda w, c, mo: w.call(
                c, "PATCH", f"/principals/{w.user(c)}", json={"display_name": "me"}
            ),
        ),
        # Accounts and groups: the registry admin.
        ("GET", "/api/v1/principals"): Case("root", req("GET", "/principals"), **REGISTRY),
        ("POST", "/api/v1/principals"): Case(
            "root",
            lambda w, c, mo: w.call(c, "POST", "/principals", json={"name": w.name("new", c)}),
            **REGISTRY,
        ),
        ("DELETE", "/api/v1/principals/{name}"): Case(
            "root",
            lambda w, c, mo: w.call(c, "DELETE", f"/principals/{new_account(w, c)}"),
            **REGISTRY,
        ),
        ("GET", "/api/v1/groups"): Case("root", req("GET", "/groups"), **REGISTRY),
        ("POST", "/api/v1/groups"): Case(
            "root",
            lambda w, c, mo: w.call(c, "POST", "/groups", json={"name": w.name("g", c)}),
            **REGISTRY,
        ),
        ("GET", "/api/v1/groups/{name}"): Case(
            "root", lambda w, c, mo: w.call(c, "GET", f"/groups/{new_group(w, c)}"), **REGISTRY
        ),
        ("DELETE", "/api/v1/groups/{name}"): Case(
            "root", lambda w, c, mo: w.call(c, "DELETE", f"/groups/{new_group(w, c)}"), **REGISTRY
        ),
        ("PUT", "/api/v1/groups/{name}/members/{member}"): Case(
            "root",
            lambda w, c, mo: w.call(c, "PUT", f"/groups/{new_group(w, c)}/members/nobody"),
            **REGISTRY,
        ),
        ("DELETE", "/api/v1/groups/{name}/members/{member}"): Case(
            "root",
            lambda w, c, mo: (
                group := new_group(w, c),
                w.root("PUT", f"/groups/{group}/members/nobody"),
                w.call(c, "DELETE", f"/groups/{group}/members/nobody"),
            )[-1],
            **REGISTRY,
        ),
        # Grants: a maintainer grants (and takes back) roles below its own.
        ("GET", "/api/v1/grants"): Case("nobody", req("GET", "/grants")),
        ("POST", "/api/v1/grants"): Case(
            "maintainer",
            lambda w, c, mo: w.call(
                c,
                "POST",
                "/grants",
                json={"subject": new_account(w, c), "role": "reader", "prefix": mo},
            ),
        ),
        # Below it, someone else's grant is one it may not see: 404.
        ("DELETE", "/api/v1/grants/{grant_id}"): Case("maintainer", grant_below, hidden=True),
    }
)


def protected_by_root(w: World, caller: str, model: str) -> httpx.Response:
    """Remove a rule root made on ``caller``'s model: an admin's act."""
    rule = {"kind": "model", "scope": model, "alias": "gate"}
    w.root("POST", "/protections", json=rule)
    return w.call(caller, "DELETE", "/protections", params=rule)


CASES.update(
    {
        # Protected aliases: anyone who can read a model sees its rules; its maintainer
        # protects its aliases; only an admin removes a rule.
        ("GET", "/api/v1/protections"): Case(
            "reader", lambda w, c, mo: w.call(c, "GET", "/protections", params={"model": mo})
        ),
        ("POST", "/api/v1/protections"): Case(
            "maintainer",
            lambda w, c, mo: w.call(
                c, "POST", "/protections", json={"kind": "model", "scope": mo, "alias": "gate"}
            ),
        ),
        ("DELETE", "/api/v1/protections"): Case("admin", protected_by_root),
    }
)


# Governance routes, in modules of their own (imported last: they use the names above).
from tests.api.role_cases_governance import GOVERNANCE_CASES  # noqa: E402
from tests.api.role_cases_requests import REQUEST_CASES  # noqa: E402

CASES.update(GOVERNANCE_CASES)
CASES.update(REQUEST_CASES)
