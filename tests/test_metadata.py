"""Bounds and types of descriptions, tags, params and metrics (``modeldepot.metadata``)."""

from __future__ import annotations

import math

import pytest

from modeldepot.errors import InvalidInput, MetadataInvalid, MetadataTooLarge
from modeldepot.metadata import (
    MAX_DESCRIPTION,
    MAX_KEY,
    MAX_METRICS,
    MAX_PARAM_DEPTH,
    MAX_PARAM_LEAVES,
    MAX_PARAM_STRING,
    MAX_PARAMS,
    MAX_TAG_VALUE,
    MAX_TAGS,
    check_description,
    check_key,
    check_metrics,
    check_params,
    check_tags,
    param_leaves,
    parse_scalar,
)

NON_FINITE = [math.nan, math.inf, -math.inf]


def many(count, value):
    return {f"k{i}": value for i in range(count)}


def test_description_defaults_to_empty():
    assert check_description(None) == ""


@pytest.mark.parametrize("description", ["", "A model.", "x" * MAX_DESCRIPTION])
def test_description_within_bounds_is_kept(description):
    assert check_description(description) == description


def test_description_over_the_limit_is_too_large():
    with pytest.raises(MetadataTooLarge) as excinfo:
        check_description("x" * (MAX_DESCRIPTION + 1))
    assert excinfo.value.code == "METADATA_TOO_LARGE"


@pytest.mark.parametrize("description", [7, b"bytes", ["a"]])
def test_description_that_is_not_text_is_invalid(description):
    with pytest.raises(MetadataInvalid) as excinfo:
        check_description(description)
    assert excinfo.value.code == "METADATA_INVALID"


@pytest.mark.parametrize(
    "key", ["a", "A", "9", "_x", "learning_rate", "mlflow.source:type/sub-key", "k" * MAX_KEY]
)
def test_key_of_allowed_characters_is_kept(key):
    assert check_key("tag", key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "-a",
        ".a",
        ":a",
        "/a",
        "a b",
        "a=b",
        "a\tb",
        "caf\u00e9",
        None,
        7,
        "k\n",
    ],
)
def test_key_with_disallowed_characters_is_invalid(key):
    with pytest.raises(MetadataInvalid):
        check_key("tag", key)


def test_key_over_the_limit_is_too_large():
    with pytest.raises(MetadataTooLarge):
        check_key("tag", "k" * (MAX_KEY + 1))


def test_tags_default_to_empty():
    assert check_tags(None) == {}


def test_tags_within_bounds_are_kept():
    tags = {**many(MAX_TAGS - 1, "v"), "long": "v" * MAX_TAG_VALUE}
    assert check_tags(tags) == tags


def test_more_tags_than_the_limit_is_too_large():
    with pytest.raises(MetadataTooLarge):
        check_tags(many(MAX_TAGS + 1, "v"))


def test_tag_value_over_the_limit_is_too_large():
    with pytest.raises(MetadataTooLarge):
        check_tags({"k": "v" * (MAX_TAG_VALUE + 1)})


@pytest.mark.parametrize("value", [1, 1.5, True, None, ["v"], b"v"])
def test_tag_value_that_is_not_a_string_is_invalid(value):
    with pytest.raises(MetadataInvalid):
        check_tags({"k": value})


@pytest.mark.parametrize("key", ["", "a b", 7])
def test_tag_with_invalid_key_is_invalid(key):
    with pytest.raises(MetadataInvalid):
        check_tags({key: "v"})


def test_params_keep_their_scalar_types():
    params = {"s": "adam", "i": 3, "neg": -1, "f": 0.1, "t": True, "b": False, "e": ""}
    checked = check_params(params)
    assert checked == params
    assert [type(v) for v in checked.values()] == [type(v) for v in params.values()]


def test_params_default_to_empty():
    assert check_params(None) == {}


@pytest.mark.parametrize("value", NON_FINITE)
def test_non_finite_float_param_is_invalid(value):
    with pytest.raises(MetadataInvalid):
        check_params({"p": value})


@pytest.mark.parametrize("value", [None, b"x", (1,), 1j, [None], {"a": b"x"}, {"a": [1j]}])
def test_param_that_is_not_json_of_scalars_is_invalid(value):
    with pytest.raises(MetadataInvalid):
        check_params({"p": value})


@pytest.mark.parametrize("value", NON_FINITE)
def test_non_finite_float_nested_in_a_param_is_invalid(value):
    with pytest.raises(MetadataInvalid, match=r"p\.a\.1"):
        check_params({"p": {"a": [1.0, value]}})


