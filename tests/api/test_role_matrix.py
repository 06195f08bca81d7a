"""For every route, each role can do exactly what it should.

Six callers: ``nobody`` (reader of another namespace only), ``reader``,
``contributor``, ``maintainer`` and ``admin`` (each granted on ``ads/``), and ``root``
(admin on ``/``, the registry admin). Each route has one case: the least role it needs
and a request. The request is made as every caller, each on a model of its own
(``ads/m-<caller>``, seeded alike), so one caller's change cannot spoil another's case.
Callers below the least role must be refused: 404 as if the model did not exist when
they cannot read it, else 403 ``FORBIDDEN``; callers at or above it must succeed. A
route without a case fails the suite, so every new route states who may call it.
"""

from __future__ import annotations

from typing import Any

import pytest

from modeldepot.schemas import FileEntry, VersionCreate
from modeldepot.security.context import Context
from tests.api.helpers import as_user
from tests.api.role_cases import BLOB, CALLERS, CASES, DIGEST, RANK, USERS, Case, World
from tests.api.test_route_permissions import PUBLIC, routes


def unlisted(app: Any) -> list[str]:
    return [
        f"{method} {path}"
        for method, path, _ in routes(app)
        if method != "MOUNT" and (method, path) not in PUBLIC and (method, path) not in CASES
    ]


@pytest.fixture
def world(api) -> World:
    """The six callers, with the blob every seeded version holds."""
    headers = {
        "nobody": as_user(api, "nobody", "reader", "other/"),
        **{role: as_user(api, USERS[role], role, "ads/") for role in CALLERS[1:5]},
        "root": dict(api.headers),
    }
    w = World(api, headers)
    w.root("PUT", f"/blobs/{DIGEST}", content=BLOB, params={"model": "ads/m"})
    return w


def seed(w: World) -> None:
    """Each caller's model of this round: versions 1 and 2, ``w.alias`` on 1, tags
    and a dataset. Through the services (what the routes call): faster than HTTP."""
    registry = w.api.app.state.registry  # type: ignore[attr-defined]
    ctx = Context.system("seed")
    files = [FileEntry(path="w.bin", size=len(BLOB), digest=DIGEST)]
    for caller in CALLERS:
        model = w.model(caller)
        lineage = {"datasets": [{"uri": f"s3://data/{model}", "role": "train"}]}
        first = VersionCreate(files=files, tags={"stage": "x"}, lineage=lineage)
        registry.versions.create_version(ctx, model, first)
        registry.versions.create_version(ctx, model, VersionCreate(files=files))
        registry.aliases.set_alias(ctx, model, w.alias, 1)
        registry.models.set_tag(ctx, model, "team", "t")


def test_every_route_has_a_case(shared_api) -> None:
    assert unlisted(shared_api.app) == []


def test_each_role_can_do_exactly_what_it_should(world: World) -> None:
    """Every route, as every caller; one database per run, each route on its own
    models. Reports every route that misbehaves, not only the first."""
    wrong: list[str] = []
    seed(world)  # round 0, shared by the routes that change nothing
    for number, route in enumerate(sorted(CASES), start=1):
        if route[0] in ("GET", "HEAD"):
            world.round = 0
        else:
            world.round = number
            seed(world)
        wrong.extend(misbehaviour(world, route, CASES[route]))
    assert wrong == []


def misbehaviour(world: World, route: tuple[str, str], case: Case) -> list[str]:
    wrong = []
    for caller in CALLERS:
        response = case.request(world, caller, world.model(caller))
        status = response.status_code
        where = f"{route[0]} {route[1]} as {caller}: {status} {response.text[:300]}"
        if RANK[caller] >= RANK[case.least]:
            ok = status < 300 or status in case.allowed
        elif case.hidden and status == 404:
            ok = True
        elif caller == "nobody" and case.scoped:
            # Cannot read ads/ at all: the model does not exist for it (a creation,
            # which reveals nothing either way, is refused as forbidden).
            ok = status == 404 if route[0] == "GET" else status in (403, 404)
        else:
            ok = status == 403 and response.json()["code"] == "FORBIDDEN"
        if not ok:
            wrong.append(where)
    return wrong


def test_nobody_sees_nothing_of_the_namespace_in_lists(world: World) -> None:
    seed(world)
    names = [m["name"] for m in world.call("nobody", "GET", "/models").json()["items"]]
    assert names == []
    names = [m["name"] for m in world.call("reader", "GET", "/models").json()["items"]]
    assert names == sorted(world.model(c) for c in CALLERS)
