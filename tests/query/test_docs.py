"""The query-language reference must name every field and sort, state the limits, and
hold only examples that compile."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from modeldepot.errors import (
    CursorInvalid,
    QueryFieldUnknown,
    QueryInvalid,
    QueryTooLarge,
    QueryTypeMismatch,
)
from modeldepot.query.compile import compile_query
from modeldepot.query.parser import MAX_DEPTH, MAX_LENGTH, MAX_TERMS
from modeldepot.query.targets import MODELS, VERSIONS, Target
from modeldepot.schemas.common import DEFAULT_LIMIT, MAX_LIMIT

DOC = (Path(__file__).parents[2] / "docs" / "query-language.md").read_text()


def section(title: str) -> str:
    """The text under ``title`` up to the next heading of the same or a higher level."""
    level = title.split(" ")[0]
    start = DOC.index(f"\n{title}\n")
    following = re.compile(rf"\n#{{1,{len(level)}}} ")
    end = following.search(DOC, start + 1)
    return DOC[start : end.start() if end else len(DOC)]


def table_fields(text: str) -> set[str]:
    """The backquoted names in the first column of the tables in ``text``."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([^`]+)`", line.split("|")[1]))
    return names


@pytest.mark.parametrize(("title", "target"), [("### Models", MODELS), ("### Versions", VERSIONS)])
def test_every_field_is_documented_and_every_documented_field_exists(
    title: str, target: Target
) -> None:
    assert table_fields(section(title)) == set(target.field_names())


@pytest.mark.parametrize(("search", "target"), [("models", MODELS), ("versions", VERSIONS)])
def test_every_sort_is_documented(search: str, target: Target) -> None:
    row = next(
        line for line in section("## Sorting").splitlines() if line.startswith(f"| {search}")
    )
    sorts, default = row.split("|")[2:4]
    assert set(re.findall(r"`([^`]+)`", sorts)) == set(target.sort_names())
    assert default.strip() == f"`{target.default_sort}`"


@pytest.mark.parametrize(
    "error", [QueryInvalid, QueryFieldUnknown, QueryTypeMismatch, QueryTooLarge, CursorInvalid]
)
def test_every_error_code_is_documented(error: type) -> None:
    assert re.search(rf"\| `{error.code}` +\|", section("## Errors"))


def test_limits_are_stated() -> None:
    limits = section("## Limits")
    assert f"| {MAX_LENGTH} characters |" in limits
    assert f"| {MAX_TERMS}: " in limits
    assert f"| {MAX_DEPTH} levels: " in limits
    assert f"(default {DEFAULT_LIMIT}, at most {MAX_LIMIT})" in section("## Pagination")


def examples(label: str) -> list[str]:
    block = section("## Examples").split(f"{label}:\n", 1)[1]
    return re.search(r"```text\n(.*?)\n```", block, re.S)[1].splitlines()  # type: ignore[index]


@pytest.mark.parametrize("sqlite", [True, False])
def test_examples_compile(sqlite: bool) -> None:
    for query in examples("Models"):
        compile_query(query, MODELS, sqlite=sqlite)
    for query in examples("Versions"):
        compile_query(query, VERSIONS, sqlite=sqlite)
    assert len(examples("Models")) >= 5
    assert len(examples("Versions")) >= 5


def readme_searches() -> list[tuple[Target, str, str | None]]:
    """(target, query, sort) of every ``modeldepot search`` command the README shows."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    found = []
    for line in readme.splitlines():
        if not line.startswith("modeldepot search "):
            continue
        args = shlex.split(line, comments=True)[2:]
        target = VERSIONS if "--versions" in args else MODELS
        sort = args[args.index("--sort") + 1] if "--sort" in args else None
        positional = [a for a in args if not a.startswith("-") and a != sort]
        found.append((target, positional[0], sort))
    return found


def test_the_readme_search_examples_compile() -> None:
    searches = readme_searches()
    assert searches
    for target, query, sort in searches:
        compile_query(query, target, sqlite=True)
        target.sort(sort)
