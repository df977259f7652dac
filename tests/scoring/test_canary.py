"""The canary: a bundle is proven on every scoring path before it may serve."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from anomaly_detector.bundle.model import Decision, ModelBundle
from anomaly_detector.data.feature_schema import FeatureSchema
from anomaly_detector.detectors.base import Detector
from anomaly_detector.errors import BundleError, InputError
from anomaly_detector.scoring.canary import canary_rows, validate
from factories import train_small


class _Backend:
    """A compiled form that is off by ``batch_error`` (batches) or ``row_error`` (one row)."""

    def __init__(self, detector, batch_error=0.0, row_error=0.0):
        self.detector, self.batch_error, self.row_error = detector, batch_error, row_error

    def score_batch(self, inputs):
        return self.detector.score(inputs) + self.batch_error

    def score_row(self, inputs):
        return float(self.detector.score(inputs[None, :])[0]) + self.batch_error + self.row_error


class _Sum(Detector):
    """Scores a row by the sum of its inputs; the compiled form's errors are settable."""

    name = "sum_for_canary_tests"
    score_range = (-1e12, 1e12)
    batch_error = 0.0
    row_error = 0.0

    def fit(self, inputs):
        self.n_features_in_ = inputs.shape[1]
        return self.score(inputs)

    def score(self, inputs):
        return np.asarray(inputs, dtype=float).sum(axis=1)

    def compile(self):
        return _Backend(self, self.batch_error, self.row_error)


def _bundle_with(detector_class) -> ModelBundle:
    trained = train_small(seed=3).bundle
    detector = detector_class()
    detector.fit(trained.model_inputs(trained.schema.frame_from_rows(canary_rows(trained.schema))))
    return ModelBundle(trained.preprocessor, detector, trained.schema, Decision(0.0))


def test_canary_rows_cover_every_feature_and_kind_of_value():
    schema = train_small(seed=3).bundle.schema
    rows = canary_rows(schema)
    assert all(len(row) == len(schema) for row in rows)
    columns = list(zip(*rows, strict=True))
    for feature, values in zip(schema.features, columns, strict=True):
        assert None in values  # missing
        if feature.is_categorical:
            assert feature.categories[0] in values and "\x00canary-unseen" in values
        else:
            assert {0.0, 1e6} <= set(values)


def test_canary_rows_leave_out_missing_values_for_a_model_that_refuses_them():
    schema = train_small(seed=3).bundle.schema
    strict = FeatureSchema(schema.features, accepts_missing=False)
    assert all(value is not None for row in canary_rows(strict) for value in row)


def test_a_sound_bundle_passes_and_gets_a_warm_compiled_scorer():
    scorer = validate(train_small(seed=3).bundle)
    assert scorer.fast_path


@pytest.mark.parametrize(
    ("batch_error", "row_error", "words"),
    [(1e-6, 0.0, "disagrees with the fitting libraries"), (0.0, 1e-6, "one-row scorer")],
    ids=["batch-path", "one-row-path"],
)
def test_a_compiled_path_that_disagrees_is_refused(batch_error, row_error, words):
    off = type("Off", (_Sum,), {"batch_error": batch_error, "row_error": row_error})
    with pytest.raises(BundleError, match=words):
        validate(_bundle_with(off))
    validate(_bundle_with(_Sum))  # the same detector with an exact compiled form passes


def test_scores_outside_the_declared_range_are_refused():
    narrow = type("Narrow", (_Sum,), {"score_range": (0.0, 1.0)})
    with pytest.raises(BundleError, match=r"outside its range \[0.0, 1.0\]"):
        validate(_bundle_with(narrow))


def test_a_bundle_that_cannot_score_is_refused_with_the_library_error():
    bundle = train_small(seed=4).bundle
    bundle.detector.estimator_._decision_path_lengths = []  # damaged after fitting
    with pytest.raises(BundleError, match="cannot score"):
        validate(bundle)


def test_a_non_finite_threshold_is_refused():
    bundle = train_small(seed=4).bundle
    with pytest.raises(InputError, match="from 0 to 1"):  # set_threshold refuses it too
        bundle.set_threshold(float("nan"))
    bundle.decision = dataclasses.replace(bundle.decision, threshold=float("nan"))
    with pytest.raises(BundleError, match="threshold is not finite"):
        validate(bundle)
