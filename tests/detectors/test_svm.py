"""The one-class SVM: scikit-learn fits it, the compiled expansion scores it the same."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import SGDOneClassSVM
from sklearn.svm import OneClassSVM

from anomaly_detector.detectors.standardization import fit_robust, standardize
from anomaly_detector.detectors.svm import OneClassSVMDetector, parse_gamma, parse_method

TOLERANCE = 1e-9
# Small enough for a quick approximate fit, large enough to leave the fit some choice.
APPROX = {"method": "approx", "n_components": 80}


def _data(rows: int = 600, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.c_[rng.normal(size=(rows, 3)), rng.lognormal(size=rows), rng.integers(0, 4, rows)]


def _low_rank(rows: int = 600, seed: int = 0) -> np.ndarray:
    """Rows on a plane in 6-D: the components' kernel matrix is nearly singular."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(rows, 2)) @ rng.normal(size=(2, 6))


def _probe(train: np.ndarray, seed: int = 1) -> np.ndarray:
    """Training rows, rows near them, rows far away and rows far beyond everything."""
    rng = np.random.default_rng(seed)
    near = train[:150] + rng.normal(scale=0.3, size=(150, train.shape[1]))
    far = rng.normal(scale=4.0, size=(100, train.shape[1]))
    return np.r_[train[:150], near, far, np.full((2, train.shape[1]), 1e6)]


def _assert_close(compiled: np.ndarray, library: np.ndarray) -> None:
    """Within 1e-9 of the library, relative to its largest score (as the canary holds them)."""
    scale = max(1.0, float(np.max(np.abs(library))))
    assert np.max(np.abs(compiled - library)) <= TOLERANCE * scale
    np.testing.assert_allclose(compiled, library, rtol=TOLERANCE, atol=1e-12)


@pytest.mark.parametrize("params", [{"method": "exact"}, APPROX], ids=["exact", "approx"])
@pytest.mark.parametrize("make", [_data, _low_rank], ids=["mixed", "low_rank"])
def test_compiled_scores_equal_the_scikit_learn_estimators(params, make):
    train = make()
    detector = OneClassSVMDetector(**params)
    training_scores = detector.fit(train)
    np.testing.assert_array_equal(training_scores, detector.score(train))
    probe = _probe(train)
    library = detector.score(probe)
    compiled = detector.compile()
    _assert_close(compiled.score_batch(probe), library)
    assert [compiled.score_row(row) for row in probe] == compiled.score_batch(probe).tolist()


def test_the_exact_fit_is_scikit_learns_one_class_svm_on_standardized_rows():
    train = _data()
    detector = OneClassSVMDetector(method="exact", nu=0.1)
    detector.fit(train)
    centre, scale = fit_robust(train)
    rows = standardize(train, centre, scale)
    reference = OneClassSVM(kernel="rbf", nu=0.1, gamma="scale").fit(rows)
    assert detector.gamma_ == pytest.approx(reference._gamma, rel=1e-12)
    probe = _probe(train)
    expected = -reference.decision_function(standardize(probe, centre, scale))
    np.testing.assert_allclose(detector.score(probe), expected, rtol=1e-12, atol=1e-12)


def test_the_approximation_is_nystroem_features_and_a_linear_one_class_svm():
    train = _data(rows=1_000)
    detector = OneClassSVMDetector(method="approx", n_components=60, gamma=0.3, random_state=5)
    detector.fit(train)
    assert isinstance(detector.feature_map_, Nystroem)
    assert isinstance(detector.estimator_, SGDOneClassSVM)
    assert detector.feature_map_.components_.shape == (60, 5)
    assert detector.feature_map_.gamma == detector.gamma_ == 0.3


def test_the_nystroem_map_drops_numerically_null_directions():
    """Untruncated, low-rank rows give normalization entries near 1e6 and 1e-9 disagreements."""
    train = _low_rank()
    detector = OneClassSVMDetector(method="approx", n_components=300)
    detector.fit(train)
    assert np.abs(detector.feature_map_.normalization_).max() < 1e4
    probe = _probe(train)
    library = detector.score(probe)
    assert np.max(np.abs(detector.compile().score_batch(probe) - library)) < 1e-12


