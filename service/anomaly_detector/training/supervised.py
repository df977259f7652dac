"""Supervised training: labels in, a calibrated classifier bundle out, with honest figures.

The labelled rows are split once, stratified: ``validation_share`` (20%) is never
fitted on. The classifier (with its calibration, see
``detectors.gradient_boosting``) learns on the rest; the validation rows give the
metrics ``model.json`` reports (classification report, confusion matrix, ROC and PR
points, Brier score and expected calibration error) and choose the recommended
thresholds; a labelled ``--test`` file, when given, is evaluated on top, on rows
nothing was chosen on.

Classes: with two label values, the anomalous one is found as for evaluation
(``resolve_labels``: 1, true, attack, ... or ``--anomaly-label``); with more, the
most frequent value is the *normal* class (for an alert priority, the routine
one), which ``anomaly_score`` measures the distance from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    brier_score_loss,
    classification_report,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_curve,
    roc_curve,
)
from sklearn.model_selection import train_test_split

from anomaly_detector.bundle.model import Decision, ModelBundle
from anomaly_detector.detectors import registry
from anomaly_detector.errors import InputError
from anomaly_detector.scoring.scorer import Scorer
from anomaly_detector.training import recommendation
from anomaly_detector.training.evaluation import evaluate, label_text, resolve_labels
from anomaly_detector.training.examples import anomaly_example
from anomaly_detector.training.fitting import Prepared, bundle_metadata, prepare

DEFAULT_CLASSIFIER = "gradient_boosting"
VALIDATION_SHARE = 0.2
CALIBRATION_BINS = 10
CURVE_POINTS = 50


@dataclass
class Labels:
    """Class names (normal first) and each labelled row's class code."""

    classes: tuple[str, ...]
    codes: np.ndarray
    rule: str


def encode_labels(labels: pd.Series, anomaly_label: str | None) -> Labels:
    """Class codes for a label column (rows with a missing label removed first)."""
    text = label_text(labels)
    values = text.value_counts()
    if len(values) < 2:
        raise InputError(
            "invalid_request",
            f"the label column has a single value ({list(values.index)}); a classifier "
            "needs at least two",
        )
    if len(values) == 2:
        is_anomaly, rule = resolve_labels(labels, anomaly_label)
        anomalous = str(text[is_anomaly].iloc[0])
        normal = str(next(v for v in values.index if v != anomalous))
        return Labels((normal, anomalous), is_anomaly.astype(np.int64), rule)
    normal = str(values.index[0])
    others = sorted((str(v) for v in values.index[1:]), key=_ordinal_key)
    classes = (normal, *others)
    index = {name: i for i, name in enumerate(classes)}
    rule = f"{len(classes)} classes; the most frequent, {normal!r}, is the normal class"
    return Labels(classes, text.map(index).to_numpy(np.int64), rule)


# Label words with a natural order (priorities, severities): classes keep it.
ORDINAL_WORDS = ("none", "info", "informational", "low", "minor", "medium", "moderate",
                 "major", "high", "severe", "critical")  # fmt: skip


def _ordinal_key(value: str) -> tuple[int, str]:
    return (ORDINAL_WORDS.index(value) if value in ORDINAL_WORDS else len(ORDINAL_WORDS), value)


def codes_for(labels: pd.Series, classes: Sequence[str]) -> np.ndarray:
    """Codes of another split's labels in the training classes (unknown labels refused)."""
    text = label_text(labels)
    unknown = sorted(set(text) - set(classes))
    if unknown:
        raise InputError(
            "invalid_request",
            f"label value(s) {unknown} do not occur in the training labels {list(classes)}",
        )
    index = {name: i for i, name in enumerate(classes)}
    return text.map(index).to_numpy(np.int64)


