"""Label resolution and evaluation metrics of anomaly scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import precision_recall_curve

from anomaly_detector.errors import InputError
from anomaly_detector.training.evaluation import evaluate, resolve_labels


@pytest.mark.parametrize(
    ("labels", "anomalous"),
    [
        ([0, 1, 0, 0], [1]),
        ([0.0, 1.0, 0.0, 1.0], [1.0]),
        ([True, False, False, False], [True]),
        (["yes", "no", "no", "No"], ["yes"]),
        (["normal", "attack", "attack", "attack"], ["attack"]),
        ([1, -1, 1, 1], [-1]),
        # -1 is the scikit-learn outlier even when it is the majority.
        ([-1, -1, -1, 1], [-1]),
        (["none", "scraping", "none", "burst"], ["scraping", "burst"]),
        (["Normal", "dos", "probe", "normal", "r2l"], ["dos", "probe", "r2l"]),
        (["a", "b", "b", "b"], ["a"]),
        (["b", "a", "a", "a"], ["b"]),
    ],
)
def test_resolve_labels_infers_the_anomalous_values(labels: list, anomalous: list) -> None:
    is_anomaly, rule = resolve_labels(pd.Series(labels))
    assert is_anomaly.dtype == bool
    assert is_anomaly.tolist() == [value in anomalous for value in labels]
    assert "inferred" in rule or "convention" in rule or "minority" in rule


def test_minority_fallback_says_how_to_choose() -> None:
    _, rule = resolve_labels(pd.Series(["x", "y", "y"]))
    assert "minority" in rule
    assert "--anomaly-label" in rule


@pytest.mark.parametrize(("given_label", "labels"), [("0", [0, 1, 1]), ("B", ["a", "b", "a"])])
def test_explicit_anomaly_label_wins_and_matches_case_insensitively(
    given_label: str, labels: list
) -> None:
    is_anomaly, rule = resolve_labels(pd.Series(labels), anomaly_label=given_label)
    assert is_anomaly.tolist() == [str(v).lower() == given_label.lower() for v in labels]
    assert "given" in rule


def test_explicit_anomaly_label_that_does_not_occur_lists_the_values() -> None:
    with pytest.raises(InputError) as caught:
        resolve_labels(pd.Series(["normal", "attack"]), anomaly_label="fraud")
    assert "'fraud'" in caught.value.message
    assert "attack" in caught.value.message and "normal" in caught.value.message


def test_single_valued_label_column_cannot_evaluate() -> None:
    with pytest.raises(InputError, match="single value"):
        resolve_labels(pd.Series([0, 0, 0]))


def _roc_auc_by_ranks(scores: np.ndarray, truth: np.ndarray) -> float:
    """Mann-Whitney: the chance a random anomaly outscores a random normal row (ties 1/2)."""
    positives, negatives = scores[truth], scores[~truth]
    above = (positives[:, None] > negatives[None, :]).sum()
    ties = (positives[:, None] == negatives[None, :]).sum()
    return (above + ties / 2) / (len(positives) * len(negatives))


@pytest.mark.parametrize("seed", range(4))
def test_evaluate_matches_independent_computation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.random(300) < 0.15
    scores = np.round(rng.normal(size=300) + 1.5 * truth, 2)  # rounded, so ties occur
    threshold = float(np.quantile(scores, 0.8))
    metrics = evaluate(scores, truth, threshold)

    flagged = scores > threshold
    true_positives = int((flagged & truth).sum())
    assert metrics["rows"] == 300
    assert metrics["anomalies"] == int(truth.sum())
    assert metrics["threshold"] == threshold
    assert metrics["precision"] == pytest.approx(true_positives / flagged.sum())
    assert metrics["recall"] == pytest.approx(true_positives / truth.sum())
    assert metrics["f1"] == pytest.approx(2 * true_positives / (flagged.sum() + truth.sum()))
    assert metrics["alert_rate"] == pytest.approx(flagged.mean())
    assert metrics["roc_auc"] == pytest.approx(_roc_auc_by_ranks(scores, truth))
    precision, recall, _ = precision_recall_curve(truth, scores)
    assert metrics["pr_auc"] == pytest.approx(-np.sum(np.diff(recall) * precision[:-1]))


def test_evaluate_without_both_classes_has_no_ranking_metrics() -> None:
    metrics = evaluate(np.array([0.1, 0.9, 0.5]), np.array([False, False, False]), 0.4)
    assert metrics["roc_auc"] is None and metrics["pr_auc"] is None
    assert metrics["precision"] == 0.0 and metrics["recall"] == 0.0
    assert metrics["alert_rate"] == pytest.approx(2 / 3)
