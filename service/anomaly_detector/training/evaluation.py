"""Labels and evaluation metrics for anomaly scores."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_fscore_support, roc_auc_score

from anomaly_detector.errors import InputError

# Label values that plainly mean "anomalous", compared case-insensitively as text.
ANOMALY_WORDS = ("1", "true", "yes", "anomaly", "anomalous", "outlier", "attack", "fraud",
                 "malicious", "abnormal")  # fmt: skip
# Values that plainly mean "normal" in a multi-class label such as anomaly_type.
NORMAL_WORDS = ("0", "false", "no", "none", "normal", "benign", "inlier", "ok", "clean")


def label_text(labels: pd.Series) -> pd.Series:
    """Label values as trimmed lower-case text (1.0 and 1 both read "1")."""

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
    text = label_text(labels)
    values = sorted(text.unique())
    if len(values) < 2:
        raise InputError(
            "invalid_request", f"label column has a single value ({values}); cannot evaluate"
        )
    if anomaly_label is not None:
        wanted = label_text(pd.Series([anomaly_label]))[0]
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
