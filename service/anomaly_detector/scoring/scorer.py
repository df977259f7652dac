"""``Scorer``: a bundle's scores for raw rows, on the compiled path when there is one.

``Scorer(bundle)`` compiles what it can at load time: the fitted preprocessing
becomes index arrays (``preprocessing.compiled``) and the detector its own hot-path
form (``Detector.compile``). What does not compile (a custom transformer, a
detector without a compiled form) goes through the fitting libraries instead,
with the same scores and interface, only slower. Every caller gets ``Prediction``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from anomaly_detector.bundle.model import ModelBundle
from anomaly_detector.detectors.base import CompiledDetector
from anomaly_detector.errors import InputError
from anomaly_detector.preprocessing.compiled import (
    CompiledPreprocessing,
    NotCompilable,
    compile_preprocessor,
)
from anomaly_detector.scoring.explanation import (
    Explanation,
    baseline_shapley,
    describe_features,
    sentence,
    typical_row,
)
from anomaly_detector.scoring.prediction import Prediction

log = logging.getLogger(__name__)


class Scorer:
    """Scores raw rows or frames with a bundle.

    Args:
        bundle: the model bundle.
        compiled: compile what can be compiled (default); ``False`` forces the
            library path, the reference the compiled one is held to.
    """

    def __init__(self, bundle: ModelBundle, compiled: bool = True) -> None:
        self.bundle = bundle
        self.schema = bundle.schema
        self.threshold = float(bundle.threshold)
        self.scale = bundle.scale
        self.preprocessing: CompiledPreprocessing | None = None
        self.backend: CompiledDetector | None = None
        self.fallback_reason: str | None = None if compiled else "disabled"
        if compiled:
            reasons = []
            try:
                self.preprocessing = compile_preprocessor(bundle.preprocessor, self.schema)
            except NotCompilable as exc:
                reasons.append(str(exc))
            self.backend = bundle.detector.compile()
            if self.backend is None:
                reasons.append(f"detector {bundle.detector_name} has no compiled scorer")
            if reasons:
                self.fallback_reason = "; ".join(reasons)
                log.warning("scoring partly through the libraries: %s", self.fallback_reason)
        self._fast = self.preprocessing is not None and self.backend is not None
        self.classes = bundle.classes
        self._explainer: Any = None  # built by the first explain()
        self._baseline: np.ndarray | None = None
        if self.classes is not None:
            weights = bundle.decision.class_weights or (1.0,) * len(self.classes)
            self._class_weights = np.asarray(weights, dtype=np.float64)
            self._class_names = np.asarray(self.classes, dtype=object)

    @property
    def fast_path(self) -> bool:
        """True when preprocessing and detector both run compiled."""
        return self._fast

    def predict_one(self, row: Sequence[Any]) -> Prediction:
        """The prediction for one row checked by ``FeatureSchema.row_from_*`` (scalar fields).

        The ``POST /prediction`` path: one jitted call prepares the inputs and one
        scores them, instead of a dozen small numpy calls.
        """
        if self.classes is not None:
            if not self._fast:
                return self._classify(self._probabilities_of_rows([row])).row(0)
            probabilities = self.backend.probabilities_row(self.preprocessing.transform_row(row))
            return self._classify_one(probabilities)
        if self._fast:
            raw = self.backend.score_row(self.preprocessing.transform_row(row))
        else:
            raw = float(self._scores(self._inputs_of_rows([row]))[0])
        score = raw if self.scale is None else self.scale.apply_one(raw)
        return Prediction(score, score <= self.threshold, raw)

    def predict_rows(self, rows: Sequence[Sequence[Any]]) -> Prediction:
        """Predictions for rows checked by ``FeatureSchema.row_from_vector/_mapping``."""
        if self.classes is not None:
            return self._classify(self._probabilities_of_rows(rows))
        return self._finish(self._scores(self._inputs_of_rows(rows)))

    def model_inputs_of_rows(self, rows: Sequence[Sequence[Any]]) -> np.ndarray:
        """The detector's float64 inputs for checked rows (what explanations work on)."""
        return np.asarray(self._inputs_of_rows(rows), dtype=np.float64)

    def raw_scores_of_inputs(self, model_inputs: np.ndarray) -> np.ndarray:
        """Raw detector scores of preprocessed inputs (compiled when possible)."""
        return self._scores(model_inputs)

    def predict_frame(self, frame: pd.DataFrame) -> Prediction:
        """Predictions for a frame holding (at least) the schema's columns, e.g. a CSV chunk.

        Raises:
            InputError: a schema column is absent, or (``missing_value``) a cell is empty
                or unparseable for a model that has no imputation.
        """
        inputs = self.schema.coerce_frame(frame)
        if not self.schema.accepts_missing:
            _refuse_missing(inputs)
        if self.preprocessing is None:
            model_inputs = self.bundle.preprocessor.transform(inputs)
        else:
            raw = self.preprocessing.encode_frame(inputs, self.schema)
            model_inputs = self.preprocessing.transform(raw)
        if self.classes is not None:
            return self._classify(self._probabilities(model_inputs))
        return self._finish(self._scores(model_inputs))

    def _inputs_of_rows(self, rows: Sequence[Sequence[Any]]) -> np.ndarray:
        if self.preprocessing is None:
            return self.bundle.preprocessor.transform(self.schema.frame_from_rows(rows))
        raw = np.array([self.preprocessing.encode_row(row) for row in rows], dtype=np.float64)
        if raw.ndim != 2:
            raw = raw.reshape(len(rows), len(self.schema))
        return self.preprocessing.transform(raw)

    def _scores(self, model_inputs) -> np.ndarray:
        if self.backend is not None:
            return self.backend.score_batch(np.asarray(model_inputs, dtype=np.float64))
        return self.bundle.detector.score(model_inputs)

    def explain(self, row: Sequence[Any], prediction: Prediction | None = None) -> Explanation:
        """Why one checked row scores as it does (``scoring.explanation``).

        Built on first use: a request without ``explain`` pays nothing for it.

        Raises:
            InputError: the model cannot be explained (no training statistics for a
                detector without an exact explainer; a custom preprocessing step).
        """
        prediction = prediction or self.predict_one(row)
        if self.preprocessing is None:
            raise InputError(
                "invalid_request",
                "this model's preprocessing is not the standard one; explanations need it",
            )
        inputs = self.model_inputs_of_rows([row])[0]
        if self._explainer is None:
            self._explainer = self.bundle.detector.explainer() or False
        output = 0
        if self.classes is not None and len(self.classes) > 2:
            output = self.classes.index(prediction.label)
        if self._explainer:
            base, phi, value = self._explainer.explain_row(inputs, output)
            meaning = self._explainer.output_meaning(output)
        else:
            if self._baseline is None:
                typical = typical_row(self.schema, self.bundle.metadata.get("feature_stats"))
                self._baseline = self.model_inputs_of_rows([typical])[0]
            phi = baseline_shapley(self._scores, inputs, self._baseline)
            value = float(self._scores(inputs[None, :])[0])
            base = float(self._scores(self._baseline[None, :])[0])
            meaning = f"the raw score ({self.bundle.detector.raw_score_meaning})"
        per_feature = np.zeros(len(self.schema))
        per_feature[self.preprocessing.output_order] = phi
        names = self.schema.names
        stats = self.bundle.metadata.get("feature_stats") or {}
        features = describe_features(names, list(row), per_feature, stats)
        if self.classes is not None and len(self.classes) > 2:
            lead = f"labelled {prediction.label!r} mainly because"
        elif prediction.is_inlier:
            lead = "not flagged; what raises its score most is"
        else:
            lead = "flagged mainly because"
        return Explanation(
            output=meaning,
            value=value,
            base_value=base,
            contributions={n: float(c) for n, c in zip(names, per_feature, strict=True)},
            features=features,
            sentence=sentence(lead, features),
        )

    def _probabilities_of_rows(self, rows: Sequence[Sequence[Any]]) -> np.ndarray:
        return self._probabilities(self._inputs_of_rows(rows))

    def _probabilities(self, model_inputs) -> np.ndarray:
        if self.backend is not None:
            return self.backend.probabilities_batch(np.asarray(model_inputs, dtype=np.float64))
        return self.bundle.detector.probabilities(model_inputs)

    def _classify_one(self, probabilities: np.ndarray) -> Prediction:
        """``_classify`` of one row, in plain Python (a tenth of the numpy calls' cost)."""
        anomaly_score = 1.0 - float(probabilities[0])
        if len(self.classes) == 2:
            is_inlier = anomaly_score <= self.threshold
            index = 0 if is_inlier else 1
        else:
            index = int(np.argmax(probabilities * self._class_weights))
            is_inlier = index == 0
        return Prediction(
            anomaly_score, is_inlier, anomaly_score, self.classes[index],
            float(probabilities[index]), probabilities,
        )  # fmt: skip

    def _classify(self, probabilities: np.ndarray) -> Prediction:
        """Labels, confidences and decisions from calibrated class probabilities.

        Two classes: anomalous above the threshold on the anomalous class's
        probability. More: the class of highest ``weight x probability``; the
        anomaly score is one minus the normal class's probability.
        """
        anomaly_score = 1.0 - probabilities[:, 0]
        if len(self.classes) == 2:
            is_inlier = anomaly_score <= self.threshold
            index = (~is_inlier).astype(np.int64)
        else:
            index = np.argmax(probabilities * self._class_weights, axis=1)
            is_inlier = index == 0
        confidence = probabilities[np.arange(len(index)), index]
        return Prediction(
            anomaly_score, is_inlier, anomaly_score, self._class_names[index], confidence,
            probabilities,
        )  # fmt: skip

    def _finish(self, raw_scores: np.ndarray) -> Prediction:
        raw_scores = np.asarray(raw_scores, dtype=np.float64)
        anomaly_score = raw_scores if self.scale is None else self.scale.apply(raw_scores)
        return Prediction(anomaly_score, anomaly_score <= self.threshold, raw_scores)


def _refuse_missing(inputs: pd.DataFrame) -> None:
    """``InputError`` naming the rows with empty cells, for a model that cannot impute."""
    rows = inputs.index[inputs.isna().any(axis=1)]
    if len(rows):
        shown = ", ".join(map(str, rows[:10])) + (", ..." if len(rows) > 10 else "")
        raise InputError(
            "missing_value",
            f"{len(rows)} row(s) have empty or unparseable cells (row {shown}), but this "
            "model has no imputation (a plain scikit-learn estimator that refuses missing "
            "values): fill them or drop those rows",
        )
