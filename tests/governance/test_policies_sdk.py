"""The SDK's policy and freeze calls against a live server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from modeldepot.errors import FreezeNotFound, PolicyInvalid, PolicyNotFound
from tests.governance.helpers import FULL, source


def test_policies_through_the_sdk(client: Any, tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(FULL)
    first = client.apply_policy(path)
    assert (first.name, first.version, first.prefix) == ("credit-production", 1, "credit")
    again, changed = client.apply_policy_changed(FULL)
    assert (again.version, changed) == (1, False)
    second = client.apply_policy(FULL.replace("soak_hours: 24", "soak_hours: 12"))
    assert second.version == 2
    assert [p.name for p in client.list_policies()] == ["credit-production"]
    assert client.get_policy("credit-production").version == 2
    assert client.get_policy("credit-production", 1).spec["soak_hours"] == 24
    assert [p.version for p in client.policy_history("credit-production")] == [1, 2]
    assert "+soak_hours: 12" in client.diff_policy("credit-production", 1, 2)
    assert client.diff_policy("credit-production", 2, 2) == ""
    assert client.remove_policy("credit-production").removed is True
    with pytest.raises(PolicyNotFound):
        client.get_policy("credit-production")
    with pytest.raises(PolicyInvalid) as caught:
        client.apply_policy(source("bad", rules=[{"name": "r", "expression": "1 +"}]))
    assert caught.value.extra["field"] == "rules[0].expression"


def test_freezes_through_the_sdk(client: Any) -> None:
    until = datetime.now(UTC) + timedelta(days=1)
    created = client.create_freeze("ads/", "launch", ends_at=until)
    assert (created.prefix, created.active, created.created_by) == ("ads", True, "admin")
    assert [f.id for f in client.list_freezes()] == [created.id]
    lifted = client.lift_freeze(created.id)
    assert lifted.lifted_at is not None and not lifted.active
    assert client.list_freezes() == []
    assert [f.id for f in client.list_freezes(everyone=True)] == [created.id]
    with pytest.raises(FreezeNotFound):
        client.lift_freeze(created.id)
