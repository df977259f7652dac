"""The compiled forest must score exactly like scikit-learn's IsolationForest."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sklearn.ensemble import IsolationForest

from anomaly_detector.detectors.forest_kernel import compile_forest
from anomaly_detector.detectors.parallel import PARALLEL_MIN_ROWS, scoring_threads

TOLERANCE = 1e-9


def _reference(forest, rows):
    return -forest.score_samples(rows)


def _probe_rows(forest, rng, n_rows, n_features):
    """Random rows plus rows sitting exactly on split thresholds (where float32 rounding bites)."""
    rows = rng.lognormal(0, 2, size=(n_rows, n_features)) * rng.choice(
        [-1, 1], (n_rows, n_features)
    )
    thresholds = np.concatenate(
        [e.tree_.threshold[e.tree_.children_left != -1] for e in forest.estimators_]
    )
    if thresholds.size:
        picks = rng.choice(thresholds, size=(n_rows // 2, n_features))
        rows[: n_rows // 2] = picks
        rows[: n_rows // 4] = np.nextafter(picks[: n_rows // 4], np.inf)
    rows[rng.random(rows.shape) < 0.05] = np.nan
    return rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_features=st.integers(1, 8),
    n_train=st.integers(2, 400),
    n_estimators=st.integers(1, 40),
    max_samples=st.one_of(st.just("auto"), st.integers(2, 300), st.floats(0.05, 1.0)),
    max_features=st.one_of(st.just(1.0), st.floats(0.1, 1.0), st.integers(1, 8)),
    bootstrap=st.booleans(),
    with_missing=st.booleans(),
    discrete=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_compiled_scores_equal_scikit_learn(
    n_features,
    n_train,
    n_estimators,
    max_samples,
    max_features,
    bootstrap,
    with_missing,
    discrete,
    seed,
):
    rng = np.random.default_rng(seed)
    train = rng.normal(size=(n_train, n_features)) * rng.lognormal(0, 1.5, n_features)
    if discrete:  # many ties, as with counts
        train = np.round(train)
    if with_missing:
        train[rng.random(train.shape) < 0.1] = np.nan
    if isinstance(max_samples, int):
        max_samples = min(max_samples, n_train)
    if isinstance(max_samples, float):
        assume(int(max_samples * n_train) >= 1)  # scikit-learn refuses empty subsamples
    if isinstance(max_features, int):
        max_features = min(max_features, n_features)
    forest = IsolationForest(
        n_estimators=n_estimators,
        max_samples=max_samples,
        max_features=max_features,
        bootstrap=bootstrap,
        random_state=seed % 1000,
    ).fit(train)
    compiled = compile_forest(forest)
    rows = _probe_rows(forest, rng, 64, n_features)
    # Batches take the row-blocked kernel, single rows and small batches the tree-blocked one.
    batch = compiled.score_batch(rows)
    single = np.array([compiled.score_batch(rows[i : i + 1])[0] for i in range(len(rows))])
    one_row = np.array([compiled.score_row(row) for row in rows])
    reference = _reference(forest, rows)
    np.testing.assert_allclose(batch, reference, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(single, reference, rtol=0, atol=TOLERANCE)
    np.testing.assert_array_equal(one_row, single)
    predicted_inlier = forest.predict(rows) == 1
    np.testing.assert_array_equal(reference <= -forest.offset_, predicted_inlier)


def test_ten_thousand_random_vectors_match():
    rng = np.random.default_rng(7)
    forest = IsolationForest(n_estimators=100, random_state=0).fit(rng.lognormal(size=(3000, 10)))
    compiled = compile_forest(forest)
    rows = rng.lognormal(0, 3, size=(10_000, 10))
    got = compiled.score_batch(rows)
    assert np.max(np.abs(got - _reference(forest, rows))) <= TOLERANCE
    assert np.all((got > 0) & (got <= 1))


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("copies", [1, 8], ids=["few-rows kernel", "batch kernel"])
def test_infinities_follow_scikit_learn(copies):
    rng = np.random.default_rng(1)
    forest = IsolationForest(n_estimators=20, random_state=0).fit(rng.normal(size=(200, 3)))
    rows = np.array([[np.inf, 0, 0], [-np.inf, 0, 0], [0, np.inf, -np.inf], [1e300, -1e300, 0]])
    rows = np.tile(rows, (copies, 1))
    np.testing.assert_allclose(
        compile_forest(forest).score_batch(rows), _reference(forest, rows), atol=TOLERANCE
    )


@pytest.mark.parametrize("threads", [2, 3, 16])
def test_batches_split_over_threads_score_exactly_as_one_thread(threads):
    rng = np.random.default_rng(3)
    forest = IsolationForest(n_estimators=30, random_state=0).fit(rng.normal(size=(500, 4)))
    compiled = compile_forest(forest)
    # An odd size, so slices end mid-block and the last slice is shorter.
    rows = rng.normal(0, 2, size=(3 * PARALLEL_MIN_ROWS + 17, 4))
    rows[rng.random(rows.shape) < 0.02] = np.nan
    one_thread = compiled.score_batch(rows, threads=1)
    np.testing.assert_array_equal(compiled.score_batch(rows, threads=threads), one_thread)
    np.testing.assert_allclose(one_thread, _reference(forest, rows), rtol=0, atol=TOLERANCE)


def test_concurrent_callers_share_the_pool_without_deadlock():
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(4)
    forest = IsolationForest(n_estimators=10, random_state=0).fit(rng.normal(size=(300, 3)))
    compiled = compile_forest(forest)
    rows = rng.normal(size=(4 * PARALLEL_MIN_ROWS, 3))
    expected = compiled.score_batch(rows, threads=1)
    with ThreadPoolExecutor(max_workers=6) as callers:
        results = list(callers.map(lambda _: compiled.score_batch(rows, threads=2), range(12)))
    for result in results:
        np.testing.assert_array_equal(result, expected)


def test_one_helper_pool_whatever_thread_counts_callers_ask_for():
    import threading

    rng = np.random.default_rng(6)
    forest = IsolationForest(n_estimators=5, random_state=0).fit(rng.normal(size=(100, 2)))
    compiled = compile_forest(forest)
    rows = rng.normal(size=(8 * PARALLEL_MIN_ROWS, 2))
    for threads in (2, 3, 5, 8):
        compiled.score_batch(rows, threads=threads)
    helpers = [t for t in threading.enumerate() if t.name.startswith("scoring")]
    assert 1 <= len(helpers) <= max(1, scoring_threads() - 1)


def test_wrong_width_is_refused():
    forest = IsolationForest(n_estimators=5, random_state=0).fit(
        np.zeros((10, 3)) + np.arange(10)[:, None]
    )
    with pytest.raises(ValueError, match=r"expected shape \(n, 3\)"):
        compile_forest(forest).score_batch(np.zeros((2, 4)))


def test_one_sample_per_tree_scores_like_scikit_learn():
    forest = IsolationForest(n_estimators=3, random_state=0).fit(np.array([[1.0, 2.0]]))
    rows = np.array([[1.0, 2.0], [5.0, -3.0]])
    np.testing.assert_array_equal(
        compile_forest(forest).score_batch(rows), _reference(forest, rows)
    )
