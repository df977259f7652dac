"""The feature schema: the one place that defines feature names, kinds and order.

A model bundle carries its schema. Training builds it from a CSV; the service,
the CLI and the notebooks use it to turn raw values (a JSON vector, a JSON
object, a CSV row) into the column order the fitted pipeline expects.

A named row may also hold the columns training left out (an id, a timestamp, the
label): ``ignored`` lists them, so a raw row from the training CSV is accepted as it is.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from anomaly_detector.errors import InputError

FeatureKind = Literal["numeric", "log_numeric", "categorical"]


@dataclass(frozen=True)
class Feature:
    """One model input column.

    ``numeric`` values are floats; ``log_numeric`` are heavy-tailed numbers that
    the pipeline compresses with a signed log; ``categorical`` values are strings
    (``categories`` lists those seen in training; others are encoded as unknown).
    """

    name: str
    kind: FeatureKind
    categories: tuple[str, ...] = ()

    @property
    def is_categorical(self) -> bool:
        return self.kind == "categorical"


@dataclass(frozen=True)
class FeatureSchema:
    """Ordered model inputs. ``features[i]`` is position ``i`` of a feature vector.

    ``ignored``: column names a named row may carry and that are skipped (what
    training dropped). ``accepts_missing``: False for a model with no imputation
    (a plain scikit-learn estimator that refuses NaN), where null gets a clear 422.
    Two schemas are equal when their features are: the other fields do not change
    what a client must send.
    """

    features: tuple[Feature, ...]
    ignored: frozenset[str] = field(default=frozenset(), compare=False)
    accepts_missing: bool = field(default=True, compare=False)
    _index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    _numeric: tuple[bool, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {f.name: i for i, f in enumerate(self.features)})
        object.__setattr__(self, "_numeric", tuple(not f.is_categorical for f in self.features))

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def categorical_positions(self) -> list[int]:
        return [i for i, f in enumerate(self.features) if f.is_categorical]

    def __len__(self) -> int:
        return len(self.features)

    def to_dict(self) -> list[dict[str, Any]]:
        """The features as JSON-ready dicts (``model.json``'s ``features``)."""
        return [
            {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(f).items()}
            for f in self.features
        ]

    @classmethod
    def from_dict(
        cls,
        items: Sequence[Mapping[str, Any]],
        ignored: Sequence[str] = (),
        accepts_missing: bool = True,
    ) -> FeatureSchema:
        """The inverse of ``to_dict``; ``ignored`` and ``accepts_missing`` as in the class."""
        features = tuple(
            Feature(item["name"], item["kind"], tuple(item.get("categories", ()))) for item in items
        )
        names = {f.name for f in features}
        return cls(features, frozenset(str(n) for n in ignored) - names, accepts_missing)

    # -- raw values -> rows in schema order ---------------------------------

    def row_from_vector(self, vector: Sequence[Any]) -> list[Any]:
        """Validate a positional feature vector and return it as a row.

        Raises:
            InputError: wrong length, or a value of the wrong type for its feature.
        """
        if len(vector) != len(self.features):
            raise InputError(
                "wrong_length",
                f"expected a feature_vector of {len(self.features)} values "
                f"({', '.join(self.names)}), got {len(vector)}",
            )
        # The common case first: a finite float for a numeric feature (what JSON
        # decoding gives) passes as it is; everything else takes the full check.
        check, numeric = self._check_value, self._numeric
        row = list(vector)
        for position, value in enumerate(row):
            if numeric[position]:
                kind = type(value)
                if kind is float and value - value == 0.0:
                    continue
                if kind is int and -_FLOAT_MAX <= value <= _FLOAT_MAX:
                    row[position] = float(value)
                    continue
            row[position] = check(self.features[position], value)
        return row

    def row_from_mapping(self, values: Mapping[str, Any]) -> list[Any]:
        """Validate a ``{name: value}`` object and return it as a row in schema order.

        Raises:
            InputError: unknown or missing feature names, or a value of the wrong type.
        """
        unknown = [name for name in values if name not in self._index and name not in self.ignored]
        if unknown:
            raise InputError(
                "unknown_feature",
                f"unknown feature(s) {_quoted(unknown)}; this model expects {_quoted(self.names)}",
            )
        missing = [name for name in self.names if name not in values]
        if missing:
            raise InputError(
                "missing_feature",
                f"missing feature(s) {_quoted(missing)}; this model expects {_quoted(self.names)}"
                " (send null for a value that is unknown)",
            )
        return [self._check_value(f, values[f.name]) for f in self.features]

    def _check_value(self, feature: Feature, value: Any) -> Any:
        if value is None:
            if not self.accepts_missing:
                raise InputError(
                    "missing_value",
                    f"feature {feature.name!r} is null, but this model has no imputation "
                    "(a plain scikit-learn estimator that refuses missing values): send a number",
                    feature.name,
                )
            return None
        if feature.is_categorical:
            return _check_category(feature, value)
        if isinstance(value, np.integer | np.floating):
            # numpy scalars, as a DataFrame row's ``to_dict()`` gives them in a notebook
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(
                "non_numeric",
                f"feature {feature.name!r} expects a number or null, got {type(value).__name__}",
                feature.name,
            )
        if value == value:  # NaN compares unequal to itself, and is named as NaN below
            value = float(value) if -_FLOAT_MAX <= value <= _FLOAT_MAX else math.inf
        if not math.isfinite(value):
            raise InputError(
                "non_finite",
                f"feature {feature.name!r} must be a finite number, got {value!r} "
                "(NaN and Infinity are not accepted; send null for a missing value)",
                feature.name,
            )
        return value

    # -- data frames ---------------------------------------------------------

    def unreadable_numbers(self, frame: pd.DataFrame) -> dict[str, tuple[int, str]]:
        """``{feature: (cells, first)}``: text in numeric columns that is no number.

        ``coerce_frame`` scores such a cell as missing (a messy export's ``?``); this
        says how many there were, so a batch can tell its user rather than stay silent.
        """
        found = {}
        for feature in self.features:
            column = frame.get(feature.name)
            if feature.is_categorical or column is None or column.dtype.kind in "biuf":
                continue
            text = column.astype("string").str.strip()
            bad = text.notna() & (text != "") & pd.to_numeric(column, errors="coerce").isna()
            if bad.any():
                found[feature.name] = (int(bad.sum()), str(text[bad].iloc[0]))
        return found

    def coerce_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Select the schema's columns in order, numeric as float64, categorical as str/NaN.

        Training and every scoring path go through this, so the fitted pipeline
        always sees the same dtypes.

        Raises:
            InputError: a schema column is absent from ``frame``.
        """
        missing = [name for name in self.names if name not in frame.columns]
        if missing:
            raise InputError(
                "missing_feature",
                f"the data has no column(s) {_quoted(missing)}; "
                f"the model expects {_quoted(self.names)}",
            )
        columns = {}
        for feature in self.features:
            column = frame[feature.name]
            if feature.is_categorical:
                columns[feature.name] = categorical_series(column)
            else:
                columns[feature.name] = pd.to_numeric(column, errors="coerce").astype("float64")
        return pd.DataFrame(columns, index=frame.index)

    def frame_from_rows(self, rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
        """Rows already checked by ``row_from_*`` as a frame ready for the pipeline."""
        frame = pd.DataFrame(list(rows), columns=self.names)
        return self.coerce_frame(frame)


def _check_category(feature: Feature, value: Any) -> str:
    """A categorical value as its category text, refusing numbers that name no category."""
    if isinstance(value, str):
        return value
    if not isinstance(value, bool | int | float):
        raise InputError(
            "non_numeric",
            f"feature {feature.name!r} is categorical and expects a string, "
            f"got {type(value).__name__}",
            feature.name,
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError("non_finite", f"feature {feature.name!r} must be finite", feature.name)
    try:
        # A true/false CSV column trains as the categories "False" and "True".
        text = str(value) if isinstance(value, bool) else _category_string(value)
    except ValueError:  # an int beyond Python's str() digit limit
        raise InputError(
            "invalid_request",
            f"feature {feature.name!r}: number too long for a category",
            feature.name,
        ) from None
    if text not in feature.categories:
        # Scoring it as an unseen category would hide a client that sends codes
        # (or the wrong column) instead of the category text.
        shown = ", ".join(repr(c) for c in feature.categories[:12])
        more = ", ..." if len(feature.categories) > 12 else ""
        kind = "boolean" if isinstance(value, bool) else "number"
        raise InputError(
            "invalid_category",
            f"feature {feature.name!r} is categorical and expects one of {shown}{more} "
            f"(as text), got the {kind} {value!r}",
            feature.name,
        )
    return text


def categorical_series(column: pd.Series) -> pd.Series:
    """Categorical values as Python strings with missing values as NaN (object dtype)."""
    values = column.astype(object)
    missing = values.isna()
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        # Already text (a CSV column, a JSON string field): skip the per-value call,
        # the slowest part of scoring a large file.
        return values.where(~missing, np.nan)
    as_text = values.map(_category_string, na_action="ignore")
    return as_text.where(~missing, np.nan).astype(object)


def _category_string(value: Any) -> str:
    # 3.0 and 3 must be the same category whether they come from JSON or a CSV.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_FLOAT_MAX = sys.float_info.max


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names)


def unreadable_notes(found: dict[str, tuple[int, str]]) -> list[str]:
    """``FeatureSchema.unreadable_numbers`` as sentences, one per feature."""
    return [
        f"{count:,} cell(s) of {name} were not numbers (first: {first!r}); scored as missing"
        for name, (count, first) in found.items()
    ]
