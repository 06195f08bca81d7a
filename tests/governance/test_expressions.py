"""Policy rule expressions: compiled with their errors located, bounded, and evaluated
without ever raising."""

from __future__ import annotations

import pytest

from modeldepot.errors import ExpressionTooComplex, PolicyInvalid
from modeldepot.governance.expressions import (
    MAX_LENGTH,
    PROGRAMS,
    check_bounds,
    compile_rule,
    evaluate_rule,
    evaluate_rules,
    prepare_record,
)
from modeldepot.governance.policies import RuleSpec

RECORD = {
    "version": {
        "metrics": {"auc": 0.86, "accuracy": 0.91},
        "slices": {"auc": {"sex=female": 0.84, "sex=male": 0.87}},
        "tags": {"dpia": "approved"},
        "code": {"commit": "abc123", "dirty": False},
        "datasets": [{"name": "clicks", "personal_data": True}],
        "number": 7,
    },
    "model": {"risk": "high", "tags": {}},
}


def rule(expression: str, description: str = "") -> RuleSpec:
    return RuleSpec("r", expression, description)


def test_a_syntax_error_is_located_within_the_expression() -> None:
    with pytest.raises(PolicyInvalid) as caught:
        compile_rule('version.metrics["auc"] >=* 0.8', "rules[2].expression")
    assert caught.value.code == "POLICY_INVALID"
    assert caught.value.extra == {"line": 1, "column": 26, "field": "rules[2].expression"}
    assert "line 1, column 26" in caught.value.detail


def test_an_error_on_a_later_line_names_that_line() -> None:
    with pytest.raises(PolicyInvalid) as caught:
        compile_rule("version.number > 1 &&\n  (version.number < 9", "rules[0].expression")
    assert (caught.value.extra["line"], caught.value.extra["column"]) == (
        2,
        22,
    )  # just past the end: the missing ")"


def test_an_empty_expression_is_refused() -> None:
    with pytest.raises(PolicyInvalid):
        compile_rule("  ", "rules[0].expression")


@pytest.mark.parametrize(
    ("expression", "limit"),
    [
        ("1 == 1 && " * 200 + "true", "length"),
        ("(" * 17 + "1" + ")" * 17 + " == 1", "nesting"),
        ("[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]].size() == 1", "nesting"),
        (
            "a.all(x, x > 0) && a.exists(x, x > 1) && a.map(x, x).size() > 0 && "
            "a.filter(x, x > 0).size() > 0 && a.exists_one(x, x == 1)",
            "comprehensions",
        ),
        ("a.all(x, b.all(y, c.exists(z, z == x + y)))", "comprehension_nesting"),
    ],
)
def test_expressions_over_a_bound_are_refused_naming_it(expression: str, limit: str) -> None:
    with pytest.raises(ExpressionTooComplex) as caught:
        compile_rule(expression, "rules[0].expression")
    assert caught.value.code == "EXPRESSION_TOO_COMPLEX"
    assert caught.value.extra["limit"] == limit
    assert caught.value.extra["field"] == "rules[0].expression"


def test_expressions_at_the_bounds_compile() -> None:
    compile_rule("(" * 16 + "1" + ")" * 16 + " == 1")
    compile_rule(
        "a.all(x, b.exists(y, y == x)) && a.map(x, x).size() > 0 && a.filter(x, x).size() > 0"
    )
    compile_rule("'" + "x" * (MAX_LENGTH - 9) + "' != ''")


def test_brackets_and_macros_inside_strings_and_comments_count_for_nothing() -> None:
    check_bounds('version.tags["note"] == "((((((((((((((((((.all(.all(.all(.map(.filter("')
    check_bounds("x == '''a\n[[[[[[[[[[[[[[[[[[[[''' && y == \"\\\"(((((((((((((((((((\"")
    check_bounds("x == 1 // ((((((((((((((((((.all(.all(.all(\n&& y == 2")
    compile_rule("version.number == 7 // (((((((((((((((((((\n && true")


def test_a_rule_that_holds_passes() -> None:
    outcome = evaluate_rule(rule('version.metrics["auc"] >= 0.8'), RECORD)
    assert (outcome.passed, outcome.value) == (True, True)


def test_a_rule_that_does_not_hold_fails_with_its_description() -> None:
    outcome = evaluate_rule(rule("version.metrics.auc >= 0.9", "AUC at least 0.9"), RECORD)
    assert (outcome.passed, outcome.value) == (False, False)
    assert "AUC at least 0.9" in outcome.message


def test_a_missing_field_fails_the_rule_with_a_message() -> None:
    outcome = evaluate_rule(rule('version.metrics["f1"] >= 0.5'), RECORD)
    assert not outcome.passed
    assert "no field 'f1'" in outcome.message
    assert outcome.value is None


def test_has_guards_an_optional_field() -> None:
    expression = '!has(version.metrics.f1) || version.metrics["f1"] >= 0.5'
    assert evaluate_rule(rule(expression), RECORD).passed


def test_a_result_that_is_not_a_boolean_fails() -> None:
    outcome = evaluate_rule(rule("version.metrics.auc"), RECORD)
    assert not outcome.passed
    assert "0.86" in outcome.message and "not true or false" in outcome.message
    assert outcome.value == 0.86


@pytest.mark.parametrize(
    "expression",
    ["version.tags.dpia > 1", "unknown_variable == 1", "1 / (version.number - 7) == 0"],
)
def test_evaluation_errors_fail_the_rule_and_never_raise(expression: str) -> None:
    outcome = evaluate_rule(rule(expression), RECORD)
    assert not outcome.passed
    assert "could not be evaluated" in outcome.message


def test_an_expression_that_does_not_compile_fails_when_evaluated() -> None:
    outcome = evaluate_rule(rule("version.number >"), RECORD)
    assert not outcome.passed and "does not compile" in outcome.message


def test_fairness_dpia_and_clean_code_rules_read_naturally() -> None:
    fairness = 'version.slices["auc"].all(s, version.slices["auc"][s] >= 0.8)'
    dpia = '!version.datasets.exists(d, d.personal_data) || version.tags["dpia"] == "approved"'
    clean = 'version.code.commit != "" && !version.code.dirty'
    for expression in (fairness, dpia, clean):
        assert evaluate_rule(rule(expression), RECORD).passed, expression
    unfair = {**RECORD, "version": {**RECORD["version"], "slices": {"auc": {"age<25": 0.7}}}}
    assert not evaluate_rule(rule(fairness), unfair).passed


def test_compiled_programs_are_cached_by_expression_text() -> None:
    expression = "version.number == 7 && true"
    evaluate_rule(rule(expression), RECORD)
    first = PROGRAMS.get(expression)
    assert PROGRAMS.get(expression) is first


def test_a_set_of_rules_is_evaluated_on_one_prepared_record() -> None:
    rules = [
        rule('version.metrics["auc"] >= 0.8'),
        rule("version.metrics.f1 > 0.5"),
        rule("version.number"),
        rule("version.tags.dpia > 2"),
    ]
    outcomes = evaluate_rules(rules, RECORD)
    assert [o.passed for o in outcomes] == [True, False, False, False]
    assert "no field 'f1'" in outcomes[1].message
    assert "not true or false" in outcomes[2].message
    assert "could not be evaluated" in outcomes[3].message
    prepared = prepare_record(RECORD)
    assert [evaluate_rule(r, prepared) for r in rules] == outcomes
