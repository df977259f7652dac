"""Proving a bundle before it serves: canary rows through every path, which also warms them.

``validate`` builds the ``Scorer`` and scores rows that exercise every feature
(typical, zero, huge, missing and unseen values) three ways: one row at a time
(the ``POST /prediction`` kernels), as a batch large enough for the block kernel,
and through the fitting libraries alone. The compiled paths must agree with the
libraries, every score must be finite and inside the detector's declared range,
and the threshold finite. Scoring each path once also compiles (or loads from
numba's cache) every kernel, so the first request after a load is as fast as
the rest.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from anomaly_detector.bundle.model import ModelBundle
from anomaly_detector.data.feature_schema import FeatureSchema
from anomaly_detector.errors import BundleError
from anomaly_detector.scoring.scorer import Scorer

# Largest acceptable |compiled - library| on the canary rows: far above float
# noise (1e-16), far below any real disagreement between the two paths.
CANARY_TOLERANCE = 1e-9
# The batch kernels process blocks of 16 rows; more than one block reaches them.
_BATCH_ROWS = 40


def canary_rows(schema: FeatureSchema) -> list[list[Any]]:
    """Rows exercising every feature: typical, zero, large, missing and unseen values."""
    rows: list[list[Any]] = []
    fills: tuple[Any, ...] = ("first", 0.0, 1e6, None, "unseen")
    if not schema.accepts_missing:
        fills = tuple(fill for fill in fills if fill is not None)
    for fill in fills:
        row: list[Any] = []
        for feature in schema.features:
            if feature.is_categorical:
                if fill == "first" and feature.categories:
                    row.append(feature.categories[0])
                elif fill is None:
                    row.append(None)
                else:
                    row.append("\x00canary-unseen")
            else:
                row.append(None if fill is None else (1.0 if fill in ("first", "unseen") else fill))
        rows.append(row)
    return rows


def validate(bundle: ModelBundle) -> Scorer:
    """The bundle's scorer, proven and warmed on canary rows.

    Raises:
        BundleError: the bundle cannot score, disagrees with its libraries, scores
            outside its detector's range, or has a non-finite threshold.
    """
    rows = canary_rows(bundle.schema)
    try:
        scorer = Scorer(bundle)
        one_by_one = np.array([scorer.predict_one(row).anomaly_score for row in rows])
        predicted = scorer.predict_rows(rows * (-(-_BATCH_ROWS // len(rows))))
        reference_raw = bundle.reference_raw_scores(bundle.schema.frame_from_rows(rows))
        reference = bundle.to_anomaly_scores(reference_raw)
    except Exception as exc:  # a bundle can fail in any library it touches
        raise BundleError(f"bundle cannot score: {type(exc).__name__}: {exc}") from exc
    batch, batch_raw = predicted.anomaly_score[: len(rows)], predicted.raw_score[: len(rows)]
    if not (np.all(np.isfinite(batch)) and np.all(np.isfinite(one_by_one))):
        raise BundleError("bundle scores canary rows to non-finite values")
    low, high = bundle.detector.score_range
    if not np.all((batch >= low) & (batch <= high)):
        raise BundleError(
            f"{bundle.detector_name} scores canary rows outside its range [{low}, {high}]"
        )
    if (
        np.max(np.abs(batch_raw - reference_raw))
        > CANARY_TOLERANCE * max(1.0, float(np.max(np.abs(reference_raw))))
        or np.max(np.abs(batch - reference)) > CANARY_TOLERANCE
    ):
        raise BundleError("compiled scorer disagrees with the fitting libraries on canary rows")
    if np.max(np.abs(one_by_one - batch)) > CANARY_TOLERANCE:
        raise BundleError("one-row scorer disagrees with the batch scorer on canary rows")
    if not np.isfinite(bundle.threshold):
        raise BundleError("bundle threshold is not finite")
    return scorer
