"""The one scoring path shared by the service, the CLI and the notebooks.

``Scorer(bundle)`` compiles what it can at load time: the fitted preprocessing
(imputation values, signed-log columns, category codes) becomes a few numpy
index arrays and the Isolation Forest becomes a ``CompiledForest``. Pipelines
it does not recognise (another detector, custom steps) are scored through
scikit-learn instead, with the same results and interface, only slower.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import IsolationForest
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

from anomaly_detector.bundle import ModelBundle
from anomaly_detector.fast_forest import (
    BLOCK_TREES,
    CompiledForest,
    compile_forest,
    row_depth,
    score_of_depth,
)
from anomaly_detector.preprocessing import signed_log1p
from anomaly_detector.schema import FeatureSchema

log = logging.getLogger(__name__)


class UnsupportedPipeline(Exception):
    """The pipeline has a step the compiler does not know; scikit-learn scores it instead."""


@dataclass(frozen=True)
class Scores:
    """Anomaly scores (higher is more anomalous) and the inlier decision per row."""

    anomaly_score: np.ndarray
    is_inlier: np.ndarray


@dataclass(frozen=True)
class CompiledPreprocessing:
    """Fitted preprocessing as index arrays, in the detector's input order.

    ``transform`` first permutes the schema-ordered raw matrix into model order;
    imputed and log columns are then slices when contiguous (as ``training``
    lays them out), which keeps one row under a few microseconds.
    """

    output_order: np.ndarray  # model input j is raw column output_order[j]
    impute_at: slice | np.ndarray  # model inputs whose NaN are replaced ...
    impute_values: np.ndarray  # ... by these medians
    log_at: slice | np.ndarray  # model inputs passed through signed_log1p after imputation
    category_codes: dict[int, dict[str, float]]  # raw column -> {category: code}
    unknown_codes: dict[int, float]  # raw column -> code of unseen categories
    missing_codes: dict[int, float]  # raw column -> code of missing values
    # The same steps per model input, for the one-row kernel:
    imputed: np.ndarray  # bool (n_inputs,): NaN replaced by fill
    fill: np.ndarray  # float64 (n_inputs,): what NaN becomes (median; signed_log1p'd if logged)
    logged: np.ndarray  # bool (n_inputs,): passed through signed_log1p

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Model inputs from a float matrix in schema order (categories already coded)."""
        inputs = raw[:, self.output_order]
        if self.impute_values.size and np.isnan(inputs).any():
            block = inputs[:, self.impute_at]
            inputs[:, self.impute_at] = np.where(np.isnan(block), self.impute_values, block)
        inputs[:, self.log_at] = signed_log1p(inputs[:, self.log_at])
        return inputs


def _as_slice(positions: list[int]) -> slice | np.ndarray:
    if positions and positions == list(range(positions[0], positions[-1] + 1)):
        return slice(positions[0], positions[-1] + 1)
    return np.asarray(positions, dtype=np.intp)


