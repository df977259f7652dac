"""Deciding which columns of a user's CSV are features, and of what kind.

``profile_columns`` decides from the data alone, and says why it dropped the
others (IDs, timestamps, constants, label leaks). The fitted transformer built
from its schema lives in ``anomaly_detector.preprocessing``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from anomaly_detector.data.feature_schema import Feature, FeatureSchema, categorical_series
from anomaly_detector.errors import InputError

MAX_CATEGORIES = 100
# A text column where more than this share of rows holds a distinct value is an identifier.
ID_UNIQUE_RATIO = 0.5
# Share of non-missing cells that must parse for a text column to count as numbers or dates.
PARSE_SHARE = 0.95
# Share-of-values checks on large columns look at this many sampled values.
SAMPLE_ROWS = 2_000
_ID_NAME = re.compile(r"(^|_)(id|uuid|guid|index|key)$|^unnamed: ?\d+$", re.IGNORECASE)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


@dataclass
class ColumnProfile:
    """What ``profile_columns`` decided: the feature schema and why other columns were dropped."""

    schema: FeatureSchema
    dropped: dict[str, str] = field(default_factory=dict)


def profile_columns(
    frame: pd.DataFrame,
    label_column: str | None = None,
    features: Sequence[str] | None = None,
) -> ColumnProfile:
    """Choose feature columns and their kinds from raw data.

    Args:
        frame: the training data as read from CSV (any dtypes).
        label_column: never used as a feature; categorical columns that it
            fully determines (such as an ``anomaly_type`` next to ``is_anomaly``)
            are dropped too, since they would leak the label.
        features: use exactly these columns (in this order) instead of detecting.

    Returns:
        The schema and, for each dropped column, the reason.

    Raises:
        InputError: a requested column does not exist, or no usable column is left.
    """
    if features:
        missing = [name for name in features if name not in frame.columns]
        if missing:
            raise InputError(
                "missing_feature",
                f"--features names column(s) not in the data: {', '.join(missing)}; "
                f"columns are: {', '.join(map(str, frame.columns))}",
            )
        candidates = list(features)
    else:
        candidates = [c for c in frame.columns if c != label_column]

    chosen: list[Feature] = []
    dropped: dict[str, str] = {}
    labels = frame[label_column] if label_column and label_column in frame else None
    for name in candidates:
        kind, reason = _classify(frame[name], str(name), forced=bool(features))
        if reason is None and labels is not None and not features:
            reason = _label_leak(frame[name], labels, kind == "categorical")
        if reason is not None:
            dropped[str(name)] = reason
            continue
        categories = ()
        if kind == "categorical":
            seen = categorical_series(frame[name]).dropna().unique()
            categories = tuple(sorted(str(v) for v in seen))
        chosen.append(Feature(str(name), kind, categories))
    if not chosen:
        raise InputError(
            "invalid_request",
            "no usable feature columns: "
            + "; ".join(f"{name}: {why}" for name, why in dropped.items()),
        )
    return ColumnProfile(FeatureSchema(tuple(chosen)), dropped)


def _classify(column: pd.Series, name: str, forced: bool) -> tuple[str, str | None]:
    """(kind, reason to drop or None) for one raw column."""
    non_null = column.dropna()
    if non_null.empty:
        return "numeric", "empty (every value missing)"
    if column.dtype == bool or pd.api.types.is_bool_dtype(column):
        return "categorical", None
    numeric = _as_numeric(column)
    if numeric is not None:
        if forced:
            return _numeric_kind(numeric), None
        if numeric.nunique(dropna=True) <= 1:
            return "numeric", "constant (one value only)"
        if _looks_like_row_index(numeric, name):
            return "numeric", "identifier (unique integer per row)"
        return _numeric_kind(numeric), None
    text = non_null.astype(str)
    if forced:
        return "categorical", None
    distinct = text.nunique()
    if distinct <= 1:
        return "categorical", "constant (one value only)"
    if _looks_like_timestamp(text):
        return "categorical", "timestamp (derive features such as hour of day instead)"
    if _sample(text).str.match(_UUID).mean() > 0.5:
        return "categorical", "identifier (UUIDs)"
    unique_ratio = distinct / len(text)
    if unique_ratio > ID_UNIQUE_RATIO or (_ID_NAME.search(name) and unique_ratio > 0.05):
        return "categorical", f"identifier ({distinct} distinct values)"
    if distinct > MAX_CATEGORIES:
        return "categorical", (
            f"too many categories ({distinct} > {MAX_CATEGORIES}); "
            "pass it with --features to force it in"
        )
    return "categorical", None


def _sample(values: pd.Series) -> pd.Series:
    """A fixed random sample for checks where a share of values decides (same data, same pick)."""
    if len(values) <= SAMPLE_ROWS:
        return values
    return values.sample(SAMPLE_ROWS, random_state=0)


def _as_numeric(column: pd.Series) -> pd.Series | None:
    """The column as floats if (nearly) all of its values are numbers, else None."""
    if pd.api.types.is_numeric_dtype(column):
        return column.astype("float64")
    # Parsing a million strings takes seconds; a sample where fewer than half
    # parse cannot come from a column where 95% do, so text columns stop here.
    sample = _sample(column.dropna())
    if len(sample) and pd.to_numeric(sample, errors="coerce").notna().mean() < 0.5:
        return None
    parsed = pd.to_numeric(column, errors="coerce")
    present = column.notna()
    if present.sum() and parsed[present].notna().mean() >= PARSE_SHARE:
        return parsed.astype("float64")
    return None


def _numeric_kind(values: pd.Series) -> str:
    """``log_numeric`` for heavy-tailed non-negative values, else ``numeric``."""
    finite = values[np.isfinite(values)]
    if finite.empty or finite.min() < 0 or finite.max() <= 10:
        return "numeric"
    median, q99 = finite.quantile([0.5, 0.99])
    skew = finite.skew()
    if q99 > 10 * max(median, 1.0) or (np.isfinite(skew) and skew > 2.0):
        return "log_numeric"
    return "numeric"


def _looks_like_row_index(values: pd.Series, name: str) -> bool:
    present = values.dropna()
    if present.empty or not np.all(np.mod(present, 1) == 0):
        return False
    if present.nunique() != len(present):
        return False
    return bool(_ID_NAME.search(name)) or present.is_monotonic_increasing


def _looks_like_timestamp(text: pd.Series) -> bool:
    sample = text.head(200)
    if not sample.str.contains(r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4}|:\d{2}").mean() > 0.9:
        return False
    parsed = pd.to_datetime(sample, errors="coerce", utc=True, format="mixed")
    return parsed.notna().mean() >= PARSE_SHARE


def _label_leak(column: pd.Series, labels: pd.Series, categorical: bool) -> str | None:
    """Why the column leaks the label, or None.

    A category that fixes the label, or any column that is constant within each
    label value (such as ``is_anomaly`` beside an ``anomaly_type`` label). A numeric
    column is not asked the first question: distinct numbers trivially "fix" labels.
    """
    values = categorical_series(column)
    frame = pd.DataFrame({"value": values, "label": labels.astype(str)}).dropna()
    if frame["value"].nunique() < 2:
        return None
    if categorical and frame.groupby("value")["label"].nunique().max() == 1:
        return "determined by the label column (it would leak the label)"
    if frame.groupby("label")["value"].nunique().max() == 1:
        return "a function of the label column (it would leak the label)"
    return None
