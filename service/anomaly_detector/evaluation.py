"""Labels and evaluation metrics for anomaly scores."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_fscore_support, roc_auc_score

from anomaly_detector.schema import InputError

# Label values that plainly mean "anomalous", compared case-insensitively as text.
ANOMALY_WORDS = ("1", "true", "yes", "anomaly", "anomalous", "outlier", "attack", "fraud",
                 "malicious", "abnormal")  # fmt: skip
# Values that plainly mean "normal" in a multi-class label such as anomaly_type.
NORMAL_WORDS = ("0", "false", "no", "none", "normal", "benign", "inlier", "ok", "clean")


def _as_text(labels: pd.Series) -> pd.Series:
    def text(value: Any) -> str:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value).strip().lower()

    return labels.map(text)


def resolve_labels(labels: pd.Series, anomaly_label: str | None = None) -> tuple[np.ndarray, str]:
    """Boolean "is anomalous" per row, and a sentence saying how it was decided.

    Args:
        labels: the label column; rows with a missing label must be removed first.
        anomaly_label: the value that means anomalous; when None it is inferred:
            ``{-1, 1}`` follows scikit-learn (-1 is the outlier); otherwise an
            obvious value (1, true, anomaly, outlier, attack, ...); otherwise,
            when exactly one value is plainly normal (none, normal, benign, ...),
            every other value; otherwise the minority class.

    Raises:
        InputError: the column has a single value, or ``anomaly_label`` does not occur.
    """
    text = _as_text(labels)
    values = sorted(text.unique())
    if len(values) < 2:
        raise InputError(
            "invalid_request", f"label column has a single value ({values}); cannot evaluate"
        )
    if anomaly_label is not None:
        wanted = _as_text(pd.Series([anomaly_label]))[0]
        if wanted not in values:
            raise InputError(
                "invalid_request",
                f"--anomaly-label {anomaly_label!r} does not occur; label values are {values}",
            )
        return (text == wanted).to_numpy(), f"anomalous label value {wanted!r} (given)"
    if set(values) == {"-1", "1"}:
        return (text == "-1").to_numpy(), "anomalous label value '-1' (scikit-learn convention)"
    if len(values) == 2:
        for word in ANOMALY_WORDS:
            if word in values:
                return (text == word).to_numpy(), f"anomalous label value {word!r} (inferred)"
    normal = [v for v in values if v in NORMAL_WORDS]
    if len(normal) == 1:
        return (text != normal[0]).to_numpy(), (
            f"every label value except {normal[0]!r} is anomalous (inferred)"
        )
    minority = text.value_counts().idxmin()
    return (text == minority).to_numpy(), (
        f"anomalous label value {minority!r} (minority class; pass --anomaly-label to choose)"
    )


def evaluate(anomaly_scores: np.ndarray, is_anomaly: np.ndarray, threshold: float) -> dict:
    """Ranking and thresholded metrics of anomaly scores against true labels.

    Returns:
        rows, anomalies, roc_auc, pr_auc (average precision), precision, recall,
        f1 and alert_rate at ``threshold`` (a row is flagged when its score is above it).
    """
    scores = np.asarray(anomaly_scores, dtype=float)
    truth = np.asarray(is_anomaly, dtype=bool)
    flagged = scores > threshold
    precision, recall, f1, _ = precision_recall_fscore_support(
        truth, flagged, average="binary", zero_division=0
    )
    both_classes = 0 < truth.sum() < len(truth)
    return {
        "rows": int(len(truth)),
        "anomalies": int(truth.sum()),
        "threshold": float(threshold),
        "roc_auc": float(roc_auc_score(truth, scores)) if both_classes else None,
        "pr_auc": float(average_precision_score(truth, scores)) if both_classes else None,
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "alert_rate": float(flagged.mean()) if len(flagged) else 0.0,
    }


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


def best_threshold(anomaly_scores: np.ndarray, is_anomaly: np.ndarray) -> float:
    """The threshold with the highest F1 when rows scoring above it are flagged.

    Every distinct score is a candidate (flagging everything strictly above it);
    computed with cumulative sums, so it is linear after a sort. Ties go to the
    higher threshold (fewer alerts).
    """
    scores = np.asarray(anomaly_scores, dtype=float)
    truth = np.asarray(is_anomaly, dtype=bool)
    distinct, inverse = np.unique(scores, return_inverse=True)
    positives_per_score = np.bincount(inverse, weights=truth, minlength=len(distinct))
    rows_per_score = np.bincount(inverse, minlength=len(distinct))
    # Flagged by threshold distinct[i]: every row whose score is in distinct[i+1:].
    flagged = rows_per_score[::-1].cumsum()[::-1] - rows_per_score
    true_positives = positives_per_score[::-1].cumsum()[::-1] - positives_per_score
    f1 = 2 * true_positives / np.maximum(flagged + truth.sum(), 1)
    best = np.flatnonzero(f1 == f1.max())
    return float(distinct[best.max()])
