"""The k-means and DBSCAN detectors: distances to scikit-learn's reference points, compiled."""

from __future__ import annotations

import numpy as np
import pytest
import skops.io
from sklearn.cluster import DBSCAN, KMeans
from sklearn.preprocessing import RobustScaler

from anomaly_detector.detectors.clustering import (
    DBSCANDetector,
    KMeansDetector,
    parse_eps,
    parse_n_init,
)

N_INPUTS = 6


def _data(rows: int = 3_000, seed: int = 0) -> np.ndarray:
    """Three blobs in six inputs of mixed units."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(3, N_INPUTS))
    data = centres[rng.integers(3, size=rows)] + rng.normal(size=(rows, N_INPUTS))
    return data * np.geomspace(0.1, 1_000, N_INPUTS)


def _planted(data: np.ndarray, rows: int = 50, seed: int = 1) -> np.ndarray:
    """Typical rows pushed 10 IQRs out in two inputs."""
    rng = np.random.default_rng(seed)
    planted = data[rng.integers(data.shape[0], size=rows)].copy()
    iqr = np.subtract(*np.quantile(data, [0.75, 0.25], axis=0))
    planted[:, :2] += 10 * iqr[:2] * rng.choice([-1, 1], size=(rows, 2))
    return planted


def _relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def _fitted(cls, data, **params):
    detector = cls(**params)
    return detector, detector.fit(data)


DETECTORS = [
    pytest.param(KMeansDetector, {"n_clusters": 5}, id="kmeans"),
    pytest.param(DBSCANDetector, {"max_samples": 1_000}, id="dbscan"),
]


@pytest.mark.parametrize(("cls", "params"), DETECTORS)
def test_compiled_scores_equal_scikit_learn_s(cls, params):
    data = _data()
    detector, training = _fitted(cls, data, **params)
    rows = np.vstack([data[:400], _planted(data), data[:20] * 1e3, np.zeros((1, N_INPUTS))])
    compiled = detector.compile()
    library = detector.score(rows)
    assert _relative_difference(compiled.score_batch(rows), library) < 1e-9
    assert _relative_difference(training, detector.score(data)) < 1e-9
    one_by_one = np.array([compiled.score_row(row) for row in rows])
    np.testing.assert_array_equal(one_by_one, compiled.score_batch(rows))


@pytest.mark.parametrize(("cls", "params"), DETECTORS)
def test_a_row_scores_the_same_alone_and_inside_any_batch(cls, params):
    data = _data(rows=5_000)  # split over two threads; a row alone runs on one
    detector, training = _fitted(cls, data, **params)
    compiled = detector.compile()
    for index in (0, 2_600, 4_999):
        assert compiled.score_batch(data[index : index + 1])[0] == training[index]
        assert compiled.score_row(data[index]) == training[index]
        assert detector.score(data[index : index + 1])[0] == pytest.approx(
            training[index], rel=1e-12, abs=1e-12
        )
    np.testing.assert_array_equal(compiled.score_batch(data, threads=1), training)
    np.testing.assert_array_equal(compiled.score_batch(data[::-1])[::-1], training)


@pytest.mark.parametrize(("cls", "params"), DETECTORS)
def test_planted_anomalies_score_above_typical_rows(cls, params):
    data = _data()
    detector, training = _fitted(cls, data, **params)
    assert np.all(detector.score(_planted(data)) > np.quantile(training, 0.99))


@pytest.mark.parametrize(("cls", "params"), DETECTORS)
def test_state_round_trip_rebuilds_an_equal_detector_that_skops_loads(cls, params):
    data = _data(rows=1_500)
    detector, training = _fitted(cls, data, **params)
    state = detector.state()
    dumped = skops.io.dumps(state)
    assert sorted(skops.io.get_untrusted_types(data=dumped)) == sorted(cls.skops_types)
    again = cls.from_state(detector.hyperparameters, skops.io.loads(dumped))
    np.testing.assert_array_equal(again.compile().score_batch(data), training)
    np.testing.assert_array_equal(again.score(data), detector.score(data))
    assert again.n_features == N_INPUTS


def test_kmeans_scores_are_the_distance_to_the_nearest_centroid():
    """Computed independently: RobustScaler, and every distance to every centroid in numpy."""
    data = _data()
    detector, training = _fitted(KMeansDetector, data, n_clusters=4, n_init=2, random_state=5)
    assert isinstance(detector.estimator_, KMeans) and detector.estimator_.n_init == 2
    centroids = detector.estimator_.cluster_centers_
    assert centroids.shape == (4, N_INPUTS)
    scaled = RobustScaler().fit(data).transform(data)
    expected = np.sqrt(((scaled[:, None, :] - centroids[None]) ** 2).sum(axis=2)).min(axis=1)
    assert _relative_difference(training, expected) < 1e-9


def test_kmeans_rows_near_a_centroid_score_their_exact_distance_on_both_paths():
    """KMeans.transform's dot-product distances are off in the fifth digit here."""
    data = _data()
    detector, _ = _fitted(KMeansDetector, data, n_clusters=8)
    centroids = detector.estimator_.cluster_centers_
    offsets = 1e-6 * np.random.default_rng(3).normal(size=centroids.shape)
    near = (centroids + offsets) * detector.scale_ + detector.centre_
    expected = np.sqrt(
        np.sum(((near - detector.centre_) / detector.scale_ - centroids) ** 2, axis=1)
    )
    assert _relative_difference(detector.compile().score_batch(near), expected) < 1e-9
    assert _relative_difference(detector.score(near), expected) < 1e-9


