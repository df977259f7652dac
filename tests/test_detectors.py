"""Tests for the detector registry and how each detector is fitted."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.svm import OneClassSVM

from anomaly_detector.detectors import (
    DETECTORS,
    build_detector,
    fit_and_score,
    fit_isolation_forest,
)


def _data(rows: int = 3_000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = rng.lognormal(0, 1, size=(rows, 5))
    data[rng.random(data.shape) < 0.01] = np.nan
    return data


@pytest.mark.parametrize("contamination", [0.01, 0.03, 0.2])
def test_fast_isolation_forest_fit_places_the_threshold_where_scikit_learn_does(contamination):
    data = _data()
    reference = IsolationForest(contamination=contamination, random_state=3).fit(data)
    fast = IsolationForest(contamination=contamination, random_state=3)
    scores = fit_isolation_forest(fast, data)

    assert fast.get_params()["contamination"] == contamination
    assert fast.offset_ == pytest.approx(reference.offset_, abs=1e-12)
    np.testing.assert_allclose(scores, -reference.score_samples(data), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(fast.predict(data), reference.predict(data))
    # Roughly the requested share of training rows is flagged.
    assert np.mean(fast.predict(data) == -1) == pytest.approx(contamination, abs=0.002)


def test_fast_isolation_forest_fit_keeps_the_paper_offset_for_auto():
    data = _data(rows=500)
    detector = IsolationForest(random_state=1)
    scores = fit_isolation_forest(detector, data)
    assert detector.offset_ == -0.5
    np.testing.assert_allclose(scores, -detector.score_samples(data), rtol=0, atol=1e-9)


def test_detectors_without_a_compiled_scorer_fit_the_plain_way():
    data = np.nan_to_num(_data(rows=400))
    detector = OneClassSVM(gamma="scale", nu=0.05)
    scores = fit_and_score(detector, data)
    np.testing.assert_array_equal(scores, -detector.score_samples(data))


def test_registry_builds_with_defaults_and_overrides():
    forest = build_detector("isolation_forest", n_estimators=7, contamination=None)
    assert forest.n_estimators == 7
    assert forest.contamination == DETECTORS["isolation_forest"].defaults["contamination"]
    assert DETECTORS["isolation_forest"].fit is fit_isolation_forest


def test_unknown_detector_names_the_available_ones():
    with pytest.raises(ValueError, match="unknown detector 'lof'; available: isolation_forest"):
        build_detector("lof")
