"""ECOD and COPOD: PyOD's scores, without PyOD's transduction."""

from __future__ import annotations

import numpy as np
import pytest
from pyod.models.copod import COPOD
from pyod.models.ecod import ECOD

from anomaly_detector.detectors.ecdf import COPODDetector, ECODDetector

PAIRS = [(ECODDetector, ECOD), (COPODDetector, COPOD)]


def _data(rows: int = 1_500, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.c_[rng.lognormal(size=rows), rng.normal(size=rows), rng.integers(0, 5, rows),
                 -rng.lognormal(size=rows)]  # fmt: skip


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=["ecod", "copod"])
def test_training_scores_equal_pyods(ours, theirs):
    train = _data()
    np.testing.assert_allclose(
        ours().fit(train), theirs().fit(train).decision_scores_, rtol=0, atol=1e-12
    )


def test_ecod_scores_a_new_row_as_pyod_does_when_scoring_it_alone():
    train = _data()
    ours, theirs = ECODDetector(), ECOD().fit(train)
    ours.fit(train)
    probe = np.r_[np.random.default_rng(1).normal(size=(25, 4)) * 3, train[:5]]
    alone = np.array([theirs.decision_function(row[None, :])[0] for row in probe])
    np.testing.assert_allclose(ours.score(probe), alone, rtol=0, atol=1e-12)


@pytest.mark.parametrize("cls", [ECODDetector, COPODDetector], ids=["ecod", "copod"])
def test_inductive_a_rows_score_ignores_its_batch_and_the_training_size(cls):
    train = _data()
    detector = cls()
    detector.fit(train)
    compiled = detector.compile()
    row = np.array([5.0, -3.0, 2.0, -0.1])
    alone = compiled.score_row(row)
    assert compiled.score_batch(np.r_[row[None, :], train[:300] * 10])[0] == alone
    assert compiled.score_batch(row[None, :])[0] == alone
    # PyOD's own ECOD, by contrast, changes a row's score with the rows beside it.
    pyod = ECOD().fit(train)
    assert pyod.decision_function(np.r_[row[None, :], train[:300] * 10])[0] != pytest.approx(
        pyod.decision_function(row[None, :])[0]
    )


@pytest.mark.parametrize("cls", [ECODDetector, COPODDetector], ids=["ecod", "copod"])
def test_max_samples_bounds_what_the_state_keeps(cls):
    detector = cls(max_samples=500)
    scores = detector.fit(_data(rows=3_000))
    assert detector.sorted_.shape == (4, 500) and scores.shape == (3_000,)
    again = cls.from_state(detector.hyperparameters, detector.state())
    np.testing.assert_array_equal(again.score(_data(50, seed=2)), detector.score(_data(50, seed=2)))


def test_extreme_rows_score_higher_than_typical_ones():
    detector = ECODDetector()
    detector.fit(_data())
    typical = detector.score(_data(200, seed=3))
    extreme = detector.score(np.array([[50.0, 8.0, 4.0, -50.0], [1e-3, -9.0, 0.0, -1e-3]]))
    assert extreme.min() > np.quantile(typical, 0.99)
