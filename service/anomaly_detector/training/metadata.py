"""What a trained bundle says about itself in ``model.json`` and ``/model_information``."""

from __future__ import annotations

import hashlib
import json
import platform
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from anomaly_detector.data.profiling import ColumnProfile
from anomaly_detector.detectors.base import Detector, jsonable

# Quantiles of training scores kept in the bundle as the drift reference; the
# service exports each as anomaly_detector_model_reference_score{quantile}.
REFERENCE_QUANTILES = (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999)


def frame_sha256(frame: pd.DataFrame) -> str:
    """A content hash of a data frame (values and column names, not file bytes)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([str(c) for c in frame.columns]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def model_version(created: datetime, data_sha256: str, detector: Detector) -> str:
    """``<UTC time>-<8 hex>``: sortable, and different for other data or parameters."""
    identity = json.dumps([data_sha256, detector.describe(), created.isoformat()], default=str)
    return f"{created:%Y%m%dT%H%M%SZ}-{hashlib.sha256(identity.encode()).hexdigest()[:8]}"


def reference_scores(training_scores: np.ndarray, threshold: float) -> dict[str, Any]:
    """Quantiles and mean of the training scores, and the share above ``threshold``."""
    scores = np.asarray(training_scores, dtype=np.float64)
    values = np.quantile(scores, REFERENCE_QUANTILES)
    return {
        "quantiles": {str(q): float(v) for q, v in zip(REFERENCE_QUANTILES, values, strict=True)},
        "mean": float(scores.mean()),
        "alert_rate": float((scores > threshold).mean()),
    }


def library_versions() -> dict[str, str]:
    """Versions of what a bundle's pickled objects come from."""
    import joblib
    import sklearn

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "joblib": joblib.__version__,
    }


def training_metadata(
    *,
    created: datetime,
    frame: pd.DataFrame,
    profile: ColumnProfile,
    detector: Detector,
    threshold: float,
    contamination: float | None,
    training_scores: np.ndarray,
    source: str | None,
    label_column: str | None,
) -> dict[str, Any]:
    """The metadata of a freshly trained bundle (evaluation is filled in afterwards)."""
    data_sha = frame_sha256(frame)
    described = detector.describe()
    return {
        "version": model_version(created, data_sha, detector),
        "created_at": created.isoformat(),
        "task": detector.task,
        "detector": detector.name,
        "features": profile.schema.to_dict(),
        "dropped_columns": profile.dropped,
        "params": described["params"],
        "score": {
            "range": described["score_range"],
            "meaning": described["score_meaning"],
            "raw_meaning": described["raw_score_meaning"],
        },
        "threshold": threshold,
        "decision": {"threshold": threshold, "contamination": jsonable(contamination)},
        "training": {
            "rows": int(len(frame)),
            "data_sha256": data_sha,
            "source": source,
            "label_column": label_column,
        },
        "reference_scores": reference_scores(training_scores, threshold),
        "library_versions": library_versions(),
        "evaluation": {},
    }
