"""Threshold recommendation from labelled rows: for the objective people state, not a default.

``recommend`` sweeps every distinct score as a threshold (a row is flagged above
it) and picks, from the rows it is given:

* ``best_f1``: the highest F1;
* ``within_budget``: the highest recall that flags at most ``alert_budget`` of the
  rows (an on-call team's alert budget, 2% by default);
* ``min_precision``: the highest recall whose precision is at least
  ``min_precision`` (0.9 by default), when one exists;

each beside the baselines: ``default`` (the threshold the bundle decides with: 0.5
on a probability, the contamination cut on an anomaly score) and ``training_rate``
(flag the same share of rows as the labelled training data had anomalies). With
``report`` rows (a labelled ``--test``), every threshold is also evaluated there,
on rows it was not chosen on.

For multi-class labels ``recommend_class_weights`` tunes one weight per class
(labels become ``argmax weight x probability``) for macro-F1, a cost-aware rule per
class: scikit-learn's ``TunedThresholdClassifierCV`` handles two classes only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from anomaly_detector.bundle.model import ModelBundle
from anomaly_detector.errors import InputError
from anomaly_detector.training.evaluation import evaluate
from anomaly_detector.training.thresholds import sweep

ALERT_BUDGET = 0.02
MIN_PRECISION = 0.9
OBJECTIVES = ("best_f1", "within_budget", "min_precision")
BASELINES = ("default", "training_rate")
# The threshold table shows these alert rates (every distinct score is searched).
TABLE_ALERT_RATES = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3)
_WEIGHT_GRID = np.exp(np.linspace(np.log(0.25), np.log(4.0), 25))


def _pick(curve: dict[str, np.ndarray], allowed: np.ndarray, key: str) -> int | None:
    """Index of the highest ``key`` among ``allowed`` thresholds; ties: the highest threshold."""
    candidates = np.flatnonzero(allowed)
    if not len(candidates):
        return None
    values = curve[key][candidates]
    return int(candidates[np.flatnonzero(values == values.max()).max()])


def recommend(
    scores: np.ndarray,
    truth: np.ndarray,
    *,
    default_threshold: float,
    training_rate: float,
    alert_budget: float = ALERT_BUDGET,
    min_precision: float = MIN_PRECISION,
    report: tuple[np.ndarray, np.ndarray] | None = None,
    training_scores: np.ndarray | None = None,
) -> dict[str, Any]:
    """The threshold table and recommendations for anomaly ``scores`` of labelled rows.

    Args:
        scores, truth: the rows thresholds are chosen on (a validation split).
        default_threshold: the bundle's current threshold (a baseline).
        training_rate: share of anomalies in the labelled training rows (a baseline).
        report: (scores, truth) of other rows to evaluate every choice on.
        training_scores: the training rows' scores, to record each threshold's
            training alert rate (what the service's anomaly-ratio alert compares with).

    Returns:
        ``{"chosen_on", "objectives", "table", "recommendations", "baselines"}``;
        each recommendation and baseline holds its threshold and its metrics on the
        choosing rows (and on the report rows, under ``report``).
    """
    scores = np.asarray(scores, dtype=np.float64)
    truth = np.asarray(truth, dtype=bool)
    if truth.all() or not truth.any():
        raise InputError(
            "invalid_request", "threshold recommendation needs both anomalous and normal rows"
        )
    curve = sweep(scores, truth)
    picks = {
        "best_f1": _pick(curve, np.ones_like(curve["f1"], dtype=bool), "f1"),
        "within_budget": _pick(curve, curve["alert_rate"] <= alert_budget, "recall"),
        "min_precision": _pick(curve, curve["precision"] >= min_precision, "recall"),
    }
    rate_cut = float(np.quantile(scores, 1.0 - min(max(training_rate, 0.0), 1.0)))
    thresholds = {
        name: None if i is None else float(curve["threshold"][i]) for name, i in picks.items()
    }

    def entry(threshold: float | None) -> dict[str, Any] | None:
        if threshold is None:
            return None
        metrics = _metrics(scores, truth, threshold)
        if report is not None:
            metrics["report"] = _metrics(report[0], report[1], threshold)
        if training_scores is not None:
            metrics["training_alert_rate"] = float((np.asarray(training_scores) > threshold).mean())
        return metrics

    table_at = np.unique(np.quantile(scores, 1.0 - np.asarray(TABLE_ALERT_RATES)))[::-1]
    return {
        "chosen_on": {"rows": int(len(truth)), "anomalies": int(truth.sum())},
        "objectives": {"alert_budget": alert_budget, "min_precision": min_precision},
        "table": [_metrics(scores, truth, float(t)) for t in table_at],
        "recommendations": {name: entry(t) for name, t in thresholds.items()},
        "baselines": {
            "default": entry(float(default_threshold)),
            "training_rate": entry(rate_cut),
        },
    }


def _metrics(scores: np.ndarray, truth: np.ndarray, threshold: float) -> dict[str, Any]:
    full = evaluate(scores, truth, threshold)
    return {k: full[k] for k in ("threshold", "precision", "recall", "f1", "alert_rate")}


def recommend_class_weights(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Per-class weights maximizing macro-F1 of ``argmax weight x probability``.

    Coordinate ascent over a log grid (0.25 to 4), the normal class's weight fixed
    at 1, three passes. Returns the weights with macro-F1 of plain argmax and of
    the weighted rule on these rows.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n_classes = probabilities.shape[1]

    def macro_f1(weights: np.ndarray) -> float:
        predicted = np.argmax(probabilities * weights, axis=1)
        return float(
            f1_score(labels, predicted, average="macro", labels=range(n_classes), zero_division=0)
        )

    weights = np.ones(n_classes)
    best = plain = macro_f1(weights)
    for _ in range(3):
        for k in range(1, n_classes):
            for value in _WEIGHT_GRID:
                trial = weights.copy()
                trial[k] = value
                score = macro_f1(trial)
                if score > best + 1e-12:
                    best, weights = score, trial
    return {"class_weights": weights.tolist(), "macro_f1": best, "argmax_macro_f1": plain}


def apply_recommendation(bundle: ModelBundle, name: str) -> float:
    """Decide with the recommendation ``name`` recorded in the bundle's metadata.

    Sets the threshold (or, for ``class_weights``, the per-class weights) and makes
    the metadata say so; publish with ``save_bundle`` for the service to hot-swap.

    Raises:
        InputError: the bundle has no such recommendation.
    """
    thresholds = bundle.metadata.get("thresholds") or {}
    if name == "class_weights":
        rule = thresholds.get("class_weights")
        if not rule:
            raise InputError("invalid_request", "this model has no class-weight recommendation")
        bundle.set_class_weights(tuple(rule["class_weights"]))
        return float(rule["macro_f1"])
    choices = {**thresholds.get("recommendations", {}), **thresholds.get("baselines", {})}
    known = sorted(k for k, v in choices.items() if v)
    if name not in known:
        raise InputError(
            "invalid_request",
            f"no recommendation {name!r} in this model; it has: {', '.join(known) or 'none'} "
            "(train with labelled data to get recommendations)",
        )
    choice = choices[name]
    bundle.set_threshold(choice["threshold"])
    if "training_alert_rate" in choice:
        bundle.metadata["reference_scores"]["alert_rate"] = choice["training_alert_rate"]
    bundle.metadata.setdefault("thresholds", {})["applied"] = name
    return float(choice["threshold"])
