"""The Isolation Forest detector: fitted by scikit-learn, scored compiled, scores equal."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from anomaly_detector.detectors.base import Detector
from anomaly_detector.detectors.isolation_forest import (
    IsolationForestDetector,
    parse_max_samples,
)
from anomaly_detector.training.thresholds import contamination_threshold


def _data(rows: int = 3_000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = rng.lognormal(0, 1, size=(rows, 5))
    data[rng.random(data.shape) < 0.01] = np.nan
    return data


def test_fit_returns_the_training_scores_scikit_learn_gives():
    data = _data()
    detector = IsolationForestDetector(n_estimators=40, random_state=3)
    scores = detector.fit(data)
    reference = IsolationForest(n_estimators=40, random_state=3).fit(data)
    np.testing.assert_allclose(scores, -reference.score_samples(data), rtol=0, atol=1e-12)
    np.testing.assert_allclose(detector.score(data), scores, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(detector.compile().score_batch(data), scores)


@pytest.mark.parametrize("contamination", [0.01, 0.03, 0.2])
def test_the_contamination_threshold_is_the_one_scikit_learn_places(contamination):
    data = _data()
    detector = IsolationForestDetector(random_state=3)
    threshold = contamination_threshold(detector.fit(data), contamination)
    reference = IsolationForest(contamination=contamination, random_state=3).fit(data)
    assert threshold == pytest.approx(-reference.offset_, abs=1e-12)
    flagged = detector.score(data) > threshold
    np.testing.assert_array_equal(flagged, reference.predict(data) == -1)
    assert flagged.mean() == pytest.approx(contamination, abs=0.002)


def test_state_round_trip_rebuilds_an_equal_detector():
    data = _data(rows=500)
    detector = IsolationForestDetector(n_estimators=10, max_samples=64)
    detector.fit(data)
    again = IsolationForestDetector.from_state(detector.hyperparameters, detector.state())
    assert set(detector.state()) == {"estimator_", "n_features_in_"}
    np.testing.assert_array_equal(again.score(data), detector.score(data))
    assert again.n_features == 5


def test_adopting_a_fitted_forest_keeps_its_parameters():
    forest = IsolationForest(n_estimators=12, max_samples=50, random_state=4).fit(_data(500))
    adopted = IsolationForestDetector.from_estimator(forest)
    assert adopted.hyperparameters == {
        "n_estimators": 12, "max_samples": 50, "max_features": 1.0, "random_state": 4,
    }  # fmt: skip
    assert IsolationForestDetector.adopts(forest) and not IsolationForestDetector.adopts(object())


def test_unknown_parameters_are_named_with_the_ones_it_takes():
    with pytest.raises(ValueError, match="no parameter.*n_trees.*takes: n_estimators"):
        IsolationForestDetector(n_trees=5)


@pytest.mark.parametrize(("text", "value"), [("auto", "auto"), ("256", 256), ("0.5", 0.5)])
def test_max_samples_reads_auto_counts_and_fractions(text, value):
    assert parse_max_samples(text) == value


def test_max_samples_refuses_other_text():
    with pytest.raises(ValueError, match="'many'"):
        parse_max_samples("many")


def test_it_declares_what_the_rest_of_the_package_reads():
    """The canary, the buckets and the docs read these: they must be usable, not just set."""
    cls: type[Detector] = IsolationForestDetector
    low, high = cls.score_range
    assert low < cls.default_threshold < high
    assert list(cls.score_buckets) == sorted(cls.score_buckets)
    assert low < cls.score_buckets[0] and cls.score_buckets[-1] <= high
