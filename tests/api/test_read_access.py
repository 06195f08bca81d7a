"""Who reads what on the read side: search, inventory, datasets, lineage, graph, diff.

A reader of ``ads/`` sees ``ads/`` models and nothing of the others: they are filtered
out of every list inside the query, and a read of one answers exactly as a missing
model does. Relation writes need ``contributor`` and are kept in the audit log.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from modeldepot.db.tables import audit_log, version_pulls
from tests.api.helpers import API, as_user, assert_json, assert_problem, model_url
from tests.api.lineage_helpers import dataset, push_version, refs_of, set_alias

SHARED = "s3://data/shared"
HIDDEN = "s3://data/hidden"
WORD = "zebrafish"  # in every version's description, for free-text search


@pytest.fixture
def catalog(api) -> None:
    """``ads/root:1`` <- ``vision/base:1`` <- ``ads/rec:1`` <- ``vision/tail:1`` (each
    derived from the one before); ``ads/rec:1`` and ``vision/base:1`` used ``SHARED``,
    ``vision/tail:1`` used ``HIDDEN``; both ``ads/rec`` and ``vision/base`` have an alias
    ``prod`` on version 1, and ``ads/rec`` has a version 2."""
    push_version(api, "ads/root", b"root", description=f"root {WORD}")
    push_version(
        api,
        "vision/base",
        b"base",
        description=f"base {WORD}",
        lineage={"datasets": [dataset(SHARED)], "derived_from": ["ads/root:1"]},
    )
    push_version(
        api,
        "ads/rec",
        b"rec",
        description=f"rec {WORD}",
        lineage={"datasets": [dataset(SHARED)], "derived_from": ["vision/base:1"]},
    )
    push_version(
        api,
        "vision/tail",
        b"tail",
        description=f"tail {WORD}",
        lineage={"datasets": [dataset(HIDDEN)], "derived_from": ["ads/rec:1"]},
    )
    push_version(api, "ads/rec", b"rec2", description=f"rec two {WORD}")
    set_alias(api, "ads/rec", "prod", 1)
    set_alias(api, "vision/base", "prod", 1)


@pytest.fixture
def ann(api) -> dict[str, str]:
    """Headers of ``ann``, reader on ``ads/``."""
    return as_user(api, "ann", "reader", "ads/")


def get(api, path: str, headers: dict[str, str], **params: Any) -> httpx.Response:
    return api.get(f"{API}{path}", params=params, headers=headers)


def items(api, path: str, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    """Every item of a paginated list, following its cursors."""
    found: list[dict[str, Any]] = []
    while True:
        page = assert_json(get(api, path, headers, **params), 200)
        found.extend(page["items"])
        if page["next_cursor"] is None:
            return found
        params["cursor"] = page["next_cursor"]


def version_refs(found: list[dict[str, Any]]) -> list[str]:
    return [f"{v['model']}:{v['number']}" for v in found]


@pytest.mark.usefixtures("catalog")
def test_search_returns_only_readable_models_and_versions(api, ann) -> None:
    models = [m["name"] for m in items(api, "/search/models", ann)]
    assert models == ["ads/rec", "ads/root"]
    versions = version_refs(items(api, "/search/versions", ann, q="metrics.auc NOT EXISTS"))
    assert versions == ["ads/rec:2", "ads/rec:1", "ads/root:1"]
    text = version_refs(items(api, "/search/versions", ann, q=f'"{WORD}"'))
    assert sorted(text) == ["ads/rec:1", "ads/rec:2", "ads/root:1"]
    named = [m["name"] for m in items(api, "/search/models", ann, q='name LIKE "vision/%"')]
    assert named == []
    # The admin sees everything, so the filter is what hid the others.
    assert len(items(api, "/search/versions", {}, q=f'"{WORD}"')) == 5


@pytest.mark.usefixtures("catalog")
@pytest.mark.parametrize("limit", [1, 2])
def test_search_pages_skip_unreadable_rows_without_empty_pages(api, ann, limit) -> None:
    pages = []
    params: dict[str, Any] = {"limit": limit, "sort": "-created"}
    while True:
        page = assert_json(get(api, "/search/versions", ann, **params), 200)
        pages.append(version_refs(page["items"]))
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    everything = ["ads/rec:2", "ads/rec:1", "ads/root:1"]
    assert [ref for page in pages for ref in page] == everything
    assert all(len(page) == limit for page in pages[:-1]) and pages[-1]


@pytest.mark.usefixtures("catalog")
def test_inventory_holds_only_readable_models_and_dependencies(api, ann) -> None:
    inventory = assert_json(get(api, "/inventory", ann), 200)
    by_name = {m["name"]: m for m in inventory["models"]}
    assert sorted(by_name) == ["ads/rec", "ads/root"]
    assert by_name["ads/rec"]["derived_from"] == []  # vision/base is not to be seen
    admin_view = {m["name"]: m for m in assert_json(get(api, "/inventory", {}), 200)["models"]}
    assert admin_view["ads/rec"]["derived_from"] == ["vision/base"]
    rows = get(api, "/inventory", ann, format="csv").text.splitlines()
    assert [row.split(",")[0] for row in rows[1:]] == ["ads/rec", "ads/root"]


@pytest.mark.usefixtures("catalog")
def test_datasets_show_only_readable_uses(api, ann) -> None:
    listed = [d["uri"] for d in items(api, "/datasets", ann)]
    assert listed == [SHARED]
    used = items(api, "/datasets/usage", ann, uri=SHARED)
    assert [(u["model"], u["number"]) for u in used] == [("ads/rec", 1)]
    impact = assert_json(get(api, "/datasets/impact", ann, uri=SHARED), 200)
    assert [(i["model"], i["alias"]) for i in impact] == [("ads/rec", "prod")]
    admin_impact = assert_json(get(api, "/datasets/impact", {}, uri=SHARED), 200)
    assert [(i["model"], i["alias"]) for i in admin_impact] == [
        ("ads/rec", "prod"),
        ("vision/base", "prod"),
    ]


@pytest.mark.usefixtures("catalog")
def test_a_dataset_only_unreadable_versions_used_is_not_found(api, ann) -> None:
    (hidden,) = [d for d in items(api, "/datasets", {}) if d["uri"] == HIDDEN]
    missing = "s3://data/never-recorded"
    for path, params in [
        ("/datasets/usage", {"uri": HIDDEN}),
        ("/datasets/impact", {"uri": HIDDEN}),
        (f"/datasets/{hidden['id']}", {}),
    ]:
        seen = assert_problem(get(api, path, ann, **params), 404, "DATASET_NOT_FOUND", path)
        absent_params = {"uri": missing} if params else {}
        absent_path = path if params else "/datasets/999999"
        absent = assert_problem(get(api, absent_path, ann, **absent_params), 404, seen["code"])
        assert seen["title"] == absent["title"]


@pytest.mark.usefixtures("catalog")
def test_lineage_leaves_out_relations_to_unreadable_versions(api, ann) -> None:
    url = model_url("ads/rec", "versions", "1", "lineage")
    mine = assert_json(api.get(url, headers=ann), 200)
    assert (mine["derived_from"], mine["used_by"]) == ([], [])
    everything = assert_json(api.get(url), 200)
    assert refs_of(everything["derived_from"]) == ["vision/base:1"]
    assert refs_of(everything["used_by"]) == ["vision/tail:1"]


@pytest.mark.usefixtures("catalog")
def test_the_graph_never_steps_onto_an_unreadable_version(api, ann) -> None:
    graph = assert_json(get(api, "/lineage/graph", ann, ref="ads/rec:1", depth=5), 200)
    versions = sorted(n["label"] for n in graph["nodes"] if n["kind"] == "version")
    # ads/root:1 is readable, but only reachable through vision/base:1.
    assert versions == ["ads/rec:1"]
    assert [e["kind"] for e in graph["edges"]] == ["uses:other"]  # its dataset only
    admin_graph = assert_json(get(api, "/lineage/graph", {}, ref="ads/rec:1", depth=5), 200)
    assert sorted(n["label"] for n in admin_graph["nodes"] if n["kind"] == "version") == [
        "ads/rec:1",
        "ads/root:1",
        "vision/base:1",
        "vision/tail:1",
    ]


@pytest.mark.usefixtures("catalog")
def test_diff_of_readable_versions_works_and_of_unreadable_is_not_found(api, ann) -> None:
    diff = assert_json(get(api, "/diff", ann, a="ads/rec:1", b="ads/rec:2"), 200)
    assert diff["same_content"] is False
    for a, b in [("ads/rec:1", "vision/base:1"), ("vision/base@prod", "ads/rec:1")]:
        assert_problem(get(api, "/diff", ann, a=a, b=b), 404, "MODEL_NOT_FOUND", (a, b))


def read_routes(name: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, url, query) of every read route of the lineage side, about ``name``."""
    version = model_url(name, "versions", "1")
    return [
        ("GET", f"{version}/lineage", {}),
        ("GET", f"{version}/requirements", {}),
        ("POST", f"{version}/pulls", {}),
        ("GET", f"{API}/lineage/graph", {"ref": f"{name}:1"}),
        ("GET", f"{API}/lineage/graph", {"ref": f"{name}@prod"}),
        ("GET", f"{API}/diff", {"a": f"{name}:1", "b": "ads/rec:1"}),
        ("GET", f"{API}/diff", {"a": "ads/rec:1", "b": f"{name}:1"}),
        ("POST", f"{version}/relations", {}),
        ("DELETE", f"{version}/relations", {"kind": "derived_from", "target": "ads/root:1"}),
    ]


