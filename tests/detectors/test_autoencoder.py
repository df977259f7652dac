"""The autoencoder: scikit-learn's MLPRegressor fits it, four compiled layers score it the same."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neural_network import MLPRegressor

from anomaly_detector.detectors.autoencoder import AutoencoderDetector
from anomaly_detector.detectors.standardization import fit_robust, standardize

TOLERANCE = 1e-9
SMALL = {"hidden": 12, "bottleneck": 2, "max_iter": 30}


def _data(rows: int = 1_000, seed: int = 0) -> np.ndarray:
    """Six inputs driven by two factors, plus noise: what a bottleneck of 2 can learn."""
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(rows, 2))
    return factors @ rng.normal(size=(2, 6)) + 0.05 * rng.normal(size=(rows, 6))


def _probe(train: np.ndarray, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.r_[
        train[:100],
        rng.normal(scale=3.0, size=(100, train.shape[1])),
        np.full((2, train.shape[1]), 1e6),
    ]


def test_compiled_scores_equal_the_mlp_regressors_reconstruction_error():
    train = _data()
    detector = AutoencoderDetector(**SMALL)
    training_scores = detector.fit(train)
    np.testing.assert_array_equal(training_scores, detector.score(train))
    probe = _probe(train)
    library = detector.score(probe)
    compiled = detector.compile()
    batch = compiled.score_batch(probe)
    np.testing.assert_allclose(batch, library, rtol=TOLERANCE, atol=0)
    assert [compiled.score_row(row) for row in probe] == batch.tolist()


def test_the_score_is_the_mean_squared_error_of_the_standardized_row():
    train = _data()
    detector = AutoencoderDetector(**SMALL)
    detector.fit(train)
    centre, scale = fit_robust(train)
    rows = standardize(_probe(train), centre, scale)
    reconstruction = detector.estimator_.predict(rows)
    expected = ((rows - reconstruction) ** 2).sum(axis=1) / rows.shape[1]
    np.testing.assert_allclose(detector.score(_probe(train)), expected, rtol=1e-12)


def test_the_network_is_the_one_asked_for():
    detector = AutoencoderDetector(hidden=10, bottleneck=3, max_iter=5, random_state=7)
    detector.fit(_data(rows=300))
    network = detector.estimator_
    assert isinstance(network, MLPRegressor)
    assert network.hidden_layer_sizes == (10, 3, 10)
    assert network.activation == "relu" and network.early_stopping
    assert [w.shape for w in network.coefs_] == [(6, 10), (10, 3), (3, 10), (10, 6)]
    assert network.n_iter_ <= 5


def test_max_samples_bounds_the_rows_the_network_trains_on():
    detector = AutoencoderDetector(max_samples=200, **SMALL)
    scores = detector.fit(_data(rows=2_000))
    assert scores.shape == (2_000,)
    # Early stopping holds out a tenth: 180 rows per epoch.
    assert detector.estimator_.t_ == detector.estimator_.n_iter_ * 180


def test_a_rows_score_does_not_depend_on_its_batch():
    train = _data()
    detector = AutoencoderDetector(**SMALL)
    detector.fit(train)
    compiled = detector.compile()
    row = np.array([1.0, -2.0, 0.5, 3.0, -1.0, 0.0])
    others = _probe(train)
    alone = compiled.score_row(row)
    assert compiled.score_batch(row[None, :])[0] == alone
    assert compiled.score_batch(np.r_[others[:30], row[None, :], others[30:]])[30] == alone
    library_alone = detector.score(row[None, :])[0]
    assert detector.score(np.r_[row[None, :], others])[0] == pytest.approx(library_alone, rel=1e-12)


def test_state_round_trip_rebuilds_an_equal_detector():
    train = _data()
    detector = AutoencoderDetector(**SMALL)
    detector.fit(train)
    state = detector.state()
    assert set(state) == {"centre_", "scale_", "estimator_", "n_features_in_"}
    again = AutoencoderDetector.from_state(detector.hyperparameters, state)
    probe = _probe(train)
    np.testing.assert_array_equal(again.score(probe), detector.score(probe))
    np.testing.assert_array_equal(
        again.compile().score_batch(probe), detector.compile().score_batch(probe)
    )


def test_planted_anomalies_score_above_typical_rows():
    """Far rows, and rows in range feature by feature that break the factors' pattern."""
    rng = np.random.default_rng(3)
    rows = _data(rows=1_500)
    train, typical = rows[:1_200], rows[1_200:]
    far = typical[:20] + rng.choice([-10.0, 10.0], size=(20, 6)) * typical.std(axis=0)
    shuffled = np.column_stack([rng.permutation(typical[:, j])[:20] for j in range(6)])
    detector = AutoencoderDetector(max_iter=150)  # enough epochs to learn the factors
    detector.fit(train)
    scores = detector.compile().score_batch(np.r_[typical, far, shuffled])
    cut = np.quantile(scores[:300], 0.99)
    assert scores[300:320].min() > cut
    assert np.mean(scores[320:] > cut) >= 0.8


def test_one_input_works():
    train = np.random.default_rng(0).normal(size=(300, 1))
    detector = AutoencoderDetector(hidden=4, bottleneck=1, max_iter=5)
    scores = detector.fit(train)
    assert scores.shape == (300,)
    np.testing.assert_allclose(detector.compile().score_batch(train), scores, rtol=TOLERANCE)


def test_rows_of_the_wrong_width_are_refused():
    detector = AutoencoderDetector(**SMALL)
    detector.fit(_data(rows=200))
    with pytest.raises(ValueError, match="6 inputs"):
        detector.compile().score_row(np.zeros(5))
    with pytest.raises(ValueError, match="6 inputs"):
        detector.score(np.zeros((2, 7)))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"hidden": 0}, "hidden must be an integer of at least 1, got 0"),
        ({"bottleneck": 2.5}, "bottleneck must be an integer of at least 1, got 2.5"),
        ({"max_iter": 0}, "max_iter must be an integer of at least 1"),
        ({"max_samples": 5}, "max_samples must be an integer of at least 10, got 5"),
        ({"layers": 3}, "no parameter.*layers.*takes: hidden, bottleneck"),
    ],
)
def test_bad_parameters_are_refused_with_a_clear_message(params, message):
    with pytest.raises(ValueError, match=message):
        AutoencoderDetector(**params)


def test_too_few_rows_are_refused():
    with pytest.raises(ValueError, match="at least 10 rows"):
        AutoencoderDetector().fit(np.zeros((5, 3)))
