"""A protected alias cannot be moved by any route, in any role, through any face.

The proof that does not rot: every mutating route of the role matrix
(``tests/api/role_cases.py``, which ``test_role_matrix`` keeps complete) is called as
the registry admin on a model whose ``production`` points at version 1, with the
cases' alias set to ``production``; afterwards ``production`` still points at 1 and
its history has no entry but the one that set it. A new route gets the same treatment
the day its case is written. Then each way of moving an alias directly (API set and
delete, a push with the alias, the SDK, the CLI) is refused by name.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from modeldepot.cli.main import cli
from modeldepot.db.tables import alias_events, aliases, models, versions
from modeldepot.errors import AliasProtected
from modeldepot.registry import Registry
from modeldepot.registry.aliases import move_alias
from modeldepot.registry.lookup import model_row
from modeldepot.schemas import FileEntry, VersionCreate
from modeldepot.security.context import Context
from tests.api.helpers import API, as_user, assert_json, assert_problem, entry, model_url
from tests.api.role_cases import BLOB, CALLERS, CASES, DIGEST, USERS, World
from tests.conftest import make_model_dir

PROTECTED = "production"


def point_protected(registry: Registry, name: str, alias: str, number: int) -> None:
    """Point a protected alias the way only a promotion request's application may: in
    a unit of work that is applying a request for it (here a request of id 0)."""
    with registry.units.write(Context.system("seed")) as uow:
        uow.applying[(model_row(uow.conn, name).id, alias)] = 0
        move_alias(uow, name, alias, number)


def seed(registry: Registry, name: str) -> None:
    """What the role matrix seeds for a caller's model, with ``production`` on 1."""
    ctx = Context.system("seed")
    files = [FileEntry(path="w.bin", size=len(BLOB), digest=DIGEST)]
    lineage = {"datasets": [{"uri": f"s3://data/{name}", "role": "train"}]}
    first = VersionCreate(files=files, tags={"stage": "x"}, lineage=lineage)
    registry.versions.create_version(ctx, name, first)
    registry.versions.create_version(ctx, name, VersionCreate(files=files))
    registry.models.set_tag(ctx, name, "team", "t")
    point_protected(registry, name, PROTECTED, 1)


def state(registry: Registry, name: str, alias: str = PROTECTED) -> tuple[Any, list[Any]]:
    """(the version ``alias`` points at, or None; its history oldest first, as pairs
    (version it was pointed at, the request that moved it)), read from the tables, so
    that a deleted model still answers."""
    target = versions.alias("target")
    with registry.db.read() as conn:
        model_id = conn.execute(sa.select(models.c.id).where(models.c.name == name)).scalar()
        number = conn.execute(
            sa.select(versions.c.number)
            .join(aliases, aliases.c.version_id == versions.c.id)
            .where(aliases.c.model_id == model_id, aliases.c.name == alias)
        ).scalar()
        history = conn.execute(
            sa.select(target.c.number, alias_events.c.request_id)
            .outerjoin(target, target.c.id == alias_events.c.to_version_id)
            .where(alias_events.c.model_id == model_id, alias_events.c.alias == alias)
            .order_by(alias_events.c.id)
        ).all()
    return number, [tuple(row) for row in history]


# How the seed left it: on 1, set once (by "request" 0).
SEEDED = (1, [(1, 0)])


@pytest.fixture
def world(api) -> World:
    """The role matrix's callers (the cases make some of them act on others), with the
    cases' alias set to the protected one."""
    headers = {
        "nobody": as_user(api, "nobody", "reader", "other/"),
        **{role: as_user(api, USERS[role], role, "ads/") for role in CALLERS[1:5]},
        "root": dict(api.headers),
    }
    w = World(api, headers, alias=PROTECTED)
    w.root("PUT", f"/blobs/{DIGEST}", content=BLOB, params={"model": "ads/m"})
    return w


def moved_unsanctioned(after: tuple[Any, list[Any]]) -> bool:
    """Whether the alias moved other than by applying a promotion request (the one
    sanctioned way: a history entry that names its request)."""
    if after == SEEDED:
        return False
    new = after[1][len(SEEDED[1]) :]
    return not new or any(request is None for _, request in new)


