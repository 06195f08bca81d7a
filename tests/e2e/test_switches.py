"""Off switches of the server's performance tricks reach ``modeldepot serve``
(the tricks themselves are listed in docs/performance.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import ServerProcess, new_server

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = new_server(tmp_path / "server", None)
    yield process
    process.close()


def _frozen_objects(server: ServerProcess) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        if family.name == "modeldepot_gc_frozen_objects":
            return family.samples[0].value
    raise AssertionError("no modeldepot_gc_frozen_objects in /metrics")


@pytest.mark.parametrize("freeze", ["default", "false"])
def test_the_start_up_heap_is_frozen_unless_turned_off(server: ServerProcess, freeze: str) -> None:
    if freeze == "false":
        server.env["MODELDEPOT_GC_FREEZE"] = "false"
    server.start()
    frozen = _frozen_objects(server)
    assert (frozen > 50_000) if freeze == "default" else (frozen == 0)
