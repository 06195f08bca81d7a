"""Requests for one alias applied at the same moment: exactly one moves the alias, the
others are superseded or refused, and the alias's history has one entry per move."""

from __future__ import annotations

import threading
from typing import Any

from modeldepot.errors import RequestBaseMoved, RequestClosed
from modeldepot.registry import Registry
from modeldepot.schemas import FileEntry, VersionCreate
from modeldepot.security.context import Context
from tests.api.helpers import digest_of

NAME = "race/model"


def seeded(registry: Registry, versions: int) -> Context:
    ctx = Context.system("tester")
    data = b"weights"
    session = registry.uploads.create_upload(ctx, digest_of(data), len(data), model=NAME)
    writer = registry.uploads.open_writer(ctx, session.id, 0)
    writer.write(data)
    writer.close()
    registry.uploads.complete_upload(ctx, session.id)
    files = [FileEntry(path="w.bin", size=len(data), digest=digest_of(data))]
    for i in range(versions):
        registry.versions.create_version(ctx, NAME, VersionCreate(files=files, tags={"i": str(i)}))
    return ctx


def test_concurrent_applications_move_the_alias_once(registry: Registry) -> None:
    ctx = seeded(registry, 6)
    ids = [registry.requests.open(ctx, NAME, n, "production") for n in range(1, 7)]
    barrier = threading.Barrier(len(ids))
    outcomes: dict[int, Any] = {}

    def apply(request_id: int) -> None:
        barrier.wait()
        try:
            registry.requests.apply(ctx, request_id)
            outcomes[request_id] = "applied"
        except (RequestClosed, RequestBaseMoved) as exc:
            outcomes[request_id] = exc.code

    threads = [threading.Thread(target=apply, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    winners = [i for i, outcome in outcomes.items() if outcome == "applied"]
    assert len(winners) == 1 and len(outcomes) == len(ids), outcomes
    assert set(outcomes.values()) <= {"applied", "REQUEST_CLOSED", "REQUEST_BASE_MOVED"}
    winner = registry.request_reads.get(ctx, winners[0])
    assert registry.aliases.get_alias(ctx, NAME, "production").version == winner.version
    history = registry.aliases.alias_history(ctx, NAME, "production").items
    assert [(h.to_version, h.request) for h in history] == [(winner.version, winner.id)]
    states = {r.id: r.state for r in registry.request_reads.list_requests(ctx, state=None).items}
    assert sorted(states.values()) == ["applied"] + ["superseded"] * 5