def test_dbscan_core_samples_score_zero_and_other_rows_their_distance():
    data = _data(rows=2_000)
    detector, training = _fitted(DBSCANDetector, data, min_samples=4)  # every row in the sample
    scaled = RobustScaler().fit(data).transform(data)
    reference = DBSCAN(eps=detector.eps_, min_samples=4).fit(scaled)
    core = np.zeros(len(data), dtype=bool)
    core[reference.core_sample_indices_] = True
    assert 0.9 < core.mean() < 1.0
    np.testing.assert_array_equal(training[core], 0.0)
    assert np.all(training[~core] > 0)
    nearest = np.sqrt(((scaled[~core][:, None] - scaled[core][None]) ** 2).sum(axis=2)).min(axis=1)
    assert _relative_difference(training[~core], nearest) < 1e-9


def test_dbscan_auto_eps_makes_95_percent_of_the_sample_core():
    data = _data(rows=4_000)
    detector, training = _fitted(DBSCANDetector, data, max_samples=2_000)
    assert detector.core_samples_.shape[0] == pytest.approx(0.95 * 2_000, abs=5)
    assert training.shape == (4_000,) and np.count_nonzero(training == 0) <= 2_000


def test_dbscan_without_any_core_sample_asks_for_a_larger_eps():
    with pytest.raises(ValueError, match=r"no core sample.*eps=1e-06.*larger eps"):
        DBSCANDetector(eps=1e-6).fit(_data(rows=500))


@pytest.mark.parametrize(
    ("cls", "params", "message"),
    [
        (KMeansDetector, {"n_clusters": 0}, "n_clusters must be an integer of at least 1, got 0"),
        (KMeansDetector, {"n_clusters": 2.5}, "n_clusters must be an integer .*got 2.5"),
        (KMeansDetector, {"n_clusters": 500}, "n_clusters=500 is more than the 200 rows"),
        (KMeansDetector, {"n_init": "often"}, "n_init must be 'auto' or a positive int"),
        (KMeansDetector, {"n_init": 0}, "n_init must be 'auto' or a positive int, got '0'"),
        (DBSCANDetector, {"eps": -1.0}, "eps must be 'auto' or a positive float, got '-1.0'"),
        (DBSCANDetector, {"eps": "wide"}, "eps must be 'auto' or a positive float"),
        (DBSCANDetector, {"min_samples": 0}, "min_samples must be an integer of at least 1"),
        (DBSCANDetector, {"max_samples": -5}, "max_samples must be an integer of at least 1"),
        (DBSCANDetector, {"min_samples": 300}, "min_samples=300 is more than the 200 rows"),
    ],
)
def test_bad_parameters_are_refused_with_a_clear_message(cls, params, message):
    with pytest.raises(ValueError, match=message):
        cls(**params).fit(_data(rows=200))


@pytest.mark.parametrize(
    ("parse", "text", "value"),
    [(parse_n_init, "auto", "auto"), (parse_n_init, "3", 3), (parse_eps, "auto", "auto"),
     (parse_eps, "0.5", 0.5), (parse_eps, "2", 2.0)],
)  # fmt: skip
def test_auto_or_a_number_is_read_from_text(parse, text, value):
    assert parse(text) == value


@pytest.mark.parametrize(
    ("parse", "text"),
    [(parse_n_init, "1.5"), (parse_n_init, "-1"), (parse_eps, "0"), (parse_eps, "inf"),
     (parse_eps, "nan"), (parse_eps, "Auto")],
)  # fmt: skip
def test_other_text_is_refused(parse, text):
    with pytest.raises(ValueError, match=f"must be 'auto' or a positive .*got '{text}'"):
        parse(text)


def test_unknown_parameters_are_named_with_the_ones_it_takes():
    with pytest.raises(ValueError, match="no parameter.*radius.*takes: eps, min_samples"):
        DBSCANDetector(radius=1.0)
