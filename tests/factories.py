"""Small model bundles on disk for tests of the store, the API and the live server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from anomaly_detector.bundle import save_bundle
from anomaly_detector.datagen import ANOMALY_TYPE_COLUMN, LABEL_COLUMN, generate_traffic
from anomaly_detector.training import TrainConfig, train


def traffic(n_rows: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Unlabelled generated traffic, as in train.csv."""
    frame = generate_traffic(n_rows, 0.03, seed=seed)
    return frame.drop(columns=[LABEL_COLUMN, ANOMALY_TYPE_COLUMN])


def write_bundle(out_dir: Path, seed: int = 0, n_estimators: int = 25, frame=None, **config):
    """Train on generated traffic (or ``frame``) and save; returns (bundle, model path)."""
    frame = traffic(seed=seed) if frame is None else frame
    result = train(frame, TrainConfig(n_estimators=n_estimators, random_state=seed, **config))
    model_path, _ = save_bundle(result.bundle, out_dir)
    return result.bundle, model_path


def numeric_frame(n_rows: int = 500, n_features: int = 3, seed: int = 0) -> pd.DataFrame:
    """A frame with other feature names than the traffic data (a schema change)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        rng.normal(size=(n_rows, n_features)), columns=[f"x{i}" for i in range(n_features)]
    )
