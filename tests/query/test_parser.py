"""The query parser: every construct, precedence, and each error with its position."""

from __future__ import annotations

import pytest

from modeldepot.errors import QueryInvalid, QueryTooLarge
from modeldepot.query.nodes import And, Comparison, Exists, Field, Literal, Not, Or, Text
from modeldepot.query.parser import MAX_DEPTH, MAX_LENGTH, MAX_TERMS, parse


def cmp(name: str, op: str, *values: object, key: str | None = None) -> tuple:
    """A comparison without positions, to compare with ``shape``."""
    return ("cmp", name, key, op, values)


def shape(node: object) -> object:
    """The tree without positions."""
    match node:
        case Comparison(field, op, _, values):
            return cmp(field.name, op, *(v.value for v in values), key=field.key)
        case Exists(field):
            return ("exists", field.name, field.key)
        case Text(text):
            return ("text", text)
        case And(terms):
            return ("and", *map(shape, terms))
        case Or(terms):
            return ("or", *map(shape, terms))
        case Not(term):
            return ("not", shape(term))
    return node


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_query_has_no_tree(text: str) -> None:
    assert parse(text) is None


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_comparison_operators(op: str) -> None:
    assert shape(parse(f"number {op} 3")) == cmp("number", op, 3)
    assert shape(parse(f"number{op}3")) == cmp("number", op, 3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('name LIKE "fraud%"', cmp("name", "like", "fraud%")),
        ('name not like "a_"', cmp("name", "not like", "a_")),
        ("name GLOB 'ads/*'", cmp("name", "glob", "ads/*")),
        ("name NOT GLOB 'x?'", cmp("name", "not glob", "x?")),
        ("risk IN (high, 'limited')", cmp("risk", "in", "high", "limited")),
        ("number not in (1, 2,3)", cmp("number", "not in", 1, 2, 3)),
        ("number IN (7)", cmp("number", "in", 7)),
    ],
)
def test_pattern_and_list_operators(text: str, expected: tuple) -> None:
    assert shape(parse(text)) == expected


def test_exists_and_not_exists() -> None:
    assert shape(parse("metrics.auc EXISTS")) == ("exists", "metrics", "auc")
    assert shape(parse("owner not exists")) == ("not", ("exists", "owner", None))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('"double"', "double"),
        ("'single'", "single"),
        (r'"say \"hi\""', 'say "hi"'),
        (r"'it\'s'", "it's"),
        (r'"back\\slash"', "back\\slash"),
        (r'"tab\tnew\nline\r"', "tab\tnew\nline\r"),
        (r'"100\%"', "100\\%"),  # unknown escapes keep the backslash, for LIKE
        ('"it\'s"', "it's"),
        ("''", ""),
        ("42", 42),
        ("-7", -7),
        ("+7", 7),
        ("0.5", 0.5),
        (".5", 0.5),
        ("-1.5e-3", -0.0015),
        ("2E3", 2000.0),
        ("true", True),
        ("FALSE", False),
        ("onnx", "onnx"),
        ("ads/fraud-detector", "ads/fraud-detector"),
        ("team:ml_ops.v2", "team:ml_ops.v2"),
    ],
)
def test_values(text: str, value: object) -> None:
    node = parse(f"x = {text}")
    assert isinstance(node, Comparison)
    assert node.values[0].value == value
    assert type(node.values[0].value) is type(value)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("name = a", Field("name", None, 0)),
        ("created_by = a", Field("created_by", None, 0)),
        ("Owner = a", Field("owner", None, 0)),
        ("tags.team = a", Field("tags", "team", 0)),
        ("metrics.auc.macro = 1", Field("metrics", "auc.macro", 0)),
        ("params.optimizer.lr = 1", Field("params", "optimizer.lr", 0)),
        ("tags.k8s:ns/app-name_1 = a", Field("tags", "k8s:ns/app-name_1", 0)),
        ('params."my key" = 1', Field("params", "my key", 0)),
        ("params.a.'b c' = 1", Field("params", "a.b c", 0)),
        ("TAGS.Team = a", Field("tags", "Team", 0)),
        ("metric.auc = 1", Field("metric.auc", None, 0)),
    ],
)
def test_field_names(text: str, field: Field) -> None:
    node = parse(text)
    assert isinstance(node, Comparison)
    assert node.field == field


def test_positions_of_fields_operators_and_values() -> None:
    node = parse("x = 1 AND  tags.team IN ('a', b)")
    assert isinstance(node, And)
    second = node.terms[1]
    assert isinstance(second, Comparison)
    assert second.field.position == 11
    assert second.op_position == 21
    assert second.values == (Literal("a", 25), Literal("b", 30))


def test_free_text_term() -> None:
    assert shape(parse('"fraud detection" AND risk = high')) == (
        "and",
        ("text", "fraud detection"),
        cmp("risk", "=", "high"),
    )
    assert shape(parse("'alone'")) == ("text", "alone")


def test_not_binds_tighter_than_and_and_and_than_or() -> None:
    assert shape(parse("a = 1 OR b = 2 AND NOT c = 3")) == (
        "or",
        cmp("a", "=", 1),
        ("and", cmp("b", "=", 2), ("not", cmp("c", "=", 3))),
    )
    assert shape(parse("NOT a = 1 AND b = 2")) == (
        "and",
        ("not", cmp("a", "=", 1)),
        cmp("b", "=", 2),
    )


def test_parentheses_override_precedence() -> None:
    assert shape(parse("(a = 1 OR b = 2) AND NOT (c = 3 OR d = 4)")) == (
        "and",
        ("or", cmp("a", "=", 1), cmp("b", "=", 2)),
        ("not", ("or", cmp("c", "=", 3), cmp("d", "=", 4))),
    )


