"""kNN and LOF: scikit-learn's scores, inductive, bounded, compiled."""

from __future__ import annotations

import numpy as np
import pytest
import skops.io
from pyod.models.knn import KNN
from pyod.models.lof import LOF
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors

from anomaly_detector.detectors.neighbors import KNNDetector, LOFDetector, _lof_rows
from anomaly_detector.detectors.parallel import PARALLEL_MIN_ROWS
from anomaly_detector.detectors.standardization import bounded_sample, fit_robust, standardize

TOLERANCE = 1e-9
DETECTORS = [
    (KNNDetector, {"method": "largest"}),
    (KNNDetector, {"method": "mean", "n_neighbors": 9}),
    (LOFDetector, {}),
    (LOFDetector, {"n_neighbors": 7}),
]
IDS = ["knn-largest", "knn-mean", "lof", "lof-7"]


def _data(rows: int = 1_500, features: int = 6, seed: int = 0) -> np.ndarray:
    """Continuous inputs on very different scales and shapes (no distance ties)."""
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(rows, features)) * rng.lognormal(0, 2, features)
    data[:, 0] = rng.lognormal(3, 1.5, rows)  # heavy tail
    data[: rows // 10, 1:3] += 8 * data[:, 1:3].std(axis=0)  # a second, smaller cluster
    return data


def _probe(train: np.ndarray, seed: int = 1) -> np.ndarray:
    """Training rows, rows near them, typical new rows and rows far outside."""
    rng = np.random.default_rng(seed)
    near = train[:50] + rng.normal(size=(50, train.shape[1])) * 1e-3 * train.std(axis=0)
    fresh = _data(200, train.shape[1], seed=seed + 10)
    far = fresh[:20] * 1e3
    return np.r_[train[:50], near, fresh, far]


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def _standardized(train: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return standardize(rows, *fit_robust(train))


@pytest.mark.parametrize(("cls", "params"), DETECTORS, ids=IDS)
@pytest.mark.parametrize("features", [6, 20])  # 20: beyond where scikit-learn's auto goes brute
def test_compiled_scores_equal_the_library_scores(cls, params, features):
    train = _data(features=features)
    detector = cls(max_samples=600, **params)
    detector.fit(train)
    probe = _probe(train)
    library = detector.score(probe)
    compiled = detector.compile().score_batch(probe)
    assert _relative(compiled, library) < TOLERANCE


@pytest.mark.parametrize(("cls", "params"), DETECTORS, ids=IDS)
def test_one_row_equals_the_batch_and_does_not_depend_on_the_batch(cls, params):
    train = _data()
    detector = cls(max_samples=500, **params)
    detector.fit(train)
    compiled = detector.compile()
    probe = _probe(train)
    batch = compiled.score_batch(probe)
    assert [compiled.score_row(row) for row in probe] == batch.tolist()
    order = np.random.default_rng(3).permutation(len(probe))
    np.testing.assert_array_equal(compiled.score_batch(probe[order]), batch[order])
    np.testing.assert_array_equal(compiled.score_batch(probe[7:8]), batch[7:8])
    # The library path is inductive too: a row alone scores as inside a batch.
    library = detector.score(probe)
    alone = np.array([detector.score(row[None, :])[0] for row in probe[::25]])
    np.testing.assert_allclose(alone, library[::25], rtol=1e-12, atol=0)
    # Batches split over threads score as on one.
    big = np.tile(probe, (-(-2 * PARALLEL_MIN_ROWS // len(probe)), 1))
    np.testing.assert_array_equal(
        compiled.score_batch(big, threads=2), compiled.score_batch(big, threads=1)
    )


@pytest.mark.parametrize("n_neighbors", [1, 5, 20])
def test_lof_equals_scikit_learns_novelty_lof_when_the_sample_holds_every_row(n_neighbors):
    train = _data(800)
    detector = LOFDetector(n_neighbors=n_neighbors, max_samples=800)
    training_scores = detector.fit(train)
    reference = LocalOutlierFactor(n_neighbors=n_neighbors, novelty=True)
    reference.fit(_standardized(train, train))
    assert _relative(training_scores, -reference.negative_outlier_factor_) < 1e-12
    probe = _probe(train)
    expected = -reference.score_samples(_standardized(train, probe))
    assert _relative(detector.score(probe), expected) < 1e-12
    assert _relative(detector.compile().score_batch(probe), expected) < TOLERANCE


@pytest.mark.parametrize("method", ["largest", "mean"])
def test_knn_equals_a_direct_nearest_neighbours_computation(method):
    train = _data(800)
    detector = KNNDetector(n_neighbors=6, method=method, max_samples=800)
    training_scores = detector.fit(train)
    standardized = _standardized(train, train)
    reduce = (lambda d: d[:, -1]) if method == "largest" else (lambda d: d.mean(axis=1))
    # Training rows: 7 neighbours, the first of which is the row itself (distance 0).
    with_self, _ = NearestNeighbors(n_neighbors=7).fit(standardized).kneighbors(standardized)
    assert np.all(with_self[:, 0] == 0)
    assert _relative(training_scores, reduce(with_self[:, 1:])) < 1e-12
    probe = _probe(train)
    distances, _ = (
        NearestNeighbors(n_neighbors=6).fit(standardized).kneighbors(_standardized(train, probe))
    )
    assert _relative(detector.score(probe), reduce(distances)) < 1e-12
    assert _relative(detector.compile().score_batch(probe), reduce(distances)) < TOLERANCE


@pytest.mark.parametrize(("cls", "params"), DETECTORS, ids=IDS)
def test_only_training_rows_in_the_reference_set_leave_themselves_out(cls, params):
    train = _data(1_200)
    detector = cls(max_samples=400, random_state=5, **params)
    training_scores = detector.fit(train)
    _, chosen = bounded_sample(_standardized(train, train), 400, 5)
    others = np.setdiff1d(np.arange(len(train)), chosen)
    np.testing.assert_array_equal(detector.reference_, _standardized(train, train)[chosen])
    # Rows outside the sample score as new rows do ...
    np.testing.assert_allclose(training_scores[others], detector.score(train[others]), rtol=1e-12)
    # ... rows inside it do not find themselves: scored as new rows, they would, and be nearer.
    as_new = detector.score(train[chosen])
    if cls is KNNDetector:
        assert np.all(as_new < training_scores[chosen])
    else:
        reference = LocalOutlierFactor(novelty=True, **params).fit(detector.reference_)
        np.testing.assert_allclose(
            training_scores[chosen], -reference.negative_outlier_factor_, rtol=1e-12
        )
        assert np.mean(np.abs(as_new - training_scores[chosen]) > 1e-6) > 0.5


@pytest.mark.parametrize(("cls", "params"), DETECTORS, ids=IDS)
def test_state_round_trips_through_skops_with_the_declared_types(cls, params):
    train = _data()
    detector = cls(max_samples=300, **params)
    detector.fit(train)
    state = detector.state()
    data = skops.io.dumps(state)
    assert set(skops.io.get_untrusted_types(data=data)) <= set(cls.skops_types)
    loaded = skops.io.loads(data, trusted=list(cls.skops_types))
    again = cls.from_state(detector.hyperparameters, loaded)
    probe = _probe(train)
    np.testing.assert_array_equal(again.score(probe), detector.score(probe))
    np.testing.assert_array_equal(
        again.compile().score_batch(probe), detector.compile().score_batch(probe)
    )
    assert again.n_features == train.shape[1]


@pytest.mark.parametrize(("cls", "params"), DETECTORS, ids=IDS)
def test_what_a_row_is_scored_against_does_not_grow_with_the_training_rows(cls, params):
    small, large = cls(max_samples=250, **params), cls(max_samples=250, **params)
    small.fit(_data(400))
    large.fit(_data(4_000))
    assert small.reference_.shape == large.reference_.shape == (250, 6)
    if cls is LOFDetector:
        assert large.lrd_.shape == large.k_distance_.shape == (250,)


@pytest.mark.parametrize(("cls", "params"), DETECTORS, ids=IDS)
def test_inputs_are_robust_standardized(cls, params):
    train, probe = _data(600), _probe(_data(600))
    units = np.array([1e-3, 1.0, 1e4, 7.0, 1e6, 0.5])
    plain, rescaled = cls(**params), cls(**params)
    plain.fit(train)
    rescaled.fit(train * units)
    np.testing.assert_allclose(rescaled.score(probe * units), plain.score(probe), rtol=1e-8)


@pytest.mark.parametrize(("cls", "params"), DETECTORS, ids=IDS)
def test_far_rows_score_above_training_rows(cls, params):
    train = _data()
    detector = cls(**params)
    training_scores = detector.fit(train)
    far = detector.compile().score_batch(_probe(train)[-20:])
    assert np.min(far) > np.max(training_scores)


def test_pyods_knn_and_lof_give_the_same_scores_on_standardized_inputs():
    train = _data(700)
    standardized, probe = _standardized(train, train), _probe(train)
    for ours, theirs in [
        (KNNDetector(n_neighbors=5, method="mean"), KNN(n_neighbors=5, method="mean")),
        (LOFDetector(n_neighbors=15), LOF(n_neighbors=15, novelty=True)),
    ]:
        theirs.fit(standardized)
        assert _relative(ours.fit(train), theirs.decision_scores_) < 1e-12
        expected = theirs.decision_function(_standardized(train, probe))
        assert _relative(ours.compile().score_batch(probe), expected) < TOLERANCE


def test_lof_ties_at_the_kth_neighbour_take_the_library_path():
    """Counts on a grid: many reference rows equally near, and which one is a neighbour
    is scikit-learn's choice, so the kernel hands those rows back to it."""
    train = np.random.default_rng(4).integers(0, 6, size=(600, 3)).astype(float)
    detector = LOFDetector(n_neighbors=5)
    detector.fit(train)
    probe = np.r_[train[:60], train[:60] + 0.5, _data(40, 3)]
    compiled = detector.compile()
    kernel_only = np.empty(len(probe))
    _lof_rows(probe, *compiled.arguments, kernel_only)
    tied = np.isnan(kernel_only)
    assert 10 < tied.sum() < len(probe) - 10
    library = detector.score(probe)
    np.testing.assert_allclose(kernel_only[~tied], library[~tied], rtol=1e-12)
    np.testing.assert_array_equal(compiled.score_batch(probe), library)
    np.testing.assert_array_equal([compiled.score_row(r) for r in probe], library)


def test_wrong_parameters_and_inputs_are_refused_clearly():
    with pytest.raises(ValueError, match="unknown method 'median'"):
        KNNDetector(method="median")
    with pytest.raises(ValueError, match="n_neighbors must be a positive integer"):
        LOFDetector(n_neighbors=0)
    with pytest.raises(ValueError, match="max_samples must be a positive integer"):
        KNNDetector(max_samples=2.5)
    with pytest.raises(ValueError, match="has no parameter"):
        LOFDetector(method="mean")
    with pytest.raises(ValueError, match=r"n_neighbors \(20\) must be smaller than the reference"):
        LOFDetector(max_samples=20).fit(_data(100))
    with pytest.raises(ValueError, match=r"n_neighbors \(5\) must be smaller than the reference"):
        KNNDetector().fit(_data(5))
    with pytest.raises(ValueError, match="finite inputs"):
        KNNDetector().fit(np.where(_data(50) > 1e9, 0, np.nan))
    detector = KNNDetector()
    detector.fit(_data(50))
    with pytest.raises(ValueError, match="expected 6 inputs"):
        detector.compile().score_row(np.zeros(5))
    with pytest.raises(ValueError, match="expected 6 inputs per row"):
        detector.compile().score_batch(np.zeros((3, 7)))
