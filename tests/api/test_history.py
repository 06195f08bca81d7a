"""Resolving as of a past instant: ``/resolve?ref=…&at=…``.

The server stamps every change with its own clock, so the tests take their instants
from what the API reports (alias history ``at``, version ``created_at``) and probe at,
just before and between them.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.api.helpers import assert_json, assert_problem, model_url, resolve
from tests.api.lineage_helpers import push_version, set_alias

NAME = "ads/rec"
MICROSECOND = timedelta(microseconds=1)


def tick() -> None:
    """Let the server's clock move on, so consecutive changes get distinct instants."""
    time.sleep(0.002)


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def iso(when: datetime) -> str:
    return when.isoformat()


def between(earlier: datetime, later: datetime) -> datetime:
    return earlier + (later - earlier) / 2


def number_at(api, ref: str, when: datetime) -> int:
    return int(assert_json(resolve(api, ref, at=iso(when)), 200)["number"])


def alias_events(api, alias: str) -> list[tuple[int | None, int | None, datetime]]:
    """The alias's history oldest first, as (from, to, at)."""
    page = assert_json(api.get(model_url(NAME, "aliases", alias, "history")), 200)
    return [(e["from_version"], e["to_version"], instant(e["at"])) for e in page["items"]][::-1]


def created_at(api, number: int) -> datetime:
    url = model_url(NAME, "versions", str(number))
    return instant(assert_json(api.get(url, params={"include_deleted": "true"}), 200)["created_at"])


@pytest.fixture
def three_versions(api) -> None:
    for i in range(1, 4):
        push_version(api, NAME, str(i).encode())
        tick()


@pytest.fixture
def moved_alias(api, three_versions) -> list[datetime]:
    """``prod``: set to 1, moved to 2, then 3, deleted, set to 1 again; the five instants."""
    for version in (1, 2, 3):
        set_alias(api, NAME, "prod", version)
        tick()
    assert api.delete(model_url(NAME, "aliases", "prod")).status_code == 204
    tick()
    set_alias(api, NAME, "prod", 1)
    events = alias_events(api, "prod")
    assert [(a, b) for a, b, _ in events] == [(None, 1), (1, 2), (2, 3), (3, None), (None, 1)]
    instants = [when for _, _, when in events]
    assert instants == sorted(set(instants)), "distinct instants, oldest first"
    return instants


# --- aliases --------------------------------------------------------------------------


def test_alias_at_each_event_is_the_version_it_was_moved_to(api, moved_alias) -> None:
    t1, t2, t3, _, t5 = moved_alias
    assert [number_at(api, f"{NAME}@prod", t) for t in (t1, t2, t3, t5)] == [1, 2, 3, 1]


def test_alias_between_events_is_the_version_of_the_earlier_one(api, moved_alias) -> None:
    t1, t2, t3, t4, _ = moved_alias
    assert number_at(api, f"{NAME}@prod", between(t1, t2)) == 1
    assert number_at(api, f"{NAME}@prod", between(t2, t3)) == 2
    assert number_at(api, f"{NAME}@prod", between(t3, t4)) == 3
    assert number_at(api, f"{NAME}@prod", t2 - MICROSECOND) == 1


def test_alias_before_it_existed_is_404_alias_not_found(api, moved_alias) -> None:
    t1 = moved_alias[0]
    for when in (t1 - MICROSECOND, datetime(2000, 1, 1, tzinfo=UTC)):
        response = resolve(api, f"{NAME}@prod", at=iso(when))
        body = assert_problem(response, 404, "ALIAS_NOT_FOUND", when)
        assert body["model"] == NAME
    assert_problem(resolve(api, f"{NAME}@prod", at="2000-01-01"), 404, "ALIAS_NOT_FOUND")


