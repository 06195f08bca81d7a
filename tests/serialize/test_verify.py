"""compare_outputs: floats within tolerance, everything else exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from modeldepot.client.verify import compare_outputs


def test_identical_outputs_match_with_zero_difference():
    result = compare_outputs(
        {"y": [[1.0, 2.0]], "label": ["a"]}, {"y": [[1.0, 2.0]], "label": ["a"]}
    )
    assert result.matches
    assert result.max_abs_diff == 0.0


def test_floats_within_relative_tolerance_match():
    result = compare_outputs([1000.0, 2.0], [1000.001, 2.0])
    assert result.matches
    assert result.max_abs_diff == pytest.approx(0.001)


def test_floats_beyond_tolerance_do_not_match_and_say_where():
    result = compare_outputs([[1.0, 2.0]], [[1.0, 2.1]])
    assert not result.matches
    assert result.max_abs_diff == pytest.approx(0.1)
    assert "1 of 2 numbers differ" in result.detail
    assert "$[0][1]" in result.detail


def test_tolerances_are_adjustable():
    assert compare_outputs([1.0], [1.01], rtol=0.05).matches
    assert compare_outputs([0.0], [1e-6], atol=1e-5).matches
    assert not compare_outputs([0.0], [1e-6]).matches


def test_integers_compare_exactly():
    assert not compare_outputs([100000], [100001], rtol=1.0).matches
    assert compare_outputs([1], [1.0]).matches  # a float on either side uses tolerance


def test_bools_and_strings_compare_exactly():
    assert not compare_outputs([True], [1]).matches
    assert not compare_outputs(["cat"], ["dog"]).matches
    result = compare_outputs([True, "a"], [True, "a"])
    assert result.matches
    assert result.max_abs_diff is None


def test_shape_mismatch_is_reported():
    result = compare_outputs([[1.0, 2.0]], [[1.0, 2.0, 3.0]])
    assert not result.matches
    assert result.max_abs_diff is None
    assert "length 3, expected 2" in result.detail
    assert not compare_outputs([[1.0]], [1.0]).matches


def test_dict_keys_must_agree():
    result = compare_outputs({"a": 1, "b": 2}, {"a": 1, "c": 2})
    assert not result.matches
    assert "missing ['b']" in result.detail
    assert "unexpected ['c']" in result.detail


def test_nan_matches_nan_and_infinities_compare_exactly():
    assert compare_outputs([math.nan, math.inf], [math.nan, math.inf]).matches
    assert not compare_outputs([math.nan], [1.0]).matches
    result = compare_outputs([math.inf], [1.0])
    assert not result.matches
    assert result.max_abs_diff == math.inf


def test_arrays_and_tuples_are_taken_as_lists():
    assert compare_outputs([[1.0, 2.0]], np.array([[1.0, 2.0]], dtype=np.float32)).matches
    assert compare_outputs((1, 2), [1, 2]).matches
