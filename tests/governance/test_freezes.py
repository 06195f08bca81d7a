"""Deny windows and change freezes: when no promotion may be applied."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from modeldepot.governance.policies import Requirements
from modeldepot.governance.windows import active_freezes, closed_window
from modeldepot.registry import Registry
from tests.api.helpers import API, as_user, assert_json, assert_problem

SATURDAY_NOON = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("hours", "at", "closed"),
    [
        ((18, 8), 17, False),
        ((18, 8), 18, True),
        ((18, 8), 23, True),
        ((18, 8), 0, True),
        ((18, 8), 7, True),
        ((18, 8), 8, False),
        ((9, 17), 8, False),
        ((9, 17), 9, True),
        ((9, 17), 16, True),
        ((9, 17), 17, False),
        ((0, 24), 23, True),
    ],
)
def test_deny_hours_are_half_open_and_wrap_past_midnight(
    hours: tuple[int, int], at: int, closed: bool
) -> None:
    monday = datetime(2026, 12, 7, at, 30, tzinfo=UTC)
    message = closed_window(Requirements(deny_hours=hours), monday)
    assert (message is not None) is closed
    if closed:
        assert f"{hours[0]:02d}:00" in message and f"{at:02d}:30 UTC" in message


def test_deny_days_are_utc_days() -> None:
    weekend = Requirements(deny_days=("sat", "sun"))
    assert "Saturday" in (closed_window(weekend, SATURDAY_NOON) or "")
    assert closed_window(weekend, SATURDAY_NOON + timedelta(days=2)) is None
    # Saturday 01:00 in Berlin is still Friday in UTC.
    berlin = timezone_offset(1)
    assert closed_window(weekend, datetime(2026, 12, 5, 0, 30, tzinfo=berlin)) is None


def timezone_offset(hours: int) -> object:
    from datetime import timezone

    return timezone(timedelta(hours=hours))


def test_no_window_means_always_open() -> None:
    assert closed_window(Requirements(), SATURDAY_NOON) is None


def freeze(api: TestClient, prefix: str, reason: str = "quarter end", **fields: object) -> dict:
    body = {"prefix": prefix, "reason": reason, **fields}
    return assert_json(api.post(f"{API}/freezes", json=body), 201)  # type: ignore[no-any-return]


def test_a_freeze_covers_its_prefix_until_lifted(api: TestClient, registry: Registry) -> None:
    created = freeze(api, "credit/")
    assert (created["prefix"], created["active"], created["ends_at"]) == ("credit", True, None)
    now = datetime.now(UTC) + timedelta(seconds=1)
    with registry.db.read() as conn:
        reasons = active_freezes(conn, "credit/scoring", now)
        assert len(reasons) == 1 and "credit/ is frozen: quarter end" in reasons[0]
        assert active_freezes(conn, "creditors/x", now) == []
    lifted = assert_json(api.delete(f"{API}/freezes/{created['id']}"), 200)
    assert (lifted["active"], lifted["lifted_by"]) == (False, "admin")
    with registry.db.read() as conn:
        assert active_freezes(conn, "credit/scoring", datetime.now(UTC)) == []
    assert_problem(api.delete(f"{API}/freezes/{created['id']}"), 404, "FREEZE_NOT_FOUND")
    assert_problem(api.delete(f"{API}/freezes/999999"), 404, "FREEZE_NOT_FOUND")


def test_a_scheduled_freeze_holds_only_in_its_window(api: TestClient, registry: Registry) -> None:
    start = datetime.now(UTC) + timedelta(days=1)
    end = start + timedelta(hours=6)
    created = freeze(api, "/", "release", starts_at=start.isoformat(), ends_at=end.isoformat())
    assert created["active"] is False and created["prefix"] == ""
    with registry.db.read() as conn:
        assert active_freezes(conn, "any/model", datetime.now(UTC)) == []
        assert len(active_freezes(conn, "any/model", start + timedelta(hours=1))) == 1
        assert active_freezes(conn, "any/model", end) == []
    listed = assert_json(api.get(f"{API}/freezes"), 200)["items"]
    assert [f["id"] for f in listed] == [created["id"]]


def test_lifted_and_ended_freezes_are_listed_only_with_all(api: TestClient) -> None:
    kept = freeze(api, "a")
    lifted = freeze(api, "b")
    assert_json(api.delete(f"{API}/freezes/{lifted['id']}"), 200)
    listed = assert_json(api.get(f"{API}/freezes"), 200)["items"]
    assert [f["id"] for f in listed] == [kept["id"]]
    every = assert_json(api.get(f"{API}/freezes", params={"all": "true"}), 200)["items"]
    assert [f["id"] for f in every] == [lifted["id"], kept["id"]]
    page = assert_json(api.get(f"{API}/freezes", params={"all": "true", "limit": 1}), 200)
    assert [f["id"] for f in page["items"]] == [lifted["id"]]
    after = {"all": "true", "limit": 1, "cursor": page["next_cursor"]}
    assert [
        f["id"] for f in assert_json(api.get(f"{API}/freezes", params=after), 200)["items"]
    ] == [kept["id"]]


def test_freezes_are_audited(api: TestClient) -> None:
    created = freeze(api, "ads")
    assert_json(api.delete(f"{API}/freezes/{created['id']}"), 200)
    records = assert_json(api.get(f"{API}/audit", params={"action": "freeze.*"}), 200)["items"]
    assert [(r["action"], r["target"]) for r in records] == [
        ("freeze.lift", f"freeze/{created['id']}"),
        ("freeze.create", f"freeze/{created['id']}"),
    ]
    assert records[1]["after"]["reason"] == "quarter end"


def test_bad_freezes_are_refused(api: TestClient) -> None:
    now = datetime.now(UTC)
    past = {"prefix": "a", "reason": "r", "ends_at": (now - timedelta(hours=1)).isoformat()}
    assert_problem(api.post(f"{API}/freezes", json=past), 400, "INVALID_INPUT")
    backwards = {
        "prefix": "a",
        "reason": "r",
        "starts_at": (now + timedelta(days=2)).isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat(),
    }
    assert_problem(api.post(f"{API}/freezes", json=backwards), 400, "INVALID_INPUT")
    nul = {"prefix": "a\x00b", "reason": "r"}
    assert_problem(api.post(f"{API}/freezes", json=nul), 400, "INVALID_INPUT")
    assert_problem(
        api.post(f"{API}/freezes", json={"prefix": "a", "reason": " "}), 400, "INVALID_INPUT"
    )


def test_only_admins_of_the_prefix_freeze_and_lift(api: TestClient) -> None:
    maintainer = as_user(api, "maint", "maintainer", "ads/")
    team_admin = as_user(api, "ads-admin", "admin", "ads/")
    body = {"prefix": "ads", "reason": "r"}
    assert_problem(api.post(f"{API}/freezes", json=body, headers=maintainer), 403, "FORBIDDEN")
    created = assert_json(api.post(f"{API}/freezes", json=body, headers=team_admin), 201)
    everything = {"prefix": "", "reason": "r"}
    assert_problem(
        api.post(f"{API}/freezes", json=everything, headers=team_admin), 403, "FORBIDDEN"
    )
    lift = f"{API}/freezes/{created['id']}"
    assert_problem(api.delete(lift, headers=maintainer), 403, "FORBIDDEN")
    listed = assert_json(api.get(f"{API}/freezes", headers=maintainer), 200)["items"]
    assert listed[0]["id"] == created["id"]
    assert_json(api.delete(lift, headers=team_admin), 200)