def test_alias_while_it_was_deleted_is_404_alias_not_found(api, moved_alias) -> None:
    _, _, _, t4, t5 = moved_alias
    for when in (t4, between(t4, t5), t5 - MICROSECOND):
        assert_problem(resolve(api, f"{NAME}@prod", at=iso(when)), 404, "ALIAS_NOT_FOUND", when)


def test_alias_deleted_for_good_is_404_after_its_deletion(api, three_versions) -> None:
    set_alias(api, NAME, "canary", 2)
    tick()
    api.delete(model_url(NAME, "aliases", "canary"))
    (_, _, set_at), (_, _, deleted_at) = alias_events(api, "canary")
    assert number_at(api, f"{NAME}@canary", between(set_at, deleted_at)) == 2
    assert_problem(resolve(api, f"{NAME}@canary", at=iso(deleted_at)), 404, "ALIAS_NOT_FOUND")
    now = datetime.now(UTC) + timedelta(seconds=1)
    assert_problem(resolve(api, f"{NAME}@canary", at=iso(now)), 404, "ALIAS_NOT_FOUND")


def test_alias_in_the_future_is_where_it_points_now(api, moved_alias) -> None:
    future = datetime.now(UTC) + timedelta(days=365)
    assert number_at(api, f"{NAME}@prod", future) == 1


def test_alias_at_a_past_instant_gives_a_version_deleted_since(api, three_versions) -> None:
    set_alias(api, NAME, "prod", 1)
    tick()
    set_alias(api, NAME, "prod", 2)
    assert api.delete(model_url(NAME, "versions", "1")).status_code == 200
    first = alias_events(api, "prod")[0][2]
    version = assert_json(resolve(api, f"{NAME}@prod", at=iso(first)), 200)
    assert (version["number"], version["deleted_at"] is not None) == (1, True)


def test_instant_in_another_offset_means_the_same_moment(api, moved_alias) -> None:
    t2 = moved_alias[1]
    plus_two = t2.astimezone(timezone(timedelta(hours=2)))
    assert iso(plus_two).endswith("+02:00")
    assert number_at(api, f"{NAME}@prod", plus_two) == 2
    naive = iso(t2.replace(tzinfo=None))  # no offset: taken as UTC
    assert assert_json(resolve(api, f"{NAME}@prod", at=naive), 200)["number"] == 2
    zulu = iso(t2).replace("+00:00", "Z")
    assert assert_json(resolve(api, f"{NAME}@prod", at=zulu), 200)["number"] == 2


def test_alias_history_of_one_model_does_not_leak_into_another(api, moved_alias) -> None:
    push_version(api, "ads/other")
    set_alias(api, "ads/other", "prod", 1)
    t1 = moved_alias[0]
    assert_problem(resolve(api, "ads/other@prod", at=iso(t1)), 404, "ALIAS_NOT_FOUND")


def test_models_uri_alias_form_resolves_as_of_an_instant(api, moved_alias) -> None:
    assert number_at(api, f"models:/{NAME}@prod", moved_alias[1]) == 2


# --- latest, numbers and digests --------------------------------------------------------


@pytest.mark.usefixtures("three_versions")
def test_latest_at_a_past_instant_is_the_newest_version_then(api) -> None:
    c1, c2, c3 = (created_at(api, n) for n in (1, 2, 3))
    for ref in (NAME, f"{NAME}@latest", f"models:/{NAME}/latest"):
        assert number_at(api, ref, c1) == 1
        assert number_at(api, ref, between(c1, c2)) == 1
        assert number_at(api, ref, c2) == 2
        assert number_at(api, ref, c3) == 3
    assert_problem(resolve(api, NAME, at=iso(c1 - MICROSECOND)), 404, "VERSION_NOT_FOUND")


