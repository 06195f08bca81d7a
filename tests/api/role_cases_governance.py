"""The role matrix's cases for a version's lifecycle, policies and freezes."""

from __future__ import annotations

import httpx

from tests.api.role_cases import Case, Request, World, req

GOVERNANCE_CASES: dict[tuple[str, str], Case] = {}


def revoked_then(verb: str) -> Request:
    """``verb`` on the caller's version 1, which root revoked first."""

    def request(w: World, caller: str, model: str) -> httpx.Response:
        w.root("POST", f"/models/{model}/-/versions/1/revoke", json={"reason": "leak"})
        return w.call(caller, "POST", f"/models/{model}/-/versions/1/{verb}", json={"reason": "r"})

    return request


GOVERNANCE_CASES.update(
    {
        # A version's lifecycle: maintainers of the model (version:status).
        ("POST", "/api/v1/models/{name:path}/-/versions/{number}/deprecate"): Case(
            "maintainer",
            req(
                "POST",
                "/models/{m}/-/versions/1/deprecate",
                json={"reason": "old", "replacement": 2},
            ),
        ),
        ("POST", "/api/v1/models/{name:path}/-/versions/{number}/revoke"): Case(
            "maintainer", req("POST", "/models/{m}/-/versions/1/revoke", json={"reason": "leak"})
        ),
        ("POST", "/api/v1/models/{name:path}/-/versions/{number}/reinstate"): Case(
            "maintainer", revoked_then("reinstate")
        ),
        # Applying a revocation by dataset needs version:status on every model in it.
        ("POST", "/api/v1/datasets/-/revoke"): Case(
            "maintainer",
            lambda w, c, mo: w.call(
                c,
                "POST",
                "/datasets/-/revoke",
                json={"dataset": f"s3://data/{mo}", "reason": "leak", "apply": True},
            ),
        ),
    }
)


def policy_source(name: str, prefix: str) -> dict[str, str]:
    return {"source": f"name: {name}\nalias: production\nprefix: {prefix}\nsoak_hours: 1\n"}


def shared_policy(w: World) -> str:
    """A policy every caller may read (applying it again changes nothing)."""
    w.root("POST", "/policies", json=policy_source("readable", "ads"))
    return "/policies/readable"


def root_policy(w: World, caller: str, model: str) -> str:
    name = w.name("p", caller)
    w.root("POST", "/policies", json=policy_source(name, model))
    return f"/policies/{name}"


def root_freeze(w: World, model: str) -> int:
    response = w.root("POST", "/freezes", json={"prefix": model, "reason": "test"})
    return int(response.json()["id"])


# Policies and freezes: governance admins of the prefix write; anyone authenticated reads.
GOVERNANCE_CASES.update(
    {
        ("POST", "/api/v1/policies"): Case(
            "admin",
            lambda w, c, mo: w.call(c, "POST", "/policies", json=policy_source(w.name("p", c), mo)),
        ),
        ("GET", "/api/v1/policies"): Case("nobody", req("GET", "/policies")),
        ("GET", "/api/v1/policies/{name}"): Case(
            "nobody", lambda w, c, mo: w.call(c, "GET", shared_policy(w))
        ),
        ("GET", "/api/v1/policies/{name}/versions"): Case(
            "nobody", lambda w, c, mo: w.call(c, "GET", shared_policy(w) + "/versions")
        ),
        ("GET", "/api/v1/policies/{name}/versions/{version}"): Case(
            "nobody", lambda w, c, mo: w.call(c, "GET", shared_policy(w) + "/versions/1")
        ),
        ("GET", "/api/v1/policies/{name}/diff"): Case(
            "nobody",
            lambda w, c, mo: w.call(
                c, "GET", shared_policy(w) + "/diff", params={"from": 1, "to": 1}
            ),
        ),
        ("DELETE", "/api/v1/policies/{name}"): Case(
            "admin", lambda w, c, mo: w.call(c, "DELETE", root_policy(w, c, mo))
        ),
        ("POST", "/api/v1/freezes"): Case(
            "admin",
            lambda w, c, mo: w.call(c, "POST", "/freezes", json={"prefix": mo, "reason": "r"}),
        ),
        ("GET", "/api/v1/freezes"): Case("nobody", req("GET", "/freezes")),
        ("DELETE", "/api/v1/freezes/{freeze_id}"): Case(
            "admin", lambda w, c, mo: w.call(c, "DELETE", f"/freezes/{root_freeze(w, mo)}")
        ),
    }
)
