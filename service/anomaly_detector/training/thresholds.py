"""Placing, comparing and re-tuning the threshold on the anomaly score."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from anomaly_detector.bundle.model import ModelBundle
from anomaly_detector.training.evaluation import evaluate
from anomaly_detector.training.metadata import reference_scores

# Above this share of training rows flagged, training warns: anomaly rates are
# usually a few percent, and a threshold flagging a fifth of the data is a mistake.
HIGH_ALERT_RATE = 0.10


def contamination_threshold(training_scores: np.ndarray, contamination: float) -> float:
    """The threshold above which ``contamination`` of the training rows lie.

    scikit-learn's rule for ``offset_`` (the ``100 * contamination`` percentile of
    ``score_samples``, whose negation our score is), to the last bit.
    """
    return float(-np.percentile(-np.asarray(training_scores), 100.0 * contamination))


def alert_rate_warning(alert_rate: float, contamination: float | None) -> str | None:
    """A sentence when the threshold flags far more training rows than usual, else None."""
    if alert_rate <= HIGH_ALERT_RATE:
        return None
    chosen = f"--contamination {contamination}" if contamination else "the detector's default"
    return (
        f"the threshold ({chosen}) flags {alert_rate:.1%} of the training rows; anomaly rates "
        "are usually a few percent: pass e.g. --contamination 0.03 to flag the top 3%"
    )


def threshold_table(
    anomaly_scores: np.ndarray, is_anomaly: np.ndarray, thresholds: np.ndarray | None = None
) -> pd.DataFrame:
    """Precision, recall, F1 and alert rate at candidate thresholds (one row each).

    Args:
        thresholds: candidates; by default the score quantiles from 50% to 99.9%.
    """
    scores = np.asarray(anomaly_scores, dtype=float)
    if thresholds is None:
        thresholds = np.unique(np.quantile(scores, np.linspace(0.5, 0.999, 60)))
    rows = [evaluate(scores, is_anomaly, float(t)) for t in thresholds]
    columns = ["threshold", "precision", "recall", "f1", "alert_rate"]
    return pd.DataFrame(rows)[columns]


def sweep(scores: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and alert rate at every distinct score used as threshold.

    Linear after one sort: flagged and true-positive counts are cumulative sums
    from the top score down.
    """
    scores = np.asarray(scores, dtype=np.float64)
    truth = np.asarray(truth, dtype=bool)
    thresholds, inverse = np.unique(scores, return_inverse=True)
    per_score = np.bincount(inverse, minlength=len(thresholds))
    positives = np.bincount(inverse, weights=truth, minlength=len(thresholds))
    flagged = per_score[::-1].cumsum()[::-1] - per_score  # rows strictly above each threshold
    true_positives = positives[::-1].cumsum()[::-1] - positives
    total = max(int(truth.sum()), 1)
    precision = np.where(flagged > 0, true_positives / np.maximum(flagged, 1), 1.0)
    recall = true_positives / total
    f1 = 2 * true_positives / np.maximum(flagged + truth.sum(), 1)
    return {
        "threshold": thresholds,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "alert_rate": flagged / max(len(scores), 1),
    }


def best_threshold(anomaly_scores: np.ndarray, is_anomaly: np.ndarray) -> float:
    """The threshold with the highest F1 when rows scoring above it are flagged.

    Every distinct score is a candidate (``sweep``); ties go to the higher
    threshold (fewer alerts).
    """
    curve = sweep(anomaly_scores, is_anomaly)
    best = np.flatnonzero(curve["f1"] == curve["f1"].max())
    return float(curve["threshold"][best.max()])


def apply_threshold(
    bundle: ModelBundle,
    threshold: float,
    training_scores: np.ndarray,
    labelled: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> None:
    """Decide with ``threshold`` and make the metadata describe that model.

    Args:
        bundle: changed in place; publish it with ``save_bundle`` afterwards.
        threshold: the new threshold on the anomaly score.
        training_scores: the training rows' scores, for the reference alert rate
            (the anomaly ratio the service expects, which the spike alert compares with).
        labelled: ``{split: (anomaly scores, is anomaly)}`` to re-evaluate, e.g.
            ``{"test": (test_scores, is_anomaly)}``.
    """
    bundle.set_threshold(threshold)
    bundle.metadata["reference_scores"] = reference_scores(training_scores, threshold)
    evaluation = bundle.metadata.setdefault("evaluation", {})
    for split, (scores, is_anomaly) in (labelled or {}).items():
        evaluation[split] = evaluate(scores, is_anomaly, threshold)