def fit_supervised(
    frame: pd.DataFrame,
    *,
    label_column: str,
    anomaly_label: str | None,
    features: Sequence[str] | None,
    source: str | None,
    classifier: str = DEFAULT_CLASSIFIER,
    params: dict[str, Any] | None = None,
    test_frame: pd.DataFrame | None = None,
    validation_share: float = VALIDATION_SHARE,
    alert_budget: float = recommendation.ALERT_BUDGET,
    min_precision: float = recommendation.MIN_PRECISION,
) -> tuple[ModelBundle, Prepared, np.ndarray, str]:
    """A calibrated classifier bundle, its preparation, training scores and label rule."""
    labelled = frame[frame[label_column].notna()]
    if len(labelled) < 20:
        raise InputError(
            "invalid_request",
            f"supervised training needs labelled rows: {len(labelled)} rows have a "
            f"{label_column!r} value (at least 20 needed)",
        )
    labels = encode_labels(labelled[label_column], anomaly_label)
    counts = np.bincount(labels.codes, minlength=len(labels.classes))
    if counts.min() < 4:
        rare = [c for c, n in zip(labels.classes, counts, strict=True) if n < 4]
        raise InputError(
            "invalid_request", f"class(es) {rare} have fewer than 4 labelled rows; label more"
        )
    fit_rows, validation_rows = train_test_split(
        np.arange(len(labelled)), test_size=validation_share, stratify=labels.codes,
        random_state=42,
    )  # fmt: skip
    prepared = prepare(labelled.iloc[fit_rows], label_column, features, source)
    detector = registry.build_detector(classifier, **(params or {}))
    if detector.task != "supervised":
        raise InputError("invalid_request", f"{classifier} is not a supervised detector")
    try:
        training_scores = detector.fit(prepared.inputs, labels.codes[fit_rows])
    except ValueError as exc:
        raise InputError("invalid_request", f"{classifier}: {exc}") from exc
    decision = Decision(float(detector.default_threshold), None, labels.classes)
    metadata = bundle_metadata(prepared, detector, decision.threshold, None, training_scores)
    bundle = ModelBundle(
        prepared.preprocessor, detector, prepared.schema, decision, metadata, "supervised"
    )
    bundle.metadata["decision"] = decision.to_dict()
    bundle.metadata["training"]["label_rule"] = labels.rule
    bundle.metadata["training"]["validation_share"] = validation_share
    bundle.metadata["classes"] = list(labels.classes)
    _describe_splits(bundle, labelled, labels, fit_rows, validation_rows, label_column,
                     test_frame, training_scores, alert_budget, min_precision)  # fmt: skip
    if len(labels.classes) > 2:  # labels are the decision: a rule per class, not a threshold
        bundle.metadata["thresholds"] = {
            "chosen_on": {"split": "out-of-fold training rows", "rows": len(fit_rows)},
            "class_weights": recommendation.recommend_class_weights(
                detector.training_probabilities, labels.codes[fit_rows]
            ),
        }
    return bundle, prepared, training_scores, labels.rule


def _describe_splits(bundle, labelled, labels, fit_rows, validation_rows, label_column,
                     test_frame, training_scores, alert_budget, min_precision) -> None:  # fmt: skip
    """Metrics per split and the threshold recommendations, into the bundle's metadata.

    Thresholds are chosen on the out-of-fold scores of the fitted rows (each scored
    by a fold model that did not see it) together with the validation rows, and
    reported on the test rows when given.
    """
    scorer = Scorer(bundle)
    splits = {"validation": (labelled.iloc[validation_rows], labels.codes[validation_rows])}
    if test_frame is not None:
        test = test_frame[test_frame[label_column].notna()]
        splits["test"] = (test, codes_for(test[label_column], labels.classes))
    predictions = {}
    for split, (rows, codes) in splits.items():
        prediction = scorer.predict_frame(rows)
        predictions[split] = (prediction, codes)
        bundle.metadata["evaluation"][split] = classification_metrics(
            prediction.probabilities, codes, labels.classes, bundle.threshold
        )
    report_split = "test" if "test" in predictions else "validation"
    report_prediction, report_codes = predictions[report_split]
    example = anomaly_example(
        splits[report_split][0], bundle.schema, report_prediction.anomaly_score,
        report_codes > 0, ~report_prediction.is_inlier, report_split,
    )  # fmt: skip
    if example is not None:
        bundle.metadata["examples"] = {"anomaly": example}
    fit_codes = labels.codes[fit_rows]
    validation, validation_codes = predictions["validation"]
    # Choose on every labelled row none of its scorers saw: F1 curves are steps, and
    # the arg-max of a step curve is only as stable as the rows behind it.
    chosen_scores = np.concatenate([training_scores, validation.anomaly_score])
    chosen_truth = np.concatenate([fit_codes, validation_codes]) > 0
    thresholds = recommendation.recommend(
        chosen_scores, chosen_truth, default_threshold=bundle.threshold,
        training_rate=float(np.mean(fit_codes > 0)), alert_budget=alert_budget,
        min_precision=min_precision,
        report=(report_prediction.anomaly_score, report_codes > 0),
        training_scores=training_scores,
    )  # fmt: skip
    thresholds["chosen_on"]["split"] = "out-of-fold training rows and validation rows"
    thresholds["reported_on"] = report_split + (
        "" if report_split == "test" else " (which took part in choosing: pass --test)"
    )
    bundle.metadata["thresholds"] = thresholds