@pytest.mark.parametrize(("rows", "method"), [(200, "exact"), (201, "approx")])
def test_auto_fits_exactly_up_to_max_exact_rows(rows, method):
    detector = OneClassSVMDetector(max_exact_rows=200, n_components=50)
    detector.fit(_data(rows=rows))
    assert detector.method_ == method
    expected = OneClassSVM if method == "exact" else SGDOneClassSVM
    assert type(detector.estimator_) is expected
    assert (detector.feature_map_ is None) == (method == "exact")


@pytest.mark.parametrize("params", [{"method": "exact"}, APPROX], ids=["exact", "approx"])
def test_a_rows_score_does_not_depend_on_its_batch(params):
    train = _data()
    detector = OneClassSVMDetector(**params)
    detector.fit(train)
    compiled = detector.compile()
    row = np.array([2.5, -1.0, 0.3, 4.0, 1.0])
    others = _probe(train)
    alone = compiled.score_row(row)
    assert compiled.score_batch(row[None, :])[0] == alone
    assert compiled.score_batch(np.r_[others[:40], row[None, :], others[40:]])[40] == alone
    library_alone = detector.score(row[None, :])[0]
    assert detector.score(np.r_[row[None, :], others])[0] == pytest.approx(library_alone, abs=1e-15)


@pytest.mark.parametrize("params", [{"method": "exact"}, APPROX], ids=["exact", "approx"])
def test_state_round_trip_rebuilds_an_equal_detector(params):
    train = _data()
    detector = OneClassSVMDetector(**params)
    detector.fit(train)
    state = detector.state()
    assert set(state) == {
        "centre_", "scale_", "gamma_", "method_", "n_features_in_", "feature_map_", "estimator_",
    }  # fmt: skip
    again = OneClassSVMDetector.from_state(detector.hyperparameters, state)
    probe = _probe(train)
    np.testing.assert_array_equal(again.score(probe), detector.score(probe))
    np.testing.assert_array_equal(
        again.compile().score_batch(probe), detector.compile().score_batch(probe)
    )
    assert again.n_features == 5


@pytest.mark.parametrize("params", [{"method": "exact"}, APPROX], ids=["exact", "approx"])
def test_planted_anomalies_score_above_typical_rows(params):
    rng = np.random.default_rng(3)
    train = rng.normal(size=(800, 4))
    typical = rng.normal(size=(300, 4))
    planted = rng.normal(size=(30, 4))
    planted[np.arange(30), rng.integers(0, 4, 30)] += rng.choice([-8.0, 8.0], 30)
    detector = OneClassSVMDetector(**params)
    detector.fit(train)
    scores = detector.compile().score_batch(np.r_[typical, planted])
    assert scores[300:].min() > np.quantile(scores[:300], 0.99)


def test_rows_of_the_wrong_width_are_refused():
    detector = OneClassSVMDetector(method="exact")
    detector.fit(_data(rows=100))
    with pytest.raises(ValueError, match="5 inputs"):
        detector.compile().score_row(np.zeros(4))
    with pytest.raises(ValueError, match="5 inputs"):
        detector.compile().score_batch(np.zeros((3, 6)))
    with pytest.raises(ValueError, match="5 inputs"):
        detector.score(np.zeros((3, 4)))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"nu": 0.0}, r"nu must be in \(0, 1\], got 0.0"),
        ({"nu": 1.5}, r"nu must be in \(0, 1\]"),
        ({"gamma": -1.0}, "gamma must be 'scale' or a positive number, got -1.0"),
        ({"gamma": "wide"}, "gamma must be 'scale' or a positive number, got 'wide'"),
        ({"method": "fast"}, "method must be one of auto, exact, approx, got 'fast'"),
        ({"n_components": 0}, "n_components must be an integer of at least 1, got 0"),
        ({"max_exact_rows": 2.5}, "max_exact_rows must be an integer of at least 1"),
        ({"kernel": "linear"}, "no parameter.*kernel.*takes: nu, gamma"),
    ],
)
def test_bad_parameters_are_refused_with_a_clear_message(params, message):
    with pytest.raises(ValueError, match=message):
        OneClassSVMDetector(**params)


def test_too_few_rows_are_refused():
    with pytest.raises(ValueError, match="at least 2 rows"):
        OneClassSVMDetector().fit(np.zeros((1, 3)))


def test_parameters_read_from_text():
    assert parse_gamma("scale") == "scale" and parse_gamma("0.25") == 0.25
    assert parse_method("approx") == "approx"
    assert OneClassSVMDetector(gamma="0.5").hyperparameters["gamma"] == 0.5
    with pytest.raises(ValueError, match="'exactly'"):
        parse_method("exactly")
