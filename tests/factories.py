"""The one way tests make model bundles: small, trained on generated traffic, saved to disk."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from anomaly_detector.bundle.io import METADATA_FILENAME, save_bundle
from anomaly_detector.bundle.model import ModelBundle
from anomaly_detector.data.synthetic.traffic import (
    ANOMALY_TYPE_COLUMN,
    LABEL_COLUMN,
    generate_traffic,
)
from anomaly_detector.detectors import registry
from anomaly_detector.training.train import TrainConfig, TrainResult, train


class SavedBundle(NamedTuple):
    """A trained bundle and the model file it was saved to (unpacks as ``bundle, path``)."""

    bundle: ModelBundle
    model_path: Path

    @property
    def metadata_path(self) -> Path:
        return self.model_path.with_name(METADATA_FILENAME)


def traffic(n_rows: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Unlabelled generated traffic, as in train.csv."""
    frame = generate_traffic(n_rows, 0.03, seed=seed)
    return frame.drop(columns=[LABEL_COLUMN, ANOMALY_TYPE_COLUMN])


def train_small(
    frame: pd.DataFrame | None = None,
    seed: int = 0,
    n_estimators: int = 25,
    detector: str = "isolation_forest",
    params: dict[str, Any] | None = None,
    **config: Any,
) -> TrainResult:
    """Train on ``frame`` (default: generated traffic) with few trees, seeded by ``seed``.

    The forest by default: most tests are about serving, and it is the quickest to fit.

    ``n_estimators`` and the seed apply where the detector takes them; ``config``
    is passed to ``TrainConfig`` (contamination, label_column, features, ...).
    """
    frame = traffic(seed=seed) if frame is None else frame
    known = {param.name for param in registry.detector_class(detector).params}
    defaults = {"n_estimators": n_estimators, "random_state": seed}
    merged = {k: v for k, v in defaults.items() if k in known} | (params or {})
    return train(frame, TrainConfig(detector=detector, params=merged, **config))


def labelled_traffic(n_rows: int = 2000, seed: int = 0, contamination: float = 0.1):
    """Generated traffic with its labels (``is_anomaly``, ``anomaly_type``), as in test.csv."""
    return generate_traffic(n_rows, contamination, seed=seed)


def train_supervised_small(
    label_column: str = LABEL_COLUMN, seed: int = 0, max_iter: int = 30, **config: Any
) -> TrainResult:
    """A small gradient-boosted classifier on labelled traffic (binary by default;
    ``label_column=ANOMALY_TYPE_COLUMN`` for six classes)."""
    frame = labelled_traffic(seed=seed)
    other = ANOMALY_TYPE_COLUMN if label_column == LABEL_COLUMN else LABEL_COLUMN
    params = {"max_iter": max_iter, "random_state": seed}
    return train(
        frame.drop(columns=[other]),
        TrainConfig(task="supervised", label_column=label_column, params=params, **config),
    )


def write_bundle(out_dir: Path, *, format: str = "joblib", **options: Any) -> SavedBundle:
    """``train_small(**options)`` saved into ``out_dir``; ``label_column=`` with
    ``task="supervised"`` trains ``train_supervised_small`` instead."""
    if options.pop("task", None) == "supervised":
        bundle = train_supervised_small(**options).bundle
        model_path, _ = save_bundle(bundle, out_dir, format=format)
        return SavedBundle(bundle, model_path)
    bundle = train_small(**options).bundle
    model_path, _ = save_bundle(bundle, out_dir, format=format)
    return SavedBundle(bundle, model_path)


def numeric_frame(n_rows: int = 500, n_features: int = 3, seed: int = 0) -> pd.DataFrame:
    """A frame with other feature names than the traffic data (a schema change)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        rng.normal(size=(n_rows, n_features)), columns=[f"x{i}" for i in range(n_features)]
    )


@contextmanager
def service_clients() -> Iterator[Callable[[Any], Any]]:
    """``start(settings)``: a TestClient of the service app with its lifespan running (a
    registry of its own); every client started is closed when the block ends."""
    from fastapi.testclient import TestClient
    from prometheus_client import CollectorRegistry

    from anomaly_detector.serving.api.app import create_app

    with ExitStack() as stack:
        yield lambda settings: stack.enter_context(
            TestClient(create_app(settings, registry=CollectorRegistry()))
        )