def test_chains_are_flat() -> None:
    assert shape(parse("a = 1 and b = 2 AND c = 3 or d = 4 OR e = 5")) == (
        "or",
        ("and", cmp("a", "=", 1), cmp("b", "=", 2), cmp("c", "=", 3)),
        cmp("d", "=", 4),
        cmp("e", "=", 5),
    )


def test_keywords_are_case_insensitive() -> None:
    assert shape(parse("not a = 1 aNd b LiKe 'x' Or c iN (1)")) == shape(
        parse("NOT a = 1 AND b LIKE 'x' OR c IN (1)")
    )


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("metrics.auc > ", "expected a value after '>' at position 14", 14),
        ("metrics.auc > AND x = 1", "expected a value after '>' at position 14", 14),
        ("name", "expected an operator after 'name' at position 4", 4),
        ("fraud detection", "expected an operator after 'fraud' at position 6", 6),
        ("name = 1 name = 2", "expected AND, OR or the end of the query at position 9", 9),
        ("(a = 1", "expected ')' at position 6 to close the '(' at position 0", 6),
        ("a = 1)", "unexpected ')' at position 5", 5),
        ("()", "expected a field, a quoted text or '(' at position 1", 1),
        ("a = 1 AND", "expected a field, a quoted text or '(' at position 9", 9),
        ("AND a = 1", "expected a field, a quoted text or '(' at position 0", 0),
        ("a = 1 OR OR b = 1", "expected a field, a quoted text or '(' at position 9", 9),
        ("a NOT = 1", "expected LIKE, GLOB, IN or EXISTS after NOT at position 6", 6),
        ("a IN 1", "expected '(' after IN at position 5", 5),
        ("a IN (1 2)", "expected ',' or ')' in the IN list at position 8", 8),
        ("a IN ()", "expected a value after '(' at position 6", 6),
        ("a IN (1,)", "expected a value after ',' at position 8", 8),
        ("a LIKE", "expected a value after 'LIKE' at position 6", 6),
        ("a = null", "null is not supported at position 4", 4),
        ("a = NOT", "expected a value after '=' at position 4", 4),
        ('a = "open', "unterminated string starting at position 4", 4),
        ("a = 'x\\'", "unterminated string starting at position 4", 4),
        ("a ! 1", "unexpected character '!' at position 2", 2),
        ("a == 1", "expected a value after '=' at position 3", 3),
        ("a = 1 & b = 2", "unexpected character '&' at position 6", 6),
        ("created > 2026-03-03", "malformed number '2026-03-03' at position 10", 10),
        ("a = 1e999", "number out of range at position 4", 4),
        ("a = 99999999999999999999", "number out of range at position 4", 4),
        ("a = 'x\x00'", "invalid character '\\x00' at position 6", 6),
        ("a = 'x\ud800'", "invalid character '\\ud800' at position 6", 6),
        ("tags. = 1", "expected a key after 'tags.' at position 6", 6),
        ("params.", "expected a key after 'params.' at position 7", 7),
        ('params. "k" = 1', "expected a key after 'params.' at position 8", 8),
        ('tags."" = 1', "expected a key after 'tags.' at position 5", 5),
    ],
)
def test_syntax_errors_point_at_the_offending_position(
    text: str, message: str, position: int
) -> None:
    with pytest.raises(QueryInvalid) as caught:
        parse(text)
    assert caught.value.detail.startswith(message)
    assert caught.value.extra == {"position": position}
    assert caught.value.code == "QUERY_SYNTAX"


def test_a_bare_word_alone_suggests_quoting_it() -> None:
    with pytest.raises(QueryInvalid, match='quote it: "fraud"'):
        parse("fraud")


def test_text_longer_than_the_limit_is_too_large() -> None:
    parse("x = '" + "a" * (MAX_LENGTH - 6) + "'")
    with pytest.raises(QueryTooLarge) as caught:
        parse("x = '" + "a" * (MAX_LENGTH - 5) + "'")
    assert caught.value.extra == {"position": MAX_LENGTH}
    assert caught.value.code == "QUERY_TOO_LARGE"


def test_more_terms_than_the_limit_is_too_large() -> None:
    parse(" OR ".join(["a=1"] * MAX_TERMS))
    with pytest.raises(QueryTooLarge, match="more than 200 terms at position 1400"):
        parse(" OR ".join(["a=1"] * (MAX_TERMS + 1)))


def test_each_value_of_an_in_list_counts_as_a_term() -> None:
    parse("a IN (" + ",".join(["1"] * MAX_TERMS) + ")")
    with pytest.raises(QueryTooLarge, match="more than 200 terms"):
        parse("a IN (" + ",".join(["1"] * (MAX_TERMS + 1)) + ")")


def test_free_text_terms_count() -> None:
    with pytest.raises(QueryTooLarge, match="more than 200 terms"):
        parse(" AND ".join(["'w'"] * (MAX_TERMS + 1)))


def test_nesting_deeper_than_the_limit_is_too_large() -> None:
    parse("(" * MAX_DEPTH + "a = 1" + ")" * MAX_DEPTH)
    with pytest.raises(QueryTooLarge, match="nested more than 32 levels deep at position 32"):
        parse("(" * (MAX_DEPTH + 1) + "a = 1" + ")" * (MAX_DEPTH + 1))


def test_each_not_is_a_level_of_nesting() -> None:
    parse("NOT " * MAX_DEPTH + "a = 1")
    with pytest.raises(QueryTooLarge) as caught:
        parse("NOT " * 1000 + "a = 1")
    assert caught.value.extra == {"position": 4 * MAX_DEPTH}


def test_deep_nesting_fails_cleanly_not_with_recursion_error() -> None:
    with pytest.raises(QueryTooLarge):
        parse("(" * 2000 + "a = 1" + ")" * 2000)