class Scorer:
    """Scores raw rows or frames with a bundle, on the compiled path when possible.

    Args:
        bundle: the model bundle.
        fast: compile the pipeline (default); ``False`` forces the scikit-learn path.
    """

    def __init__(self, bundle: ModelBundle, fast: bool = True) -> None:
        self.bundle = bundle
        self.schema: FeatureSchema = bundle.schema
        self.threshold = float(bundle.threshold)
        self._preprocessing: CompiledPreprocessing | None = None
        self._forest: CompiledForest | None = None
        self.fallback_reason: str | None = "disabled" if not fast else None
        if fast:
            try:
                self._preprocessing, self._forest = compile_pipeline(bundle.pipeline, self.schema)
                self._forest_arrays = self._forest.kernel_arguments()
            except UnsupportedPipeline as exc:
                self.fallback_reason = str(exc)
                log.warning("scoring through scikit-learn: %s", exc)
        self._categorical = self.schema.categorical_positions

    @property
    def version(self) -> str:
        return self.bundle.version

    @property
    def fast_path(self) -> bool:
        return self._forest is not None

    def score_one(self, row: Sequence[Any]) -> tuple[float, bool]:
        """(anomaly score, is inlier) of one row checked by ``FeatureSchema.row_from_*``.

        The ``POST /prediction`` path: on a compiled pipeline, preprocessing and
        all trees run in one jitted call instead of a dozen small numpy calls,
        which dominated the time of a single row.
        """
        if self._forest is None:
            scores = self.score_rows([row])
            return float(scores.anomaly_score[0]), bool(scores.is_inlier[0])
        if self._categorical:
            row = self._encode_row(row)
        prep = self._preprocessing
        # None becomes NaN here, as in score_rows.
        raw = np.array(row, dtype=np.float64)
        # log1p from numpy, not from the jitted code: numpy's vectorised log1p and
        # the C library's differ in the last bit for some inputs, which can move a
        # value across a split. The batch path and the saved pipeline use numpy's.
        logs = np.log1p(np.abs(raw))
        score = _score_raw_row(
            raw, logs, prep.output_order, prep.imputed, prep.fill, prep.logged,
            *self._forest_arrays,
        )  # fmt: skip
        return score, score <= self.threshold

    def score_rows(self, rows: Sequence[Sequence[Any]]) -> Scores:
        """Score rows already validated by ``FeatureSchema.row_from_vector/_mapping``."""
        if self._forest is None:
            return self._finish(
                -self.bundle.pipeline.score_samples(self.schema.frame_from_rows(rows))
            )
        if self._categorical:
            rows = [self._encode_row(row) for row in rows]
        raw = np.array(rows, dtype=np.float64)
        if raw.ndim != 2:
            raw = raw.reshape(len(rows), len(self.schema))
        return self._finish(self._forest.anomaly_scores(self._preprocessing.transform(raw)))

    def score_frame(self, frame: pd.DataFrame) -> Scores:
        """Score a data frame holding (at least) the schema's columns, e.g. a CSV."""
        inputs = self.schema.coerce_frame(frame)
        if self._forest is None:
            return self._finish(-self.bundle.pipeline.score_samples(inputs))
        raw = np.empty((len(inputs), len(self.schema)), dtype=np.float64)
        for position, feature in enumerate(self.schema.features):
            column = inputs[feature.name]
            if feature.is_categorical:
                codes = column.map(self._preprocessing.category_codes[position])
                codes = codes.where(
                    column.isna() | codes.notna(), self._preprocessing.unknown_codes[position]
                )
                codes = codes.where(column.notna(), self._preprocessing.missing_codes[position])
                raw[:, position] = codes.to_numpy(dtype=np.float64)
            else:
                raw[:, position] = column.to_numpy(dtype=np.float64)
        return self._finish(self._forest.anomaly_scores(self._preprocessing.transform(raw)))

    def _encode_row(self, row: Sequence[Any]) -> list[Any]:
        encoded = list(row)
        prep = self._preprocessing
        for position in self._categorical:
            value = encoded[position]
            if value is None:
                encoded[position] = prep.missing_codes[position]
            else:
                encoded[position] = prep.category_codes[position].get(
                    value, prep.unknown_codes[position]
                )
        return encoded

    def _finish(self, anomaly_score: np.ndarray) -> Scores:
        anomaly_score = np.asarray(anomaly_score, dtype=np.float64)
        return Scores(anomaly_score, anomaly_score <= self.threshold)