@pytest.mark.usefixtures("three_versions")
def test_latest_at_a_past_instant_counts_versions_deleted_only_later(api) -> None:
    c3 = created_at(api, 3)
    deleted = assert_json(api.delete(model_url(NAME, "versions", "3")), 200)
    deleted_at = instant(deleted["deleted_at"])
    assert number_at(api, NAME, c3) == 3
    assert number_at(api, NAME, between(c3, deleted_at)) == 3
    assert number_at(api, NAME, deleted_at) == 2
    assert assert_json(resolve(api, NAME), 200)["number"] == 2


@pytest.mark.usefixtures("three_versions")
def test_number_before_that_version_existed_is_404_version_not_found(api) -> None:
    c2, c3 = created_at(api, 2), created_at(api, 3)
    for when in (c2, between(c2, c3), c3 - MICROSECOND):
        response = resolve(api, f"{NAME}:3", at=iso(when))
        assert_problem(response, 404, "VERSION_NOT_FOUND", when)
    assert number_at(api, f"{NAME}:3", c3) == 3
    assert number_at(api, f"{NAME}:1", c3) == 1


@pytest.mark.usefixtures("three_versions")
def test_number_at_a_past_instant_gives_a_version_deleted_since(api) -> None:
    api.delete(model_url(NAME, "versions", "2"))
    version = assert_json(resolve(api, f"{NAME}:2", at=iso(created_at(api, 2))), 200)
    assert (version["number"], version["deleted_at"] is not None) == (2, True)


@pytest.mark.usefixtures("three_versions")
def test_digest_before_that_version_existed_is_404_version_not_found(api) -> None:
    digest = assert_json(api.get(model_url(NAME, "versions", "3")), 200)["digest"]
    c3 = created_at(api, 3)
    ref = f"{NAME}@{digest}"
    assert_problem(resolve(api, ref, at=iso(c3 - MICROSECOND)), 404, "VERSION_NOT_FOUND")
    assert number_at(api, ref, c3) == 3


# --- malformed instants and models ----------------------------------------------------

MALFORMED_INSTANTS = [
    "",
    "yesterday",
    "2026-13-01",
    "2026-02-30",
    "2026-03-03T25:00",
    "12:00",
    "2026-03-03T10:00+25:00",
    "1700000000",
    "2026-03-03 10:00 UTC",
    "2026-03-03\x00",
]


@pytest.mark.usefixtures("three_versions")
def test_malformed_instant_is_400_time_invalid(api) -> None:
    set_alias(api, NAME, "prod", 1)
    for ref in (f"{NAME}@prod", NAME, f"{NAME}:1"):
        for text in MALFORMED_INSTANTS:
            assert_problem(resolve(api, ref, at=text), 400, "TIME_INVALID", (ref, text))


@pytest.mark.usefixtures("three_versions")
def test_instant_beyond_the_calendar_in_utc_is_400_time_invalid(api) -> None:
    """Valid ISO 8601 whose UTC form falls outside years 1-9999."""
    for text in ("9999-12-31T23:59:59-01:00", "0001-01-01T00:30:00+01:00"):
        assert_problem(resolve(api, NAME, at=text), 400, "TIME_INVALID", text)


@pytest.mark.usefixtures("three_versions")
def test_extreme_but_valid_instants_resolve(api) -> None:
    assert_problem(resolve(api, NAME, at="0001-01-01"), 404, "VERSION_NOT_FOUND")
    assert number_at(api, NAME, datetime(9999, 12, 31, tzinfo=UTC)) == 3


def test_instant_on_a_missing_or_deleted_model_is_404(api) -> None:
    assert_problem(resolve(api, "ads/none@prod", at="2026-01-01"), 404, "MODEL_NOT_FOUND")
    push_version(api, NAME)
    api.delete(model_url(NAME))
    assert_problem(resolve(api, NAME, at="2999-01-01"), 404, "MODEL_DELETED")


def test_instant_does_not_excuse_a_malformed_ref(api) -> None:
    push_version(api, NAME)
    assert_problem(resolve(api, f"{NAME}:0", at="2026-01-01"), 400, "REFERENCE_INVALID")
