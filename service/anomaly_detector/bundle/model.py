"""What a model is in memory: preprocessing, a fitted detector, its schema and its decision."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from anomaly_detector.data.feature_schema import FeatureSchema
from anomaly_detector.detectors.base import Detector, Task
from anomaly_detector.detectors.scale import PercentileScale
from anomaly_detector.errors import InputError


@dataclass
class Decision:
    """How an anomaly score becomes a decision: a row is anomalous above ``threshold``.

    ``contamination`` records what placed the threshold (the share of training rows
    above it), or None when it came from elsewhere (the detector's natural boundary,
    a labelled hold-out, a person).

    Supervised bundles also name their ``classes`` (the normal class first, as the
    classifier's probabilities are ordered). With two classes a row is of the
    second (anomalous) class above ``threshold``; with more, the label is the class
    with the highest ``weight x probability`` (``class_weights``, all 1 by default:
    the most probable class), and a row is an inlier when that is the normal class.
    """

    threshold: float
    contamination: float | None = None
    classes: tuple[str, ...] | None = None
    class_weights: tuple[float, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "threshold": float(self.threshold),
            "contamination": self.contamination,
        }
        if self.classes is not None:
            data["classes"] = list(self.classes)
            weights = self.class_weights or (1.0,) * len(self.classes)
            data["class_weights"] = [float(w) for w in weights]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        contamination = data.get("contamination")
        classes = data.get("classes")
        weights = data.get("class_weights")
        return cls(
            float(data["threshold"]),
            None if contamination is None else float(contamination),
            None if classes is None else tuple(str(c) for c in classes),
            None if weights is None else tuple(float(w) for w in weights),
        )


@dataclass
class ModelBundle:
    """A fitted model with everything needed to serve and audit it.

    Attributes:
        preprocessor: fitted transformer from ``schema.coerce_frame`` output to the
            detector's inputs.
        detector: the fitted detector (see ``detectors.base``).
        schema: the raw features clients send, in order.
        decision: the threshold (and what set it).
        metadata: what ``model.json`` shows: version, training facts, evaluation.
        task: the detector's task.
        scale: raw score -> anomaly score, fitted on the training rows (None: the
            detector is calibrated and its raw score is the anomaly score).
    """

    preprocessor: Any
    detector: Detector
    schema: FeatureSchema
    decision: Decision
    metadata: dict[str, Any] = field(default_factory=dict)
    task: Task = "unsupervised"
    scale: PercentileScale | None = None

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "unknown"))

    @property
    def threshold(self) -> float:
        return self.decision.threshold

    @property
    def detector_name(self) -> str:
        return self.detector.name

    @property
    def classes(self) -> tuple[str, ...] | None:
        """Class names of a supervised bundle (normal first), else None."""
        return self.decision.classes

    def set_threshold(self, threshold: float, contamination: float | None = None) -> None:
        """Decide with ``threshold`` from now on (the metadata says so too).

        Raises:
            InputError: not a finite number, or outside the 0-1 anomaly-score scale
                (an adopted scikit-learn dump keeps its estimator's own scale).
        """
        threshold = float(threshold)
        if not math.isfinite(threshold) or (
            "adopted_from" not in self.metadata and not 0 <= threshold <= 1
        ):
            raise InputError(
                "invalid_threshold",
                f"a threshold is an anomaly score from 0 to 1; got {threshold!r}",
            )
        self.decision = Decision(
            threshold, contamination, self.decision.classes, self.decision.class_weights
        )
        self.metadata["threshold"] = self.decision.threshold
        self.metadata["decision"] = self.decision.to_dict()

    def set_class_weights(self, weights: tuple[float, ...] | None) -> None:
        """Label multi-class rows by ``weight x probability`` from now on (None: all 1)."""
        if weights is not None and (self.classes is None or len(weights) != len(self.classes)):
            raise ValueError("class weights need one weight per class of a supervised bundle")
        self.decision = Decision(
            self.decision.threshold,
            self.decision.contamination,
            self.decision.classes,
            None if weights is None else tuple(float(w) for w in weights),
        )
        self.metadata["decision"] = self.decision.to_dict()

    def model_inputs(self, frame: pd.DataFrame) -> Any:
        """The detector's inputs for raw rows, through the fitted library transformer.

        An array, or a frame when an adopted estimator was fitted on one (it checks names).
        """
        return self.preprocessor.transform(self.schema.coerce_frame(frame))

    def reference_raw_scores(self, frame: pd.DataFrame) -> np.ndarray:
        """Raw scores through the fitting libraries alone: what the compiled path must equal."""
        return np.asarray(self.detector.score(self.model_inputs(frame)), dtype=np.float64)

    def reference_scores(self, frame: pd.DataFrame) -> np.ndarray:
        """Anomaly scores through the fitting libraries (and the scale, if any)."""
        return self.to_anomaly_scores(self.reference_raw_scores(frame))

    def to_anomaly_scores(self, raw_scores: np.ndarray) -> np.ndarray:
        """Raw scores on the anomaly-score scale people and thresholds use."""
        raw_scores = np.asarray(raw_scores, dtype=np.float64)
        return raw_scores if self.scale is None else self.scale.apply(raw_scores)
