"""The event stream over HTTP: pages after a cursor, long polls, server-sent events,
and a consumer that misses nothing while two replicas write."""

from __future__ import annotations

import json
import threading
import time

import pytest

from modeldepot.blobstore.local import LocalBlobStore
from modeldepot.db.engine import Database
from modeldepot.registry import Registry
from modeldepot.security.context import Context
from tests.api.helpers import API, as_user, assert_json, assert_problem

ADS = "ads/rec"
ML = "ml/other"


def append(registry: Registry, model: str, count: int = 1, action: str = "relation.delete") -> None:
    ctx = Context.system("writer")
    for i in range(count):
        with registry.units.write(ctx) as uow:
            uow.record(action, model, model=model, after={"i": i})


def events(api, headers=None, **params) -> dict:
    return assert_json(api.get(f"{API}/events", params=params, headers=headers or {}), 200)


@pytest.fixture
def logged(api) -> Registry:
    registry: Registry = api.app.state.registry
    append(registry, ADS, 2)
    append(registry, ML, 2, "group.create")
    return registry


def head(registry: Registry) -> int:
    return registry.audit.verify(Context.system()).last_seq


def test_events_come_in_commit_order_after_the_cursor(api, logged: Registry) -> None:
    page = events(api)
    seqs = [e["seq"] for e in page["items"]]
    assert seqs == list(range(1, head(logged) + 1))
    assert page["next_after"] == head(logged)
    later = events(api, after=seqs[-3])
    assert [e["seq"] for e in later["items"]] == seqs[-2:]
    assert events(api, after=page["next_after"]) == {"items": [], "next_after": page["next_after"]}


def test_a_reader_gets_what_it_may_read_and_its_cursor_passes_the_rest(api, logged) -> None:
    reader = as_user(api, "rita", "reader", "ads/")
    page = events(api, reader)
    assert [(e["action"], e["model"]) for e in page["items"]] == [("relation.delete", ADS)] * 2
    end = head(logged)
    assert page["next_after"] == end
    append(logged, ML, 3)
    assert events(api, reader, after=end) == {"items": [], "next_after": end + 3}


def test_events_are_filtered_by_prefix_and_action(api, logged) -> None:
    assert {e["model"] for e in events(api, prefix="ml")["items"]} == {ML}
    related = events(api, action="group.*")["items"]
    assert [e["action"] for e in related] == ["group.create"] * 2
    assert_problem(api.get(f"{API}/events", params={"action": "alias"}), 400, "INVALID_INPUT")


def test_small_pages_read_everything_once(api, logged) -> None:
    append(logged, ADS, 7)
    seen: list[int] = []
    after = 0
    while True:
        page = events(api, after=after, limit=2)
        if not page["items"]:
            break
        seen += [e["seq"] for e in page["items"]]
        after = page["next_after"]
    assert seen == list(range(1, head(logged) + 1))


def test_a_long_poll_returns_as_soon_as_something_commits(api, logged) -> None:
    end = head(logged)
    timer = threading.Timer(0.3, append, (logged, ADS))
    started = time.monotonic()
    timer.start()
    page = events(api, after=end, wait=10)
    elapsed = time.monotonic() - started
    timer.join()
    assert [e["seq"] for e in page["items"]] == [end + 1]
    assert 0.25 < elapsed < 2.0


def test_a_long_poll_with_nothing_new_ends_after_its_wait(api, logged) -> None:
    end = head(logged)
    started = time.monotonic()
    page = events(api, after=end, wait=0.7)
    assert page == {"items": [], "next_after": end}
    assert 0.6 < time.monotonic() - started < 3.0


def test_bad_cursors_and_waits_are_refused(api) -> None:
    for params in ({"wait": 61}, {"limit": 0}, {"limit": 1001}):
        assert_problem(api.get(f"{API}/events", params=params), 400, "INVALID_INPUT", params)
    assert_problem(api.get(f"{API}/events", params={"after": -1}), 422, "INVALID_INPUT")


def test_events_need_a_credential(anon) -> None:
    assert_problem(anon.get(f"{API}/events"), 401, "UNAUTHENTICATED")


def sse(api, headers=None, **params) -> list[tuple[int, dict]]:
    """(id, data) of each server-sent event of a stream that lasts ``wait`` seconds."""
    answer = api.get(
        f"{API}/events",
        params=params,
        headers={"Accept": "text/event-stream", **(headers or {})},
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    out = []
    for block in answer.text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "id" in fields:
            out.append((int(fields["id"]), json.loads(fields["data"])))
    return out


def test_server_sent_events_carry_the_seq_as_id_and_resume_after_the_last_one(api, logged) -> None:
    end = head(logged)
    timer = threading.Timer(0.3, append, (logged, ADS, 2))
    timer.start()
    streamed = sse(api, wait=1.5)
    timer.join()
    assert [i for i, _ in streamed] == list(range(1, end + 3))
    assert all(data["seq"] == i for i, data in streamed)
    resumed = sse(api, {"Last-Event-ID": str(end)}, wait=0.2)
    assert [i for i, _ in resumed] == [end + 1, end + 2]
    reader = as_user(api, "rita", "reader", "ml/")
    assert {data["model"] for _, data in sse(api, reader, wait=0.2)} == {ML}


def test_a_consumer_keeping_its_cursor_misses_nothing_while_two_replicas_write(
    api, logged: Registry, database_url: str
) -> None:
    """The app serves replica A; replica B (its own engine) writes too; halfway the
    consumer "restarts" against replica B with the cursor it kept."""
    other_db = Database(database_url)
    store = LocalBlobStore(logged.settings.blob_dir, fsync=False)
    other = Registry(other_db, store, logged.settings)
    try:
        before = head(logged)
        writers = [
            threading.Thread(target=append, args=(replica, ADS, 30)) for replica in (logged, other)
        ]
        for writer in writers:
            writer.start()
        seen: list[int] = []
        after = 0
        deadline = time.monotonic() + 60
        expected = before + 60  # 30 by each replica
        switched = False
        while len(seen) < expected and time.monotonic() < deadline:
            page = events(api, after=after, wait=2, limit=7)
            seen += [e["seq"] for e in page["items"]]
            after = page["next_after"]
            if not switched and len(seen) > expected // 2:
                api.app.state.registry = other
                switched = True
        for writer in writers:
            writer.join(60)
        assert switched
        seen += [e["seq"] for e in events(api, after=after)["items"]]
        assert seen == list(range(1, head(logged) + 1))
        assert len(seen) == expected
    finally:
        other_db.dispose()