def test_no_mutating_route_moves_a_protected_alias_even_for_the_registry_admin(
    world: World, registry: Registry
) -> None:
    mutating = sorted(route for route in CASES if route[0] not in ("GET", "HEAD"))
    assert len(mutating) > 30, "the role matrix's cases were not found"
    moved = []
    for number, route in enumerate(mutating, start=1):
        world.round = number
        name = world.model("root")
        seed(registry, name)
        assert state(registry, name) == SEEDED
        response = CASES[route].request(world, "root", name)
        after = state(registry, name)
        if moved_unsanctioned(after):
            moved.append(f"{route[0]} {route[1]}: {response.status_code} -> {after}")
    assert moved == []


@pytest.fixture
def production(api, registry: Registry) -> str:
    """``ads/rec`` with versions 1 and 2 and ``production`` on 1."""
    api.put(f"{API}/blobs/{DIGEST}", content=BLOB)
    seed(registry, "ads/rec")
    return "ads/rec"


ROLES = ["admin", "maintainer"]


def headers_of(api, role: str) -> dict[str, str]:
    if role == "admin":
        return {"Authorization": api.headers["Authorization"]}
    return as_user(api, "mia", "maintainer", "ads/")


@pytest.mark.parametrize("role", ROLES)
def test_setting_or_deleting_a_protected_alias_is_refused(
    api, registry: Registry, production: str, role: str
) -> None:
    headers = headers_of(api, role)
    url = model_url(production, "aliases", PROTECTED)
    staging = model_url(production, "aliases", "staging")
    for alias, response in (
        (PROTECTED, api.put(url, json={"version": 2}, headers=headers)),
        (PROTECTED, api.put(url, json={"version": 2, "expected_version": 1}, headers=headers)),
        (PROTECTED, api.delete(url, headers=headers)),
        ("staging", api.put(staging, json={"version": 2}, headers=headers)),
    ):
        problem = assert_problem(response, 403, "ALIAS_PROTECTED")
        assert (problem["model"], problem["alias"]) == (production, alias)
        assert f"modeldepot promote {production}:<version> --to {alias}" in problem["detail"]
    assert state(registry, production) == SEEDED
    assert state(registry, production, "staging") == (None, [])


@pytest.mark.parametrize("role", ROLES)
def test_a_push_naming_a_protected_alias_is_refused_whole(
    api, registry: Registry, production: str, role: str
) -> None:
    body = {"files": [entry("w.bin", BLOB)], "aliases": ["champion", PROTECTED]}
    response = api.post(model_url(production, "versions"), json=body, headers=headers_of(api, role))
    assert_problem(response, 403, "ALIAS_PROTECTED")
    listed = assert_json(api.get(model_url(production, "versions")), 200)
    assert [v["number"] for v in listed["items"]] == [2, 1]
    assert state(registry, production) == SEEDED
    assert state(registry, production, "champion") == (None, [])


def test_the_sdk_is_refused_too(client, registry: Registry, production: str, tmp_path) -> None:
    with pytest.raises(AliasProtected):
        client.set_alias(production, PROTECTED, 2)
    with pytest.raises(AliasProtected):
        client.delete_alias(production, PROTECTED)
    with pytest.raises(AliasProtected):
        client.push(make_model_dir(tmp_path / "m", {"w": b"new"}), production, aliases=[PROTECTED])
    assert [v.number for v in client.list_versions(production)] == [2, 1]
    assert state(registry, production) == SEEDED


def run_cli(live, token: str, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--url", live.url, *args], env={"MODELDEPOT_TOKEN": token})


@pytest.mark.parametrize("role", ROLES)
def test_the_cli_is_refused_too(
    api, live, registry: Registry, production: str, role: str, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("MODELDEPOT_CACHE_DIR", str(tmp_path / "cache"))
    token = headers_of(api, role)["Authorization"].removeprefix("Bearer ")
    source = make_model_dir(tmp_path / "m", {"w": b"new"})
    for args in (
        ["alias", "set", production, PROTECTED, "2"],
        ["alias", "rm", production, PROTECTED],
        ["push", str(source), production, "--alias", PROTECTED, "--no-capture", "-q"],
    ):
        result = run_cli(live, token, *args)
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith("modeldepot: error: ALIAS_PROTECTED: "), result.stderr
    assert state(registry, production) == SEEDED
    listed = run_cli(live, token, "alias", "list", production)
    assert listed.exit_code == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split() == ["ALIAS", "VERSION", "STATUS", "SINCE", "BY", "PROTECTED"]
    assert row.split()[:2] == [PROTECTED, "1"] and row.split()[-1] == "yes"
