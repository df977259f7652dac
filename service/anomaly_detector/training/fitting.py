"""Fitting one bundle: preprocessing once, then any number of detectors on its output.

``train`` fits one detector; ``selection`` (``--detector auto``) fits many on the
same preprocessed inputs, so the preprocessing is learned once per training run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer

from anomaly_detector.bundle.model import Decision, ModelBundle
from anomaly_detector.data.feature_schema import FeatureSchema
from anomaly_detector.data.profiling import ColumnProfile, profile_columns
from anomaly_detector.detectors import registry
from anomaly_detector.detectors.base import Detector
from anomaly_detector.detectors.scale import PercentileScale
from anomaly_detector.errors import InputError
from anomaly_detector.preprocessing.pipeline import build_preprocessor
from anomaly_detector.training.metadata import training_metadata
from anomaly_detector.training.thresholds import contamination_threshold


@dataclass
class Prepared:
    """Training data made ready for detectors: the learned preprocessing and its output."""

    frame: pd.DataFrame
    profile: ColumnProfile
    schema: FeatureSchema
    preprocessor: ColumnTransformer
    inputs: np.ndarray
    label_column: str | None
    source: str | None


def prepare(
    frame: pd.DataFrame,
    label_column: str | None,
    features: Sequence[str] | None,
    source: str | None,
) -> Prepared:
    """Profile the columns, learn the preprocessing and transform the training rows."""
    profile = profile_columns(frame, label_column=label_column, features=features)
    schema = FeatureSchema(
        profile.schema.features,
        frozenset([*profile.dropped, *([label_column] if label_column else [])]),
    )
    preprocessor = build_preprocessor(schema)
    inputs = preprocessor.fit_transform(schema.coerce_frame(frame))
    return Prepared(frame, profile, schema, preprocessor, inputs, label_column, source)


def bundle_metadata(
    prepared: Prepared,
    detector: Detector,
    threshold: float,
    contamination: float | None,
    training_scores: np.ndarray,
) -> dict[str, Any]:
    """``model.json``'s content for a detector fitted on ``prepared`` (evaluation comes later)."""
    metadata = training_metadata(
        created=datetime.now(timezone.utc),
        frame=prepared.frame,
        profile=prepared.profile,
        detector=detector,
        threshold=threshold,
        contamination=contamination,
        training_scores=training_scores,
        source=prepared.source,
        label_column=prepared.label_column,
    )
    metadata["feature_stats"] = feature_stats(prepared.schema, prepared.frame)
    return metadata


def feature_stats(schema: FeatureSchema, frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per feature, what training saw: quantiles of numbers, frequent categories.

    Explanations compare a row with these ("auth_failures = 57, training median 1")
    and start from the typical row they describe (medians, most frequent category).
    """
    coerced = schema.coerce_frame(frame)
    stats: dict[str, dict[str, Any]] = {}
    for feature in schema.features:
        column = coerced[feature.name]
        if feature.is_categorical:
            counts = column.dropna().astype(str).value_counts()
            stats[feature.name] = {
                "mode": None if counts.empty else str(counts.index[0]),
                "top": {str(k): int(v) for k, v in counts.head(10).items()},
                "missing": float(column.isna().mean()),
            }
            continue
        values = pd.to_numeric(column, errors="coerce").astype(float)
        finite = values[np.isfinite(values)]
        if finite.empty:
            stats[feature.name] = {"median": None, "missing": 1.0}
            continue
        q = finite.quantile([0.01, 0.25, 0.5, 0.75, 0.99])
        stats[feature.name] = {
            "min": float(finite.min()), "q01": float(q[0.01]), "q25": float(q[0.25]),
            "median": float(q[0.5]), "q75": float(q[0.75]), "q99": float(q[0.99]),
            "max": float(finite.max()), "missing": float(values.isna().mean()),
        }  # fmt: skip
    return stats


def fit_bundle(
    prepared: Prepared,
    detector_name: str,
    params: Mapping[str, Any],
    contamination: float | None,
) -> tuple[ModelBundle, np.ndarray]:
    """Fit one detector on prepared inputs; the bundle and its training rows' anomaly scores.

    Raises:
        InputError: unknown parameters or values the fitting library refuses, or a
            detector without a natural threshold and no contamination.
    """
    try:
        detector = registry.build_detector(detector_name, **dict(params))
        raw_scores = np.asarray(detector.fit(prepared.inputs), dtype=np.float64)
    except ValueError as exc:  # invalid parameter values, from us or the fitting library
        raise InputError("invalid_request", f"{detector_name}: {exc}") from exc
    # Every detector's anomaly score is on one scale (detectors.scale), unless its raw
    # score already is the score people read (the Isolation Forest's paper score).
    scale = None if detector.calibrated else PercentileScale.fit(raw_scores)
    training_scores = raw_scores if scale is None else scale.apply(raw_scores)
    if contamination is not None:
        threshold = contamination_threshold(training_scores, contamination)
    elif detector.default_threshold is not None:
        threshold = float(detector.default_threshold)
    else:
        raise InputError(
            "invalid_request",
            f"{detector.name} has no natural threshold: pass a contamination (e.g. 0.03)",
        )
    metadata = bundle_metadata(prepared, detector, threshold, contamination, training_scores)
    bundle = ModelBundle(
        prepared.preprocessor,
        detector,
        prepared.schema,
        Decision(threshold, contamination),
        metadata,
        detector.task,
        scale,
    )
    return bundle, training_scores
