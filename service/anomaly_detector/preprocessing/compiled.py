"""The fitted preprocessing compiled to index arrays, and a jitted step for one row.

scikit-learn's ``ColumnTransformer.transform`` costs milliseconds per call on input
checks and frame handling; the work itself (category codes, median imputation,
``signed_log1p``) is a few array operations. ``compile_preprocessor`` reads the
fitted values out of the transformer ``pipeline.build_preprocessor`` makes (or an
identity transformer, for adopted plain estimators) and applies them with numpy;
``prepare_row`` does the same for one row in one numba call. Any other
transformer raises ``NotCompilable`` and is applied through scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

from anomaly_detector.data.feature_schema import FeatureSchema
from anomaly_detector.preprocessing import signed_log1p


class NotCompilable(Exception):
    """The transformer has a step this module does not know; scikit-learn applies it."""


@dataclass(frozen=True)
class CompiledPreprocessing:
    """Fitted preprocessing as index arrays, in the detector's input order.

    ``transform`` first permutes the schema-ordered raw matrix into model order;
    imputed and log columns are then slices when contiguous (as training lays
    them out), which keeps one row under a few microseconds.
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

    def encode_row(self, row: Sequence[Any]) -> list[Any]:
        """A row checked by ``FeatureSchema.row_from_*`` with categories replaced by codes."""
        if not self.category_codes:
            return list(row)
        encoded = list(row)
        for position, codes in self.category_codes.items():
            value = encoded[position]
            if value is None:
                encoded[position] = self.missing_codes[position]
            else:
                encoded[position] = codes.get(value, self.unknown_codes[position])
        return encoded

    def encode_frame(self, frame: pd.DataFrame, schema: FeatureSchema) -> np.ndarray:
        """A frame from ``schema.coerce_frame`` as a float matrix in schema order, codes in."""
        raw = np.empty((len(frame), len(schema)), dtype=np.float64)
        for position, feature in enumerate(schema.features):
            column = frame[feature.name]
            if feature.is_categorical:
                codes = column.map(self.category_codes[position])
                codes = codes.where(column.isna() | codes.notna(), self.unknown_codes[position])
                codes = codes.where(column.notna(), self.missing_codes[position])
                raw[:, position] = codes.to_numpy(dtype=np.float64)
            else:
                raw[:, position] = column.to_numpy(dtype=np.float64)
        return raw

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Model inputs from a float matrix in schema order (categories already coded)."""
        inputs = raw[:, self.output_order]
        if self.impute_values.size and np.isnan(inputs).any():
            block = inputs[:, self.impute_at]
            inputs[:, self.impute_at] = np.where(np.isnan(block), self.impute_values, block)
        inputs[:, self.log_at] = signed_log1p(inputs[:, self.log_at])
        return inputs

    def transform_row(self, row: Sequence[Any]) -> np.ndarray:
        """Model inputs (1-D) of one checked row: the ``POST /prediction`` path."""
        # None becomes NaN here, as in the batch path.
        raw = np.array(self.encode_row(row), dtype=np.float64)
        # log1p from numpy, not from the jitted code: numpy's vectorised log1p and
        # the C library's differ in the last bit for some inputs, which can move a
        # value across a split. The batch path and the saved pipeline use numpy's.
        logs = np.log1p(np.abs(raw))
        return prepare_row(raw, logs, self.output_order, self.imputed, self.fill, self.logged)


def compile_preprocessor(preprocessor: Any, schema: FeatureSchema) -> CompiledPreprocessing:
    """Compile the fitted ``build_preprocessor`` transformer, or an identity one.

    Raises:
        NotCompilable: any other transformer.
    """
    if isinstance(preprocessor, FunctionTransformer) and preprocessor.func in (None, np.asarray):
        return _assemble(list(range(len(schema))), [], [], [], {}, {}, {})
    if not isinstance(preprocessor, ColumnTransformer):
        raise NotCompilable(f"preprocessing {type(preprocessor).__name__} is not compiled")
    position = {name: i for i, name in enumerate(schema.names)}
    impute_at: list[int] = []
    impute_values: list[float] = []
    log_at: list[int] = []
    output_order: list[int] = []
    codes: dict[int, dict[str, float]] = {}
    unknown: dict[int, float] = {}
    missing: dict[int, float] = {}
    for name, transformer, columns in preprocessor.transformers_:
        if transformer == "drop" or len(columns) == 0:
            continue
        if transformer == "passthrough" or name == "remainder":
            raise NotCompilable("passthrough columns are not compiled")
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
                raise NotCompilable(f"preprocessing step {type(step).__name__} is not compiled")
        output_order += indices
    return _assemble(output_order, impute_at, impute_values, log_at, codes, unknown, missing)


def _assemble(output_order, impute_at, impute_values, log_at, codes, unknown, missing):
    n_inputs = len(output_order)
    imputed = np.zeros(n_inputs, dtype=np.bool_)
    imputed[impute_at] = True
    logged = np.zeros(n_inputs, dtype=np.bool_)
    logged[log_at] = True
    fill = np.zeros(n_inputs, dtype=np.float64)
    fill[impute_at] = impute_values
    fill[logged] = signed_log1p(fill[logged])  # imputation comes before the log
    return CompiledPreprocessing(
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


def _as_slice(positions: list[int]) -> slice | np.ndarray:
    if positions and positions == list(range(positions[0], positions[-1] + 1)):
        return slice(positions[0], positions[-1] + 1)
    return np.asarray(positions, dtype=np.intp)


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
def prepare_row(
    raw, logs, order, imputed, fill, logged
):  # pragma: no cover - compiled by numba; held equal to transform() in tests
    """``CompiledPreprocessing.transform`` for one raw row (categories already coded).

    ``logs`` is numpy's ``log1p(|raw|)``, so logged inputs get the very bits of
    ``signed_log1p``; ``fill`` is already through it for logged columns.
    """
    n_inputs = order.shape[0]
    inputs = np.empty(n_inputs, dtype=np.float64)
    for j in range(n_inputs):
        source = order[j]
        value = raw[source]
        if imputed[j] and np.isnan(value):
            value = fill[j]
        elif logged[j]:
            value = np.sign(value) * logs[source]
        inputs[j] = value
    return inputs
