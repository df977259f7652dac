"""Placing, comparing and re-tuning the threshold on the anomaly score."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anomaly_detector.bundle.io import load_bundle, save_bundle
from anomaly_detector.scoring.scorer import Scorer
from anomaly_detector.training.evaluation import evaluate, resolve_labels
from anomaly_detector.training.thresholds import (
    apply_threshold,
    best_threshold,
    contamination_threshold,
    threshold_table,
)
from factories import train_small


@pytest.mark.parametrize("contamination", [0.01, 0.05, 0.3])
def test_the_contamination_threshold_flags_that_share(contamination):
    scores = np.random.default_rng(0).normal(size=10_000)
    flagged = scores > contamination_threshold(scores, contamination)
    assert flagged.mean() == pytest.approx(contamination, abs=1e-3)


def test_apply_threshold_republishes_a_model_that_describes_itself(tmp_path, traffic_frame):
    result = train_small(frame=traffic_frame.drop(columns=["is_anomaly", "anomaly_type"]))
    bundle = result.bundle
    test_scores = Scorer(bundle).predict_frame(traffic_frame).anomaly_score
    is_anomaly, _ = resolve_labels(traffic_frame["is_anomaly"])
    chosen = best_threshold(test_scores, is_anomaly)
    apply_threshold(bundle, chosen, result.training_scores, {"test": (test_scores, is_anomaly)})

    loaded = load_bundle(save_bundle(bundle, tmp_path)[0])
    assert loaded.threshold == chosen == loaded.metadata["decision"]["threshold"]
    assert loaded.metadata["evaluation"]["test"] == evaluate(test_scores, is_anomaly, chosen)
    expected_rate = float((result.training_scores > chosen).mean())
    assert loaded.metadata["reference_scores"]["alert_rate"] == expected_rate
    decisions = Scorer(loaded).predict_frame(traffic_frame).is_inlier
    np.testing.assert_array_equal(decisions, test_scores <= chosen)


def test_threshold_table_rows_equal_evaluate_at_each_threshold() -> None:
    rng = np.random.default_rng(5)
    truth = rng.random(200) < 0.1
    scores = rng.normal(size=200) + truth
    table = threshold_table(scores, truth)
    assert list(table.columns) == ["threshold", "precision", "recall", "f1", "alert_rate"]
    assert table["threshold"].is_monotonic_increasing
    assert table["threshold"].between(np.median(scores), scores.max()).all()
    assert table["alert_rate"].is_monotonic_decreasing
    for row in table.itertuples():
        expected = evaluate(scores, truth, row.threshold)
        assert row.f1 == expected["f1"] and row.alert_rate == expected["alert_rate"]


def _exact_f1(scores: np.ndarray, truth: np.ndarray, threshold: float) -> Fraction:
    flagged = scores > threshold
    return Fraction(2 * int((flagged & truth).sum()), int(flagged.sum() + truth.sum()) or 1)


def _check_best_threshold(scores: np.ndarray, truth: np.ndarray) -> None:
    chosen = best_threshold(scores, truth)
    candidates = np.unique(scores)
    f1 = {float(t): _exact_f1(scores, truth, t) for t in candidates}
    best_f1 = max(f1.values())
    assert chosen in f1
    assert f1[chosen] == best_f1
    assert all(f1[chosen] >= other for other in f1.values())
    # Ties go to the higher threshold, i.e. fewer alerts.
    assert chosen == max(t for t, value in f1.items() if value == best_f1)
    assert evaluate(scores, truth, chosen)["f1"] == pytest.approx(float(best_f1))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=12), st.booleans()), min_size=1, max_size=60
    )
)
def test_best_threshold_equals_brute_force_over_distinct_scores(
    rows: list[tuple[int, bool]],
) -> None:
    # Few distinct integer scores, so ties between rows (and between F1 values) are common.
    scores = np.array([score / 4 for score, _ in rows], dtype=float)
    truth = np.array([label for _, label in rows], dtype=bool)
    _check_best_threshold(scores, truth)


@pytest.mark.parametrize("seed", range(3))
def test_best_threshold_on_continuous_scores(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.random(500) < 0.05
    scores = rng.normal(size=500) + 2 * truth
    _check_best_threshold(scores, truth)
