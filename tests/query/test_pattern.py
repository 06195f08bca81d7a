"""LIKE and GLOB patterns: read in the user's syntax, written for each database."""

from __future__ import annotations

import pytest

from modeldepot.query.fulltext import fts5_query
from modeldepot.query.pattern import Wildcard, read_glob, read_like, to_glob, to_like

ANY, ONE = Wildcard.ANY, Wildcard.ONE


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("a%b_", ("a", ANY, "b", ONE)),
        ("a*b?", ("a", "*", "b", "?")),
        (r"100\%", ("1", "0", "0", "%")),
        (r"a\_b", ("a", "_", "b")),
        ("x\\", ("x", "\\")),
        (r"\\%", ("\\", ANY)),
    ],
)
def test_read_like(text: str, pattern: tuple) -> None:
    assert read_like(text) == pattern


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("a*b?", ("a", ANY, "b", ONE)),
        ("a%b_", ("a", "%", "b", "_")),
        (r"\*\?", ("*", "?")),
        ("[x]", ("[", "x", "]")),
    ],
)
def test_read_glob(text: str, pattern: tuple) -> None:
    assert read_glob(text) == pattern


def test_like_output_escapes_literal_wildcards_and_backslashes() -> None:
    assert to_like(("5", "%", "_", "\\", ANY, ONE)) == r"5\%\_\\%_"


def test_glob_output_brackets_literal_wildcards() -> None:
    assert to_glob(("*", "?", "[", "]", "%", "_", ANY, ONE)) == "[*][?][[]]%_*?"


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("fraud detection", '"fraud" "detection"'),
        ('say "hi"*', '"say" "hi"'),
        ("a AND b NEAR(c) OR NOT d", '"a" "AND" "b" "NEAR" "c" "OR" "NOT" "d"'),
        ("col:value ^x -y +z", '"col" "value" "x" "y" "z"'),
        ("*()", ""),
    ],
)
def test_fts5_query_quotes_every_word(text: str, query: str) -> None:
    assert fts5_query(text) == query
