"""Training a model bundle from a data frame: the one training path for CLI and notebooks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from anomaly_detector.bundle.model import Decision, ModelBundle
from anomaly_detector.data.feature_schema import FeatureSchema
from anomaly_detector.data.profiling import ColumnProfile, profile_columns
from anomaly_detector.detectors import registry
from anomaly_detector.errors import InputError
from anomaly_detector.preprocessing.pipeline import build_preprocessor
from anomaly_detector.scoring.scorer import Scorer
from anomaly_detector.training.evaluation import evaluate, resolve_labels
from anomaly_detector.training.metadata import training_metadata
from anomaly_detector.training.thresholds import alert_rate_warning, contamination_threshold


@dataclass
class TrainConfig:
    """What to train.

    Attributes:
        detector: a registered detector name (``anomaly-detector detectors`` lists them).
        params: the detector's hyperparameters; the rest keep their defaults.
        contamination: share of training rows to flag, which sets the threshold;
            None or ``"auto"``: the detector's natural boundary.
        label_column, anomaly_label: true labels, never a feature, used to evaluate.
        features: use exactly these columns instead of detecting them.
    """

    detector: str = registry.DEFAULT_DETECTOR
    params: dict[str, Any] = field(default_factory=dict)
    contamination: float | str | None = None
    label_column: str | None = None
    anomaly_label: str | None = None
    features: Sequence[str] | None = None


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
) -> TrainResult:
    """Fit preprocessing and detector on ``frame`` and describe the result.

    Args:
        frame: raw training data (any columns; see ``data.profiling.profile_columns``).
        config: detector, parameters, threshold, label and feature choice.
        test_frame: optional labelled hold-out data (needs ``config.label_column``).
        source: where the data came from, recorded in the metadata.

    Returns:
        A ``TrainResult`` whose bundle is ready for ``save_bundle``.

    Raises:
        InputError: unusable data or options (no rows, no usable columns, bad label
            column, unknown detector or parameter).
    """
    config = config or TrainConfig()
    _check(frame, config, test_frame)
    detector = registry.build_detector(config.detector, **config.params)
    contamination = _contamination(config.contamination)
    label_column = config.label_column
    profile = profile_columns(frame, label_column=label_column, features=config.features)
    schema = FeatureSchema(
        profile.schema.features,
        frozenset([*profile.dropped, *([label_column] if label_column else [])]),
    )
    preprocessor = build_preprocessor(schema)
    model_inputs = preprocessor.fit_transform(schema.coerce_frame(frame))
    try:
        training_scores = np.asarray(detector.fit(model_inputs), dtype=np.float64)
    except ValueError as exc:  # invalid parameter values, from the fitting library
        raise InputError("invalid_request", f"{detector.name}: {exc}") from exc
    if contamination is not None:
        threshold = contamination_threshold(training_scores, contamination)
    elif detector.default_threshold is not None:
        threshold = float(detector.default_threshold)
    else:
        raise InputError(
            "invalid_request",
            f"{detector.name} has no natural threshold: pass a contamination (e.g. 0.03)",
        )
    metadata = training_metadata(
        created=datetime.now(timezone.utc),
        frame=frame,
        profile=profile,
        detector=detector,
        threshold=threshold,
        contamination=contamination,
        training_scores=training_scores,
        source=source,
        label_column=label_column,
    )
    bundle = ModelBundle(
        preprocessor, detector, schema, Decision(threshold, contamination), metadata, detector.task
    )
    result = TrainResult(bundle, profile, training_scores)
    warning = alert_rate_warning(metadata["reference_scores"]["alert_rate"], contamination)
    if warning:
        result.warnings.append(warning)
    _evaluate(result, config, frame, test_frame)
    return result


def _check(frame: pd.DataFrame, config: TrainConfig, test_frame: pd.DataFrame | None) -> None:
    if config.detector not in registry.trainable():
        raise InputError(
            "invalid_request",
            f"unknown or untrainable detector {config.detector!r}; "
            f"train one of: {', '.join(registry.trainable())}",
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
        result.label_rule = result.label_rule or rule
        bundle.metadata["training"]["label_rule"] = result.label_rule
    result.evaluation = bundle.metadata["evaluation"]
