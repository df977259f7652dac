"""An anomalous row of the labelled evaluation data, kept in the bundle for people to try.

The web page fills its form with it ("fill with an anomaly from the test data"), so
a person sees at once what the model flags and why. The row is a *typical* caught
anomaly: of the labelled anomalies the model flags, the one with the median score
(the highest-scoring one would be the easiest, not the usual, case).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from anomaly_detector.data.feature_schema import FeatureSchema


def anomaly_example(
    rows: pd.DataFrame,
    schema: FeatureSchema,
    anomaly_scores: np.ndarray,
    is_anomaly: np.ndarray,
    flagged: np.ndarray,
    split: str,
) -> dict[str, Any] | None:
    """``{"split", "row", "anomaly_score", "flagged", "features": {name: value}}`` or None.

    Args:
        rows: the labelled rows that were scored (raw columns).
        anomaly_scores, is_anomaly, flagged: per row, its score, its true label and
            the model's decision (not inlier).
        split: where the rows come from (``test``, ``validation``, ``train``).

    Returns:
        None when no row is labelled anomalous. A flagged anomaly when the model
        catches any, else the anomaly it scores highest.
    """
    scores = np.asarray(anomaly_scores, dtype=np.float64)
    anomalous = np.flatnonzero(np.asarray(is_anomaly, dtype=bool))
    if not len(anomalous):
        return None
    caught = anomalous[np.asarray(flagged, dtype=bool)[anomalous]]
    if len(caught):
        ordered = caught[np.argsort(scores[caught], kind="stable")]
        position = int(ordered[len(ordered) // 2])
    else:
        position = int(anomalous[np.argmax(scores[anomalous])])
    values = schema.coerce_frame(rows.iloc[[position]]).iloc[0]
    return {
        "split": split,
        "row": position,
        "anomaly_score": float(scores[position]),
        "flagged": bool(len(caught)),
        "features": {name: _plain(values[name]) for name in schema.names},
    }


def _plain(value: Any) -> Any:
    """A JSON-ready cell: float or text, None for a missing value."""
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value