@pytest.mark.usefixtures("catalog")
def test_an_unreadable_model_answers_like_a_missing_one_on_every_route(api, ann) -> None:
    body = {"kind": "derived_from", "target": "ads/root:1"}
    pairs = zip(read_routes("vision/base"), read_routes("vision/nothing"), strict=True)
    for (method, url, params), (_, missing_url, missing_params) in pairs:
        json_body = body if method == "POST" and url.endswith("relations") else None
        hidden = api.request(method, url, params=params, json=json_body, headers=ann)
        missing = api.request(
            method, missing_url, params=missing_params, json=json_body, headers=ann
        )
        case = (method, url, params)
        seen = assert_problem(hidden, 404, "MODEL_NOT_FOUND", case)
        absent = assert_problem(missing, 404, "MODEL_NOT_FOUND", case)
        assert (seen["title"], set(seen)) == (absent["title"], set(absent)), case


@pytest.mark.usefixtures("catalog")
def test_a_reader_may_not_relate_versions_and_a_contributor_may(api, ann) -> None:
    url = model_url("ads/rec", "versions", "2", "relations")
    body = {"kind": "derived_from", "target": "ads/rec:1"}
    assert_problem(api.post(url, json=body, headers=ann), 403, "FORBIDDEN")
    cora = as_user(api, "cora", "contributor", "ads/")
    related = assert_json(api.post(url, json=body, headers=cora), 200)
    assert refs_of(related["derived_from"]) == ["ads/rec:1"]
    params = {"kind": "derived_from", "target": "ads/rec:1"}
    assert_problem(api.delete(url, params=params, headers=ann), 403, "FORBIDDEN")
    assert assert_json(api.delete(url, params=params, headers=cora), 200)["derived_from"] == []


