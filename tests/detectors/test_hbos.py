"""HBOS: PyOD's rules, inductive, compiled."""

from __future__ import annotations

import numpy as np
import pytest
from pyod.models.hbos import HBOS

from anomaly_detector.detectors.hbos import HBOSDetector
from anomaly_detector.detectors.standardization import fit_robust


def _data(rows: int = 2_000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.c_[rng.lognormal(size=rows), rng.normal(size=rows), rng.integers(0, 5, rows)]


def _probe(train: np.ndarray, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    edges = [[train[:, 0].max() + 0.01, 0, 0], [train[:, 0].min() - 100, 0, 0]]
    return np.r_[train[:200], rng.normal(size=(200, 3)) * 4, edges, train.min(0)[None, :]]


@pytest.mark.parametrize(
    ("n_bins", "alpha", "tol"), [(10, 0.1, 0.5), (5, 0.3, 0.1), (30, 0.01, 0.9)]
)
def test_scores_equal_pyods_on_robust_standardized_inputs(n_bins, alpha, tol):
    train = _data()
    centre, scale = fit_robust(train)
    ours = HBOSDetector(n_bins=n_bins, alpha=alpha, tol=tol)
    reference = HBOS(n_bins=n_bins, alpha=alpha, tol=tol).fit((train - centre) / scale)
    np.testing.assert_allclose(ours.fit(train), reference.decision_scores_, rtol=0, atol=1e-9)
    probe = _probe(train)
    expected = reference.decision_function((probe - centre) / scale)
    np.testing.assert_allclose(ours.score(probe), expected, rtol=0, atol=1e-9)


def test_a_wide_input_weighs_as_much_as_a_narrow_one():
    """Measured in bytes or in gigabytes, a column moves the score just as much."""
    train = _data()
    wide = train * [1.0, 1.0, 1e9]
    probe = _probe(train)
    narrow_scores = HBOSDetector()
    narrow_scores.fit(train)
    wide_scores = HBOSDetector()
    wide_scores.fit(wide)
    np.testing.assert_allclose(
        wide_scores.score(probe * [1.0, 1.0, 1e9]), narrow_scores.score(probe), atol=1e-9
    )


def test_one_row_equals_the_batch_and_does_not_depend_on_the_batch():
    detector = HBOSDetector()
    detector.fit(_data())
    compiled = detector.compile()
    probe = _probe(_data())
    batch = compiled.score_batch(probe)
    assert [compiled.score_row(row) for row in probe] == batch.tolist()
    assert compiled.score_batch(probe[:7])[3] == batch[3]


def test_state_round_trip():
    detector = HBOSDetector(n_bins=7)
    detector.fit(_data())
    again = HBOSDetector.from_state(detector.hyperparameters, detector.state())
    probe = _probe(_data())
    np.testing.assert_array_equal(again.score(probe), detector.score(probe))


def test_too_few_bins_is_refused():
    with pytest.raises(ValueError, match="n_bins must be at least 2"):
        HBOSDetector(n_bins=1).fit(_data())
