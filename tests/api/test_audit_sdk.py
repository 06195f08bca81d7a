"""The SDK's audit and event calls against a live server."""

from __future__ import annotations

import io
import itertools
import json
import threading

from modeldepot.client.client import Client
from modeldepot.registry import Registry
from modeldepot.security.context import Context

MODEL = "ads/rec"


def tag(registry: Registry, count: int, model: str = MODEL) -> None:
    ctx = Context.system("writer")
    for i in range(count):
        with registry.units.write(ctx) as uow:
            uow.record("relation.create", model, model=model, after={"i": i})


def test_the_sdk_lists_exports_and_verifies(client: Client, registry: Registry) -> None:
    tag(registry, 3)
    tag(registry, 2, "ml/other")
    listed = client.list_audit(prefix="ads")
    assert [(r.principal, r.after) for r in listed] == [("writer", {"i": i}) for i in (2, 1, 0)]
    assert len(client.list_audit(action="relation.*", limit=4)) == 4
    out = io.BytesIO()
    lines = client.export_audit(out, model="ml/other")
    exported = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines == 2 and [r["after"] for r in exported] == [{"i": 0}, {"i": 1}]
    report = client.verify_audit()
    assert report.ok and report.records == report.last_seq >= 5


def test_the_sdk_follows_events_as_they_commit(client: Client, registry: Registry) -> None:
    tag(registry, 2)
    start = client.events(after=0).next_after
    timer = threading.Timer(0.3, tag, (registry, 3))
    timer.start()
    followed = list(itertools.islice(client.follow_events(after=start, prefix="ads"), 3))
    timer.join()
    assert [e.seq for e in followed] == [start + 1, start + 2, start + 3]
    assert [e.after for e in followed] == [{"i": 0}, {"i": 1}, {"i": 2}]
