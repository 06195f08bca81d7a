"""scikit-learn models go through skops, and only trusted types come back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from modeldepot.client.serialize import load_model, predict, save_model
from modeldepot.client.verify import compare_outputs
from modeldepot.errors import InvalidInput
from modeldepot.schemas.lineage import TensorSpec

X = np.array([[0.0, 1.0, 2.0], [1.0, 0.5, 0.0], [2.0, 2.0, 1.0], [3.0, 0.0, 0.5]] * 5)
Y = np.array([0, 0, 1, 1] * 5)


def double(values):
    return values * 2


class MeanClassifier(ClassifierMixin, BaseEstimator):
    def fit(self, x, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, x):
        return np.full(len(x), self.classes_[0])


def test_logistic_regression_round_trip_reproduces_its_output(tmp_path: Path):
    model = LogisticRegression().fit(X, Y)
    saved = save_model(model, tmp_path / "m", input_example=X[:3])

    assert saved.files == ["model.skops"]
    assert saved.format.name == "skops"
    assert saved.format.framework == "scikit-learn"
    assert saved.format.path == "model.skops"
    assert saved.output_example == model.predict(X[:3]).tolist()
    json.dumps([saved.input_example, saved.output_example])

    loaded = load_model(tmp_path / "m", saved.format)
    assert isinstance(loaded, LogisticRegression)
    np.testing.assert_array_equal(loaded.coef_, model.coef_)
    output = predict(loaded, saved.format, saved.input_example, signature=saved.signature)
    assert compare_outputs(saved.output_example, output).matches


def test_pipeline_signature_leaves_the_batch_dimension_free(tmp_path: Path):
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, Y)
    saved = save_model(model, tmp_path, input_example=X[:2].astype(np.float32))

    assert saved.signature is not None
    assert saved.signature.inputs == [TensorSpec(dtype="float32", shape=[None, 3])]
    assert saved.signature.outputs == [TensorSpec(dtype="int64", shape=[None])]
    loaded = load_model(tmp_path, saved.format)
    assert predict(loaded, saved.format, saved.input_example) == saved.output_example


def test_string_labels_give_a_str_output_and_json_examples(tmp_path: Path):
    model = LogisticRegression().fit(X, np.where(Y == 1, "spam", "ham"))
    saved = save_model(model, tmp_path, input_example=X[:2].tolist())

    assert saved.signature is not None
    assert saved.signature.outputs[0].dtype == "str"
    assert saved.output_example == ["ham", "ham"]
    json.dumps(saved.output_example)


def test_without_an_example_there_is_no_signature(tmp_path: Path):
    saved = save_model(LogisticRegression().fit(X, Y), tmp_path)
    assert saved.signature is None
    assert saved.input_example is None
    assert saved.output_example is None


def test_sklearn_classes_skops_does_not_trust_by_default_load(tmp_path: Path):
    model = DecisionTreeClassifier(max_depth=2).fit(X, Y)
    saved = save_model(model, tmp_path, input_example=X[:2])
    loaded = load_model(tmp_path, saved.format)
    assert loaded.predict(X).tolist() == model.predict(X).tolist()


def test_function_from_user_code_is_refused_until_trusted(tmp_path: Path):
    model = make_pipeline(FunctionTransformer(double), LogisticRegression()).fit(X, Y)
    saved = save_model(model, tmp_path)

    with pytest.raises(InvalidInput, match=r"test_sklearn\.double") as raised:
        load_model(tmp_path, saved.format)
    assert raised.value.extra["untrusted_types"] == [f"{__name__}.double"]

    loaded = load_model(tmp_path, saved.format, trust=[f"{__name__}.double"])
    assert loaded.predict(X).tolist() == model.predict(X).tolist()


def test_estimator_class_from_user_code_is_refused(tmp_path: Path):
    saved = save_model(MeanClassifier().fit(X, Y), tmp_path)
    with pytest.raises(InvalidInput, match="MeanClassifier"):
        load_model(tmp_path, saved.format)


def test_builtin_functions_are_never_trusted_automatically(tmp_path: Path):
    saved = save_model(FunctionTransformer(eval), tmp_path)
    with pytest.raises(InvalidInput, match=r"builtins\.eval"):
        load_model(tmp_path, saved.format)


def test_an_example_the_model_cannot_take_writes_nothing(tmp_path: Path):
    model = LogisticRegression().fit(X, Y)
    with pytest.raises(InvalidInput, match="input example failed"):
        save_model(model, tmp_path / "m", input_example=[[1.0, 2.0]])
    assert not (tmp_path / "m").exists()


def test_sparse_transformer_output_becomes_dense_lists(tmp_path: Path):
    codes = np.array([["a"], ["b"], ["a"]])
    saved = save_model(OneHotEncoder().fit(codes), tmp_path, input_example=codes[:2])
    assert saved.output_example == [[1.0, 0.0], [0.0, 1.0]]
    assert saved.signature is not None
    assert saved.signature.inputs == [TensorSpec(dtype="str", shape=[None, 1])]
    loaded = load_model(tmp_path, saved.format)
    output = predict(loaded, saved.format, saved.input_example, signature=saved.signature)
    assert output == saved.output_example