def classification_metrics(
    probabilities: np.ndarray, codes: np.ndarray, classes: Sequence[str], threshold: float
) -> dict[str, Any]:
    """What a classifier's figures on labelled rows are: report, confusion, calibration.

    Two classes: labels at ``threshold`` on the anomalous class's probability, plus
    the anomaly-score metrics of ``evaluate`` and ROC / PR points. More: the most
    probable class.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    n = len(classes)
    if n == 2:
        predicted = (probabilities[:, 1] > threshold).astype(np.int64)
    else:
        predicted = np.argmax(probabilities, axis=1)
    report = classification_report(
        codes, predicted, labels=range(n), target_names=list(classes), output_dict=True,
        zero_division=0,
    )  # fmt: skip
    confidence = probabilities[np.arange(len(predicted)), predicted]
    one_hot = np.eye(n)[codes]
    metrics: dict[str, Any] = {
        "rows": int(len(codes)),
        "class_counts": {c: int((codes == i).sum()) for i, c in enumerate(classes)},
        "accuracy": float(report["accuracy"]),
        "macro_f1": float(
            f1_score(codes, predicted, average="macro", labels=range(n), zero_division=0)
        ),  # fmt: skip
        "log_loss": float(log_loss(codes, probabilities, labels=range(n))),
        "brier": float(np.mean(np.sum((probabilities - one_hot) ** 2, axis=1))),
        "expected_calibration_error": expected_calibration_error(confidence, predicted == codes),
        "reliability": reliability_points(confidence, predicted == codes),
        "classification_report": report,
        "confusion_matrix": {
            "labels": list(classes),
            "matrix": confusion_matrix(codes, predicted, labels=range(n)).tolist(),
        },
    }
    if n == 2:
        truth = codes == 1
        metrics.update(evaluate(probabilities[:, 1], truth, threshold))
        metrics["brier"] = float(brier_score_loss(truth, probabilities[:, 1]))
        if 0 < truth.sum() < len(truth):
            metrics["roc_points"] = _points(*roc_curve(truth, probabilities[:, 1])[:2])
            precision, recall, _ = precision_recall_curve(truth, probabilities[:, 1])
            metrics["pr_points"] = _points(recall, precision)
    return metrics


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray) -> float:
    """Top-label ECE: mean |accuracy - confidence| over 10 equal-width bins, by rows."""
    points = reliability_points(confidence, correct)
    total = len(confidence)
    return float(sum(p["rows"] / total * abs(p["accuracy"] - p["confidence"]) for p in points))


def reliability_points(confidence: np.ndarray, correct: np.ndarray) -> list[dict[str, float]]:
    """Per confidence bin: mean confidence, accuracy and rows (the calibration plot)."""
    bins = np.minimum((np.asarray(confidence) * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
    return [
        {"confidence": float(confidence[bins == b].mean()),
         "accuracy": float(correct[bins == b].mean()), "rows": int((bins == b).sum())}
        for b in range(CALIBRATION_BINS) if (bins == b).any()
    ]  # fmt: skip


def _points(x: np.ndarray, y: np.ndarray) -> list[list[float]]:
    """At most ``CURVE_POINTS`` (x, y) points of a curve, ends kept."""
    keep = np.unique(np.linspace(0, len(x) - 1, min(len(x), CURVE_POINTS)).astype(int))
    return [[float(x[i]), float(y[i])] for i in keep]
