"""docs/performance.md cannot rot: each guard test it names exists, each setting too."""

from __future__ import annotations

import re
from pathlib import Path

from modeldepot.config import setting_docs

ROOT = Path(__file__).parents[1]
PAGE = (ROOT / "docs" / "performance.md").read_text()


def test_every_guard_test_named_exists() -> None:
    named = re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?`", PAGE)
    assert len(named) >= 15
    for path, test in named:
        source = (ROOT / path).read_text()
        if test:
            assert re.search(rf"^def {test}\(", source, re.M), f"{path}::{test}"


def test_every_setting_named_exists() -> None:
    known = {env for env, _, _ in setting_docs()}
    named = set(re.findall(r"MODELDEPOT_[A-Z_]+", PAGE))
    assert named and named <= known, named - known


def test_every_trick_names_a_guard_test_and_how_to_turn_it_off() -> None:
    sections = PAGE.split("\n## ")[1:]
    assert len(sections) >= 7
    for section in sections:
        assert "**Guard test" in section and "**Off.**" in section and "**Figure.**" in section
