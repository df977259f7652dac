"""Training a model bundle from a data frame: the one training path for CLI and notebooks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from anomaly_detector.bundle.model import ModelBundle
from anomaly_detector.data.profiling import ColumnProfile
from anomaly_detector.detectors import registry
from anomaly_detector.errors import InputError
from anomaly_detector.scoring.scorer import Scorer
from anomaly_detector.training import recommendation, selection, supervised
from anomaly_detector.training.evaluation import evaluate, resolve_labels
from anomaly_detector.training.examples import anomaly_example
from anomaly_detector.training.fitting import fit_bundle, prepare
from anomaly_detector.training.thresholds import alert_rate_warning


@dataclass
class TrainConfig:
    """What to train.

    Attributes:
        task: ``unsupervised`` (rows alone; labels only evaluate) or ``supervised``
            (a classifier learns ``label_column``; see ``training.supervised``).
        detector: a registered detector name (``anomaly-detector detectors`` lists
            them), or ``auto`` (see ``selection``).
        params: the detector's hyperparameters; the rest keep their defaults.
        contamination: share of training rows to flag, which sets the threshold;
            None or ``"auto"``: the detector's natural boundary.
        label_column, anomaly_label: true labels, never a feature, used to evaluate.
        features: use exactly these columns instead of detecting them.
        alert_budget, min_precision: the objectives thresholds are recommended for.
    """

    task: str = "unsupervised"
    detector: str = registry.DEFAULT_DETECTOR
    params: dict[str, Any] = field(default_factory=dict)
    contamination: float | str | None = None
    label_column: str | None = None
    anomaly_label: str | None = None
    features: Sequence[str] | None = None
    alert_budget: float = recommendation.ALERT_BUDGET
    min_precision: float = recommendation.MIN_PRECISION


@dataclass
class TrainResult:
    """The bundle and what training decided on the way."""

    bundle: ModelBundle
    profile: ColumnProfile
    training_scores: np.ndarray
    label_rule: str | None = None
    evaluation: dict[str, dict] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def train(
    frame: pd.DataFrame,
    config: TrainConfig | None = None,
    test_frame: pd.DataFrame | None = None,
    source: str | None = None,
    progress: selection.Progress | None = None,
) -> TrainResult:
    """Fit preprocessing and detector on ``frame`` and describe the result.

    Args:
        frame: raw training data (any columns; see ``data.profiling.profile_columns``).
        config: detector, parameters, threshold, label and feature choice.
        test_frame: optional labelled hold-out data (needs ``config.label_column``).
        source: where the data came from, recorded in the metadata.
        progress: called with a line of text per step of long work (``auto``).

    Returns:
        A ``TrainResult`` whose bundle is ready for ``save_bundle``.

    Raises:
        InputError: unusable data or options (no rows, no usable columns, bad label
            column, unknown detector or parameter).
    """
    config = config or TrainConfig()
    if config.task == "supervised":
        return _train_supervised(frame, config, test_frame, source)
    _check(frame, config, test_frame)
    contamination = _contamination(config.contamination)
    prepared = prepare(frame, config.label_column, config.features, source)
    report_frame = test_frame
    if config.detector == selection.AUTO:
        holdout, truth = _labelled(test_frame, config)
        chosen = selection.select(prepared, contamination, holdout, truth, progress)
        bundle, training_scores = chosen.bundle, chosen.training_scores
        bundle.metadata["selection"] = chosen.record
        report_frame = chosen.report_rows
    else:
        bundle, training_scores = fit_bundle(
            prepared, config.detector, config.params, contamination
        )
    result = TrainResult(bundle, prepared.profile, training_scores)
    warning = alert_rate_warning(bundle.metadata["reference_scores"]["alert_rate"], contamination)
    if warning:
        result.warnings.append(warning)
    _evaluate(result, config, frame, report_frame)
    return result


def _train_supervised(
    frame: pd.DataFrame, config: TrainConfig, test_frame: pd.DataFrame | None, source: str | None
) -> TrainResult:
    if config.label_column is None or config.label_column not in frame.columns:
        raise InputError(
            "invalid_request",
            "--task supervised learns a label: pass --label-column with a column of the "
            f"training data (columns: {', '.join(map(str, frame.columns))})",
        )
    if test_frame is not None and config.label_column not in test_frame.columns:
        raise InputError(
            "invalid_request", f"the test data has no label column {config.label_column!r}"
        )
    detector = supervised.DEFAULT_CLASSIFIER
    if config.detector in registry.trainable("supervised"):
        detector = config.detector
    elif config.detector not in (registry.DEFAULT_DETECTOR, detector):
        raise InputError(
            "invalid_request",
            f"--task supervised trains one of: {', '.join(registry.trainable('supervised'))}; "
            f"{config.detector!r} is unsupervised",
        )
    bundle, prepared, training_scores, rule = supervised.fit_supervised(
        frame, label_column=config.label_column, anomaly_label=config.anomaly_label,
        features=config.features, source=source, classifier=detector, params=config.params,
        test_frame=test_frame, alert_budget=config.alert_budget,
        min_precision=config.min_precision,
    )  # fmt: skip
    result = TrainResult(bundle, prepared.profile, training_scores, rule)
    result.evaluation = bundle.metadata["evaluation"]
    return result


def _labelled(
    test_frame: pd.DataFrame | None, config: TrainConfig
) -> tuple[pd.DataFrame | None, np.ndarray | None]:
    """The hold-out rows that have a label, and whether each is anomalous."""
    if test_frame is None or config.label_column is None:
        return None, None
    labelled = test_frame[test_frame[config.label_column].notna()]
    is_anomaly, _ = resolve_labels(labelled[config.label_column], config.anomaly_label)
    return labelled, is_anomaly


def _check(frame: pd.DataFrame, config: TrainConfig, test_frame: pd.DataFrame | None) -> None:
    if config.detector != selection.AUTO and config.detector not in registry.trainable():
        raise InputError(
            "invalid_request",
            f"unknown or untrainable detector {config.detector!r}; "
            f"train one of: {', '.join(registry.trainable())}, or {selection.AUTO}",
        )
    if frame.empty:
        raise InputError("invalid_request", "the training data has no rows")
    label_column = config.label_column
    labelled_test = test_frame is not None and label_column in test_frame.columns
    if label_column is not None and label_column not in frame.columns and not labelled_test:
        raise InputError(
            "invalid_request",
            f"label column {label_column!r} is not in the data; columns are: "
            f"{', '.join(map(str, frame.columns))}",
        )
    if config.features and label_column in config.features:
        raise InputError(
            "invalid_request", f"the label column {label_column!r} cannot be a feature"
        )
    if test_frame is not None and (label_column is None or label_column not in test_frame):
        raise InputError(
            "invalid_request", "the test data needs its label column: pass --label-column"
        )


def _contamination(value: float | str | None) -> float | None:
    if value is None or value == "auto":
        return None
    try:
        fraction = float(value)
    except (TypeError, ValueError):
        fraction = -1.0
    if not 0 < fraction <= 0.5:
        raise InputError(
            "invalid_request",
            f"contamination must be 'auto' or a fraction in (0, 0.5], got {value!r}",
        )
    return fraction


def _evaluate(
    result: TrainResult, config: TrainConfig, frame: pd.DataFrame, test_frame: pd.DataFrame | None
) -> None:
    """Evaluate on the training rows (when labelled) and the test rows, at the threshold."""
    bundle, label_column = result.bundle, config.label_column
    splits = {"train": frame, "test": test_frame}
    for split, data in splits.items():
        if data is None or label_column is None or label_column not in data.columns:
            continue
        labelled = data[data[label_column].notna()]
        is_anomaly, rule = resolve_labels(labelled[label_column], config.anomaly_label)
        scores = Scorer(bundle).predict_frame(labelled).anomaly_score
        bundle.metadata["evaluation"][split] = evaluate(scores, is_anomaly, bundle.threshold)
        example = anomaly_example(labelled, bundle.schema, scores, is_anomaly,
                                  scores > bundle.threshold, split)  # fmt: skip
        if example is not None:  # the test split's, when there is one (it comes last)
            bundle.metadata["examples"] = {"anomaly": example}
        result.label_rule = result.label_rule or rule
        bundle.metadata["training"]["label_rule"] = result.label_rule
        if split == "test" and 0 < is_anomaly.sum() < len(is_anomaly):
            thresholds = recommendation.recommend(
                scores, is_anomaly, default_threshold=bundle.threshold,
                training_rate=float(np.mean(is_anomaly)), alert_budget=config.alert_budget,
                min_precision=config.min_precision, training_scores=result.training_scores,
            )  # fmt: skip
            thresholds["chosen_on"]["split"] = "test"
            bundle.metadata["thresholds"] = thresholds
    result.evaluation = bundle.metadata["evaluation"]
