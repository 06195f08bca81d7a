"""The README's action table is the audit log's table of event names, word for word."""

from __future__ import annotations

import re
from pathlib import Path

from modeldepot.audit.actions import ACTIONS

README = (Path(__file__).parent.parent / "README.md").read_text()


def documented_actions() -> dict[str, str]:
    """``action -> meaning`` of each row of the table under "## Audit actions"."""
    section = README.split("\n## Audit actions\n", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `([a-z_.]+)` \| (.+?) \|$", section, re.M))


def test_the_readme_lists_every_action_with_its_meaning_and_no_other() -> None:
    documented = documented_actions()
    assert sorted(set(ACTIONS) - set(documented)) == [], "actions missing from the README"
    assert sorted(set(documented) - set(ACTIONS)) == [], "README rows of no action"
    assert documented == ACTIONS, "meanings differ from audit/actions.py"


def test_the_readme_table_is_in_the_order_of_audit_actions() -> None:
    assert list(documented_actions()) == list(ACTIONS)