def test_nested_params_are_kept_and_their_leaves_have_dotted_paths():
    params = {"opt": {"name": "adam", "betas": [0.9, 0.99]}, "seed": 1, "bn": True}
    assert check_params(params) == params
    assert list(param_leaves(params)) == [
        ("opt.name", "adam"),
        ("opt.betas.0", 0.9),
        ("opt.betas.1", 0.99),
        ("seed", 1),
        ("bn", True),
    ]


def test_params_nested_too_deep_or_with_too_many_values_are_too_large():
    deep: dict = {"x": 1}
    for _ in range(MAX_PARAM_DEPTH):
        deep = {"d": deep}
    with pytest.raises(MetadataTooLarge, match="deeper"):
        check_params({"p": deep})
    with pytest.raises(MetadataTooLarge, match="values"):
        check_params({"p": list(range(MAX_PARAM_LEAVES + 1))})


@pytest.mark.parametrize("key", ["", "x" * 129, "bad\x00key", 3])
def test_nested_param_keys_are_bounded(key):
    with pytest.raises(MetadataInvalid):
        check_params({"p": {key: 1}})


def test_param_string_within_the_limit_is_kept():
    assert check_params({"p": "x" * MAX_PARAM_STRING}) == {"p": "x" * MAX_PARAM_STRING}


def test_param_string_over_the_limit_is_too_large():
    with pytest.raises(MetadataTooLarge):
        check_params({"p": "x" * (MAX_PARAM_STRING + 1)})


def test_params_up_to_the_limit_are_kept_and_one_more_is_too_large():
    assert len(check_params(many(MAX_PARAMS, 1))) == MAX_PARAMS
    with pytest.raises(MetadataTooLarge):
        check_params(many(MAX_PARAMS + 1, 1))


def test_param_with_invalid_key_is_invalid():
    with pytest.raises(MetadataInvalid):
        check_params({"bad key": 1})


def test_metrics_become_floats():
    checked = check_metrics({"acc": 1, "loss": 0.25, "neg": -1e300, "zero": 0})
    assert checked == {"acc": 1.0, "loss": 0.25, "neg": -1e300, "zero": 0.0}
    assert all(type(v) is float for v in checked.values())


def test_metrics_default_to_empty():
    assert check_metrics(None) == {}


@pytest.mark.parametrize("value", NON_FINITE)
def test_non_finite_metric_is_invalid(value):
    with pytest.raises(MetadataInvalid) as excinfo:
        check_metrics({"m": value})
    assert excinfo.value.code == "METADATA_INVALID"


@pytest.mark.parametrize("value", [True, False, "0.5", None, [0.5], 1j])
def test_metric_that_is_not_a_real_number_is_invalid(value):
    with pytest.raises(MetadataInvalid):
        check_metrics({"m": value})


def test_integer_metric_too_large_for_a_float_is_invalid():
    with pytest.raises(MetadataInvalid):
        check_metrics({"m": 10**400})


def test_metrics_up_to_the_limit_are_kept_and_one_more_is_too_large():
    assert len(check_metrics(many(MAX_METRICS, 0.5))) == MAX_METRICS
    with pytest.raises(MetadataTooLarge):
        check_metrics(many(MAX_METRICS + 1, 0.5))


def test_metric_with_invalid_key_is_invalid():
    with pytest.raises(MetadataInvalid):
        check_metrics({"-m": 0.5})


def test_metadata_errors_are_invalid_input():
    assert issubclass(MetadataInvalid, InvalidInput)
    assert issubclass(MetadataTooLarge, InvalidInput)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("TRUE", True),
        ("True", True),
        ("false", False),
        ("False", False),
        ("7", 7),
        ("-3", -3),
        ("0", 0),
        ("1.5", 1.5),
        ("-0.25", -0.25),
        ("1e3", 1000.0),
        ("adam", "adam"),
        ("", ""),
        ("0.1.2", "0.1.2"),
        ("yes", "yes"),
        ("nan", "nan"),
        ("inf", "inf"),
        ("-Infinity", "-Infinity"),
        ("1e400", "1e400"),
        ("a=b", "a=b"),
    ],
)
def test_parse_scalar_reads_bool_int_float_else_keeps_text(text, value):
    parsed = parse_scalar(text)
    assert parsed == value
    assert type(parsed) is type(value)