@pytest.mark.usefixtures("catalog")
def test_a_relation_to_an_unreadable_version_is_refused_as_if_it_did_not_exist(api) -> None:
    cora = as_user(api, "cora", "contributor", "ads/")
    url = model_url("ads/rec", "versions", "2", "relations")
    answers = [
        api.post(url, json={"kind": "depends_on", "target": target}, headers=cora)
        for target in ("vision/base:1", "vision/nothing:1")
    ]
    hidden, missing = (assert_problem(a, 404, "RELATION_TARGET_NOT_FOUND") for a in answers)
    assert hidden["title"] == missing["title"]


@pytest.mark.usefixtures("catalog")
def test_relation_changes_are_in_the_audit_log(api, registry) -> None:
    cora = as_user(api, "cora", "contributor", "ads/")
    url = model_url("ads/rec", "versions", "2", "relations")
    body = {"kind": "derived_from", "target": "ads/rec@prod"}
    assert_json(api.post(url, json=body, headers=cora), 200)
    assert_json(api.post(url, json=body, headers=cora), 200)  # already there: no record
    params = {"kind": "derived_from", "target": "ads/rec:1"}
    assert_json(api.delete(url, params=params, headers=cora), 200)
    with registry.db.read() as conn:
        rows = conn.execute(
            select(audit_log).where(audit_log.c.action.like("relation.%")).order_by(audit_log.c.seq)
        ).all()
    assert [(r.action, r.principal, r.target, r.model) for r in rows] == [
        ("relation.create", "cora", "ads/rec:2", "ads/rec"),
        ("relation.delete", "cora", "ads/rec:2", "ads/rec"),
    ]
    created, deleted = (json.loads(r.record) for r in rows)
    assert created["after"] == {"kind": "derived_from", "target": "ads/rec:1"}
    assert deleted["before"] == {"kind": "derived_from", "target": "ads/rec:1"}


@pytest.mark.usefixtures("catalog")
def test_a_reader_records_pulls_of_what_it_reads_and_they_are_not_audited(
    api, ann, registry
) -> None:
    url = model_url("ads/rec", "versions", "1", "pulls")
    assert api.post(url, headers=ann).status_code == 204
    with registry.db.read() as conn:
        assert conn.execute(select(version_pulls.c.actor)).scalars().all() == ["ann"]
        pulls = select(audit_log).where(audit_log.c.action.like("%pull%"))
        assert conn.execute(pulls).all() == []
