"""Training a model bundle from a data frame: the one training path for CLI and notebooks."""

from __future__ import annotations

import hashlib
import json
import logging
import platform
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from anomaly_detector.bundle import ModelBundle
from anomaly_detector.detectors import DETECTORS, build_detector
from anomaly_detector.evaluation import evaluate, resolve_labels
from anomaly_detector.preprocessing import ColumnProfile, build_preprocessor, profile_columns
from anomaly_detector.schema import InputError
from anomaly_detector.scoring import Scorer

log = logging.getLogger(__name__)

# Quantiles of training scores kept in the bundle as the drift reference.
REFERENCE_QUANTILES = (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999)


@dataclass
class TrainConfig:
    """What to train. ``None`` means the detector's default (see ``detectors.DETECTORS``)."""

    detector: str = "isolation_forest"
    n_estimators: int | None = None
    max_samples: int | float | str | None = None
    contamination: float | str | None = None
    max_features: float | None = None
    random_state: int | None = 42
    label_column: str | None = None
    anomaly_label: str | None = None
    features: Sequence[str] | None = None

    def detector_params(self) -> dict[str, Any]:
        params = {
            "n_estimators": self.n_estimators,
            "max_samples": self.max_samples,
            "contamination": self.contamination,
            "max_features": self.max_features,
            "random_state": self.random_state,
        }
        known = DETECTORS[self.detector].defaults
        return {k: v for k, v in params.items() if v is not None and k in known}


@dataclass
class TrainResult:
    """The bundle and what training decided on the way."""

    bundle: ModelBundle
    profile: ColumnProfile
    label_rule: str | None = None
    evaluation: dict[str, dict] = field(default_factory=dict)


def frame_sha256(frame: pd.DataFrame) -> str:
    """A content hash of a data frame (values and column names, not file bytes)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([str(c) for c in frame.columns]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def train(
    frame: pd.DataFrame,
    config: TrainConfig | None = None,
    test_frame: pd.DataFrame | None = None,
    source: str | None = None,
) -> TrainResult:
    """Fit preprocessing and detector on ``frame`` and describe the result.

    Args:
        frame: raw training data (any columns; see ``preprocessing.profile_columns``).
        config: detector parameters, label and feature choice.
        test_frame: optional labelled hold-out data (needs ``config.label_column``).
        source: where the data came from, recorded in the metadata.

    Returns:
        A ``TrainResult`` whose bundle is ready for ``save_bundle``.

    Raises:
        InputError: unusable data (no rows, no usable columns, bad label column).
    """
    config = config or TrainConfig()
    if config.detector not in DETECTORS:
        raise InputError("invalid_request", f"unknown detector {config.detector!r}")
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

    profile = profile_columns(frame, label_column=label_column, features=config.features)
    schema = profile.schema
    inputs = schema.coerce_frame(frame)
    pipeline = Pipeline(
        [
            ("preprocess", build_preprocessor(schema)),
            ("detector", build_detector(config.detector, **config.detector_params())),
        ]
    )
    # What Pipeline.fit does, step by step, so the detector's fit can hand back
    # the training scores (the drift reference) without a second scoring pass.
    model_inputs = pipeline[0].fit_transform(inputs)
    train_scores = DETECTORS[config.detector].fit(pipeline[-1], model_inputs)
    threshold = float(-pipeline[-1].offset_)

    created = datetime.now(timezone.utc)
    data_sha = frame_sha256(frame)
    params = pipeline[-1].get_params()
    identity = json.dumps([data_sha, params, created.isoformat()], default=str)
    metadata: dict[str, Any] = {
        "version": f"{created:%Y%m%dT%H%M%SZ}-{hashlib.sha256(identity.encode()).hexdigest()[:8]}",
        "created_at": created.isoformat(),
        "detector": config.detector,
        "features": schema.to_dict(),
        "dropped_columns": profile.dropped,
        "params": {k: _jsonable(v) for k, v in params.items()},
        "threshold": threshold,
        "training": {
            "rows": int(len(frame)),
            "data_sha256": data_sha,
            "source": source,
            "label_column": label_column,
        },
        "reference_scores": {
            "quantiles": {
                str(q): float(v)
                for q, v in zip(
                    REFERENCE_QUANTILES, np.quantile(train_scores, REFERENCE_QUANTILES), strict=True
                )
            },
            "mean": float(train_scores.mean()),
            "alert_rate": float((train_scores > threshold).mean()),
        },
        "library_versions": _library_versions(),
        "evaluation": {},
    }
    bundle = ModelBundle(pipeline, schema, config.detector, threshold, metadata)
    result = TrainResult(bundle, profile)

    if label_column is not None and label_column in frame.columns:
        result.label_rule, train_eval = _evaluate_frame(bundle, frame, label_column, config)
        metadata["evaluation"]["train"] = train_eval
        metadata["training"]["label_rule"] = result.label_rule
    if test_frame is not None:
        if label_column is None or label_column not in test_frame.columns:
            raise InputError(
                "invalid_request",
                "the test data needs its label column: pass --label-column",
            )
        test_rule, metadata["evaluation"]["test"] = _evaluate_frame(
            bundle, test_frame, label_column, config
        )
        result.label_rule = result.label_rule or test_rule
        metadata["training"]["label_rule"] = result.label_rule
    result.evaluation = metadata["evaluation"]
    return result


def _evaluate_frame(
    bundle: ModelBundle, frame: pd.DataFrame, label_column: str, config: TrainConfig
) -> tuple[str, dict]:
    labelled = frame[frame[label_column].notna()]
    is_anomaly, rule = resolve_labels(labelled[label_column], config.anomaly_label)
    scores = Scorer(bundle).score_frame(labelled).anomaly_score
    return rule, evaluate(scores, is_anomaly, bundle.threshold)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)


def _library_versions() -> dict[str, str]:
    import joblib
    import sklearn

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "joblib": joblib.__version__,
    }


def describe(result: TrainResult) -> str:
    """A human summary of a training run for the CLI and notebooks."""
    meta = result.bundle.metadata
    lines = [
        f"model version {meta['version']} ({meta['detector']}), "
        f"{meta['training']['rows']} training rows",
        "features: " + ", ".join(f"{f['name']} ({f['kind']})" for f in meta["features"]),
    ]
    for name, reason in result.profile.dropped.items():
        lines.append(f"dropped column {name!r}: {reason}")
    lines.append(f"threshold (anomaly score above it is an anomaly): {meta['threshold']:.4f}")
    if result.label_rule:
        lines.append(f"labels: {result.label_rule}")
    for split, metrics in result.evaluation.items():
        parts = [
            f"{key}={metrics[key]:.3f}"
            for key in ("roc_auc", "pr_auc", "precision", "recall", "f1", "alert_rate")
            if metrics.get(key) is not None
        ]
        lines.append(
            f"evaluation on {split} ({metrics['rows']} rows, "
            f"{metrics['anomalies']} anomalies): " + " ".join(parts)
        )
    return "\n".join(lines)


def training_summary(result: TrainResult) -> dict[str, Any]:
    """Machine-readable summary (the CLI's ``--json`` output)."""
    return {
        "version": result.bundle.version,
        "dropped_columns": result.profile.dropped,
        "features": [asdict(f) for f in result.bundle.schema.features],
        "label_rule": result.label_rule,
        "evaluation": result.evaluation,
    }


def read_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV for training or scoring with a clear error when it cannot be read.

    Raises:
        InputError: the file does not exist or is not parseable CSV.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("invalid_request", f"data file {path} does not exist")
    try:
        return pd.read_csv(path, low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError("invalid_request", f"cannot read {path} as CSV: {exc}") from exc
