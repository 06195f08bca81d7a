"""The role matrix's cases for promotion requests, checks and added metrics."""

from __future__ import annotations

import httpx

from tests.api.role_cases import RANK, Case, Request, World


def opened(w: World, caller: str, model: str, alias: str = "candidate", version: int = 2) -> int:
    """A request on ``model``, opened by ``caller`` when it may, else by the admin."""
    body = {"version": version, "alias": alias}
    opener = caller if RANK[caller] >= RANK["contributor"] else "root"
    response = w.call(opener, "POST", f"/models/{model}/-/requests", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def on_request(method: str, suffix: str, **kwargs: object) -> Request:
    def request(w: World, caller: str, model: str) -> httpx.Response:
        return w.call(caller, method, f"/requests/{opened(w, caller, model)}{suffix}", **kwargs)

    return request


def rollback(w: World, caller: str, model: str) -> httpx.Response:
    for version in (1, 2):
        request = w.root(
            "POST", f"/models/{model}/-/requests", json={"version": version, "alias": "staging"}
        ).json()
        w.root("POST", f"/requests/{request['id']}/apply")
    return w.call(caller, "POST", f"/models/{model}/-/rollback", json={"alias": "staging"})


def check(method: str) -> Request:
    def request(w: World, caller: str, model: str) -> httpx.Response:
        digest = w.root("GET", f"/models/{model}/-/versions/1").json()["digest"]
        body = {"name": "bias-audit", "state": "pass", "digest": digest}
        kwargs = {"json": body} if method == "POST" else {}
        return w.call(caller, method, f"/models/{model}/-/versions/1/checks", **kwargs)

    return request


def model_call(method: str, path: str, **kwargs: object) -> Request:
    return lambda w, caller, model: w.call(caller, method, path.format(m=model), **kwargs)


V1 = "/api/v1"
M = V1 + "/models/{name:path}/-"
REQUEST_CASES: dict[tuple[str, str], Case] = {
    ("POST", M + "/requests"): Case(
        "contributor",
        model_call("POST", "/models/{m}/-/requests", json={"version": 2, "alias": "candidate"}),
    ),
    ("POST", M + "/rollback"): Case("contributor", rollback),
    ("GET", V1 + "/requests"): Case("nobody", lambda w, c, mo: w.call(c, "GET", "/requests")),
    ("GET", V1 + "/requests/{request_id}"): Case("reader", on_request("GET", "")),
    # Without a policy needing approvals, every reviewer is told it is not one (403
    # NOT_A_REVIEWER); the route itself lets readers through.
    ("POST", V1 + "/requests/{request_id}/reviews"): Case(
        "reader", on_request("POST", "/reviews", json={"verdict": "approve"}), allowed=(403,)
    ),
    ("POST", V1 + "/requests/{request_id}/comments"): Case(
        "reader", on_request("POST", "/comments", json={"body": "hm"})
    ),
    ("POST", V1 + "/requests/{request_id}/cancel"): Case(
        "contributor", on_request("POST", "/cancel", json={})
    ),
    ("POST", V1 + "/requests/{request_id}/apply"): Case(
        "contributor", on_request("POST", "/apply")
    ),
    # Without a policy there is nothing to waive (400); readers get that far.
    ("POST", V1 + "/requests/{request_id}/waivers"): Case(
        "reader",
        on_request(
            "POST",
            "/waivers",
            json={"requirement": "rule:x", "reason": "r", "expires_in_hours": 1},
        ),
        allowed=(400,),
    ),
    ("POST", M + "/versions/{number}/checks"): Case("contributor", check("POST")),
    ("GET", M + "/versions/{number}/checks"): Case("reader", check("GET")),
    ("POST", M + "/versions/{number}/metrics"): Case(
        "contributor",
        model_call("POST", "/models/{m}/-/versions/1/metrics", json={"metrics": {"extra": 1.0}}),
    ),
}
