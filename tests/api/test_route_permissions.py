"""Every route says what it needs: the route table is walked, and a route with no
declaration fails the suite. Every declared route refuses a request with no credential."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount, Route

from modeldepot.server.auth import Requires
from tests.api.helpers import assert_problem

# Routes anyone may call: health for load balancers, metrics for scrapers (no model
# data), the API's own description, and the redirect to it.
PUBLIC = {
    ("GET", "/"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/docs"),
    ("HEAD", "/api/v1/openapi.json"),
    ("HEAD", "/api/v1/docs"),
}
PUBLIC_MOUNTS = {"/api/v1/docs/static"}


def declarations(route: Any) -> list[Requires]:
    found: list[Requires] = []
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if isinstance(dependency.call, Requires):
            found.append(dependency.call)
        pending.extend(dependency.dependencies)
    return found


def routes(app: Any) -> list[tuple[str, str, Any]]:
    """(method, path, route) of every route the app serves, included routers' too."""
    out = []
    for context in iter_route_contexts(app.router.routes):
        route = context.original_route
        if isinstance(route, Mount):
            out.append(("MOUNT", context.path, route))
            continue
        for method in sorted(context.methods or ()):
            out.append((method, context.path, route))
    assert len(out) > 50, "the route table was not walked"
    return out


def test_every_route_declares_the_permission_it_needs(shared_api) -> None:
    undeclared = []
    for method, path, route in routes(shared_api.app):
        if method == "MOUNT":
            if path not in PUBLIC_MOUNTS:
                undeclared.append(f"mount {path}")
            continue
        if (method, path) in PUBLIC:
            continue
        if not isinstance(route, APIRoute) or len(declarations(route)) != 1:
            undeclared.append(f"{method} {path}")
    assert undeclared == [], "routes without exactly one Requires(...) declaration"


def test_public_routes_are_few_and_hold_no_model_data(shared_api) -> None:
    declared_public = {(m, p) for m, p, r in routes(shared_api.app) if (m, p) in PUBLIC}
    assert declared_public <= PUBLIC
    for _, _, route in routes(shared_api.app):
        if isinstance(route, Route) and not isinstance(route, APIRoute):
            assert (sorted(route.methods or ["GET"])[0], route.path) in PUBLIC | {
                ("HEAD", route.path)
            }


SAMPLES = {
    "name": "ads/rec",
    "number": "1",
    "alias": "production",
    "key": "team",
    "path": "model.bin",
    "digest": "sha256:" + "a" * 64,
    "upload_id": "0" * 32,
    "id": "1",
}


def concrete(path: str) -> str:
    def sample(match: re.Match[str]) -> str:
        if match.group(1) == "name" and not match.group(2):
            return "alice"  # an account or group, not a model path
        return SAMPLES.get(match.group(1), "x")

    return re.sub(r"\{([a-z_]+)(:[a-z]+)?\}", sample, path)


@pytest.mark.parametrize("anonymous", ["none"])
def test_every_declared_route_refuses_a_request_without_a_credential(anon, anonymous) -> None:
    for method, path, route in routes(anon.app):
        if method == "MOUNT" or (method, path) in PUBLIC or not isinstance(route, APIRoute):
            continue
        if any(getattr(d, "public", False) for d in declarations(route)):
            continue  # declared open on purpose: exchanging a password for a token
        response = anon.request(method, concrete(path), json={})
        assert response.status_code == 401, f"{method} {path}: {response.status_code}"
        if method != "HEAD":
            assert_problem(response, 401, "UNAUTHENTICATED")
        assert response.headers["www-authenticate"].startswith("Bearer")
