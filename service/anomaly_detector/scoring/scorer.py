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

    @property
    def fast_path(self) -> bool:
        """True when preprocessing and detector both run compiled."""
        return self._fast

    def predict_one(self, row: Sequence[Any]) -> Prediction:
        """The prediction for one row checked by ``FeatureSchema.row_from_*`` (scalar fields).

        The ``POST /prediction`` path: one jitted call prepares the inputs and one
        scores them, instead of a dozen small numpy calls.
        """
        if self._fast:
            raw = self.backend.score_row(self.preprocessing.transform_row(row))
        else:
            raw = float(self._scores(self._inputs_of_rows([row]))[0])
        score = raw if self.scale is None else self.scale.apply_one(raw)
        return Prediction(score, score <= self.threshold, raw)

    def predict_rows(self, rows: Sequence[Sequence[Any]]) -> Prediction:
        """Predictions for rows checked by ``FeatureSchema.row_from_vector/_mapping``."""
        return self._finish(self._scores(self._inputs_of_rows(rows)))

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
