"""The PCA detector: reconstruction error fitted by scikit-learn, served compiled, scores equal."""

from __future__ import annotations

import numpy as np
import pytest
import skops.io
from sklearn.decomposition import PCA
from sklearn.preprocessing import RobustScaler

from anomaly_detector.detectors.projection import PCADetector, parse_n_components

N_INPUTS = 8


def _data(rows: int = 4_000, seed: int = 0) -> np.ndarray:
    """Eight correlated inputs driven by three factors, plus a little noise, in mixed units."""
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(rows, 3))
    data = factors @ rng.normal(size=(3, N_INPUTS)) + 0.05 * rng.normal(size=(rows, N_INPUTS))
    return data * np.geomspace(0.01, 100, N_INPUTS) + np.arange(N_INPUTS)


def _broken_correlations(data: np.ndarray, rows: int, seed: int = 1) -> np.ndarray:
    """Typical rows whose inputs are each taken from a different row: every value ordinary."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(data.shape[0], size=(rows, data.shape[1]))
    return data[picks, np.arange(data.shape[1])]


def _relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.abs(b)))


@pytest.mark.parametrize("n_components", [0.95, 3, 5])
def test_compiled_scores_equal_scikit_learn_s(n_components):
    data = _data()
    detector = PCADetector(n_components=n_components)
    training = detector.fit(data)
    rows = np.vstack([data[:500], _broken_correlations(data, 200), data[:50] * 1e3])
    compiled = detector.compile()
    assert _relative_difference(training, detector.score(data)) < 1e-9
    assert _relative_difference(compiled.score_batch(rows), detector.score(rows)) < 1e-9
    one_by_one = np.array([compiled.score_row(row) for row in rows])
    np.testing.assert_array_equal(one_by_one, compiled.score_batch(rows))


def test_the_score_is_the_squared_reconstruction_error_of_robustly_scaled_rows():
    """Computed independently: RobustScaler, a PCA and the residual of the projection."""
    data = _data()
    scaled = RobustScaler().fit(data)
    pca = PCA(n_components=3).fit(scaled.transform(data))
    rows = np.vstack([data[:300], _broken_correlations(data, 100)])
    centred = scaled.transform(rows) - pca.mean_
    residual = centred - centred @ pca.components_.T @ pca.components_
    expected = np.sum(residual**2, axis=1)
    detector = PCADetector(n_components=3)
    detector.fit(data)
    assert _relative_difference(detector.compile().score_batch(rows), expected) < 1e-9


def test_n_components_counts_components_or_keeps_a_share_of_the_variance():
    data = _data()
    counted = PCADetector(n_components=2)
    counted.fit(data)
    assert counted.estimator_.n_components_ == 2
    explained = np.cumsum(PCA().fit(RobustScaler().fit_transform(data)).explained_variance_ratio_)
    kept = []
    for share in (0.5, 0.95, 0.9999):
        detector = PCADetector(n_components=share)
        detector.fit(data)
        kept.append(detector.estimator_.n_components_)
        # The fewest components whose variance exceeds the share.
        assert kept[-1] == int(np.searchsorted(explained, share, side="right") + 1)
    assert kept == sorted(set(kept)) and kept[-1] < N_INPUTS
    # Fewer components leave more of each row outside them.
    assert PCADetector(n_components=1).fit(data).mean() > counted.fit(data).mean()


def test_a_share_only_every_component_reaches_keeps_all_but_the_last():
    """Uncorrelated inputs: 0.95 of the variance needs all of them, which would score 0."""
    data = np.random.default_rng(2).normal(size=(3_000, 5))
    detector = PCADetector(n_components=0.95)
    training = detector.fit(data)
    assert detector.estimator_.n_components_ == 4
    assert np.median(training) > 1e-3


def test_a_single_input_is_refused():
    with pytest.raises(ValueError, match="pca needs at least 2 inputs, got 1"):
        PCADetector().fit(np.arange(100.0).reshape(-1, 1))


def test_a_row_scores_the_same_alone_and_inside_any_batch():
    data = _data(rows=6_000)
    detector = PCADetector()
    training = detector.fit(data)
    compiled = detector.compile()
    # 6,000 rows split over two threads; a row alone runs on one.
    for index in (0, 17, 3_500, 5_999):
        alone = data[index : index + 1]
        assert compiled.score_batch(alone)[0] == training[index]
        assert compiled.score_row(data[index]) == training[index]
        assert detector.score(alone)[0] == pytest.approx(training[index], rel=1e-12)
    np.testing.assert_array_equal(compiled.score_batch(data, threads=1), training)
    np.testing.assert_array_equal(compiled.score_batch(data[::-1])[::-1], training)


def test_rows_that_break_the_correlations_score_above_typical_rows():
    data = _data()
    detector = PCADetector()
    training = detector.fit(data)
    planted = detector.score(_broken_correlations(data, 100))
    assert np.all(planted > np.quantile(training, 0.99))


def test_state_round_trip_rebuilds_an_equal_detector_that_skops_loads():
    data = _data(rows=1_000)
    detector = PCADetector(n_components=4, random_state=3)
    training = detector.fit(data)
    state = detector.state()
    assert set(state) == {"centre_", "scale_", "estimator_", "n_features_in_"}
    assert isinstance(state["estimator_"], PCA)
    assert not skops.io.get_untrusted_types(data=skops.io.dumps(state))
    loaded = skops.io.loads(skops.io.dumps(state))
    again = PCADetector.from_state(detector.hyperparameters, loaded)
    np.testing.assert_array_equal(again.compile().score_batch(data), training)
    np.testing.assert_array_equal(again.score(data), detector.score(data))
    assert again.n_features == N_INPUTS


@pytest.mark.parametrize(("text", "value"), [("3", 3), ("0.95", 0.95), ("0.5", 0.5)])
def test_n_components_reads_counts_and_shares(text, value):
    parsed = parse_n_components(text)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize("text", ["0", "-2", "1.0", "1.5", "0.0", "all", "nan"])
def test_n_components_refuses_other_text(text):
    with pytest.raises(ValueError, match=f"n_components must be .*got '{text}'"):
        parse_n_components(text)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "n_components=0, but a PCA of 8 inputs keeps 1 to 7 components"),
        (8, r"n_components=8, but a PCA of 8 inputs keeps 1 to 7 components \(all 8 leave no"),
        (9, "n_components=9, but a PCA of 8 inputs keeps 1 to 7 components"),
        (1.5, "n_components must be .*got 1.5"),
        (True, "n_components must be .*got True"),
        ("most", "n_components must be .*got 'most'"),
    ],
)
def test_fit_refuses_bad_n_components_with_a_clear_message(value, message):
    with pytest.raises(ValueError, match=message):
        PCADetector(n_components=value).fit(_data(rows=200))


def test_unknown_parameters_are_named_with_the_ones_it_takes():
    with pytest.raises(ValueError, match="no parameter.*whiten.*takes: n_components, random_state"):
        PCADetector(whiten=True)