def compile_pipeline(
    pipeline: Pipeline, schema: FeatureSchema
) -> tuple[CompiledPreprocessing, CompiledForest]:
    """Compile ``ColumnTransformer -> IsolationForest`` as built by ``training.train``.

    Raises:
        UnsupportedPipeline: any other shape of pipeline.
    """
    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
        raise UnsupportedPipeline("pipeline is not preprocess -> detector")
    preprocess, detector = pipeline[0], pipeline[-1]
    if not isinstance(detector, IsolationForest):
        raise UnsupportedPipeline(f"detector {type(detector).__name__} has no compiled scorer")
    if not isinstance(preprocess, ColumnTransformer):
        raise UnsupportedPipeline(f"preprocessing {type(preprocess).__name__} is not compiled")
    position = {name: i for i, name in enumerate(schema.names)}
    impute_at: list[int] = []
    impute_values: list[float] = []
    log_at: list[int] = []
    output_order: list[int] = []
    codes: dict[int, dict[str, float]] = {}
    unknown: dict[int, float] = {}
    missing: dict[int, float] = {}
    for name, transformer, columns in preprocess.transformers_:
        if transformer == "drop" or len(columns) == 0:
            continue
        if transformer == "passthrough" or name == "remainder":
            raise UnsupportedPipeline("passthrough columns are not compiled")
        indices = [position[c] for c in columns]
        outputs = list(range(len(output_order), len(output_order) + len(indices)))
        steps = transformer.steps if isinstance(transformer, Pipeline) else [(name, transformer)]
        for _, step in steps:
            if isinstance(step, SimpleImputer) and step.strategy in ("median", "mean"):
                impute_at += outputs
                impute_values += [float(v) for v in step.statistics_]
            elif isinstance(step, FunctionTransformer) and step.func is signed_log1p:
                log_at += outputs
            elif isinstance(step, OrdinalEncoder):
                _compile_encoder(step, columns, indices, codes, unknown, missing)
            else:
                raise UnsupportedPipeline(
                    f"preprocessing step {type(step).__name__} is not compiled"
                )
        output_order += indices
    n_inputs = len(output_order)
    imputed = np.zeros(n_inputs, dtype=np.bool_)
    imputed[impute_at] = True
    logged = np.zeros(n_inputs, dtype=np.bool_)
    logged[log_at] = True
    fill = np.zeros(n_inputs, dtype=np.float64)
    fill[impute_at] = impute_values
    fill[logged] = signed_log1p(fill[logged])  # imputation comes before the log
    preprocessing = CompiledPreprocessing(
        output_order=np.asarray(output_order, dtype=np.intp),
        impute_at=_as_slice(impute_at),
        impute_values=np.asarray(impute_values, dtype=np.float64),
        log_at=_as_slice(log_at),
        category_codes=codes,
        unknown_codes=unknown,
        missing_codes=missing,
        imputed=imputed,
        fill=fill,
        logged=logged,
    )
    if len(output_order) != detector.n_features_in_:
        raise UnsupportedPipeline("preprocessing output does not match the detector's inputs")
    return preprocessing, compile_forest(detector)


def _compile_encoder(encoder, columns, indices, codes, unknown, missing) -> None:
    # Ask the fitted encoder itself which codes it gives to an unseen and to a
    # missing value, instead of restating scikit-learn's rules here.
    probe = pd.DataFrame({c: np.array(["\x00unseen\x00", np.nan], dtype=object) for c in columns})
    probe_codes = encoder.transform(probe)
    for k, (column_categories, index) in enumerate(zip(encoder.categories_, indices, strict=True)):
        codes[index] = {
            str(category): float(code)
            for code, category in enumerate(column_categories)
            if not (isinstance(category, float) and np.isnan(category))
        }
        unknown[index] = float(probe_codes[0, k])
        missing[index] = float(probe_codes[1, k])


@numba.njit(cache=True, nogil=True)
def _score_raw_row(
    raw,
    logs,
    order,
    imputed,
    fill,
    logged,
    roots,
    max_depth,
    packed,
    threshold,
    missing_left,
    leaf_depth,
    denominator,
):  # pragma: no cover - compiled by numba; held equal to score_rows in tests
    """``CompiledPreprocessing.transform`` then the forest, for one raw row.

    ``logs`` is numpy's ``log1p(|raw|)``, so logged inputs get the very bits of
    ``signed_log1p``; ``fill`` is already through it for logged columns.
    """
    n_inputs = order.shape[0]
    inputs = np.empty((1, n_inputs), dtype=np.float64)
    for j in range(n_inputs):
        source = order[j]
        value = raw[source]
        if imputed[j] and np.isnan(value):
            value = fill[j]
        elif logged[j]:
            value = np.sign(value) * logs[source]
        inputs[0, j] = value
    nodes = np.empty(BLOCK_TREES, dtype=np.int64)
    depth = row_depth(
        inputs, 0, roots, max_depth, packed, threshold, missing_left, leaf_depth, nodes
    )
    return score_of_depth(depth, denominator)
