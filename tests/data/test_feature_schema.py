"""Tests for the feature schema: validating raw vectors, objects and frames."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from anomaly_detector.data.feature_schema import Feature, FeatureSchema, categorical_series
from anomaly_detector.errors import InputError

SCHEMA = FeatureSchema(
    (
        Feature("plan", "categorical", ("1", "3", "gold")),
        Feature("request_rate", "log_numeric"),
        Feature("error_ratio", "numeric"),
    )
)


def test_names_and_positions_follow_feature_order() -> None:
    assert SCHEMA.names == ["plan", "request_rate", "error_ratio"]
    assert len(SCHEMA) == 3
    assert SCHEMA.categorical_positions == [0]


@pytest.mark.parametrize("length", [0, 2, 4])
def test_wrong_vector_length_names_expected_count_and_features(length: int) -> None:
    with pytest.raises(InputError) as caught:
        SCHEMA.row_from_vector(["gold", 1.0, 0.5, 9.0][:length])
    error = caught.value
    assert error.reason == "wrong_length"
    assert "3 values" in error.message
    assert f"got {length}" in error.message
    for name in SCHEMA.names:
        assert name in error.message


def test_valid_vector_becomes_row_of_floats_and_strings() -> None:
    assert SCHEMA.row_from_vector(["gold", 2, 0.5]) == ["gold", 2.0, 0.5]
    assert isinstance(SCHEMA.row_from_vector(["gold", 2, 0.5])[1], float)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("position", [0, 1, 2])
def test_non_finite_values_are_rejected(value: float, position: int) -> None:
    vector: list = ["gold", 1.0, 0.5]
    vector[position] = value
    with pytest.raises(InputError) as caught:
        SCHEMA.row_from_vector(vector)
    assert caught.value.reason == "non_finite"
    assert SCHEMA.names[position] in caught.value.message


@pytest.mark.parametrize("value", [True, False, "1.5", "", [1.0], {"x": 1}])
def test_non_numbers_for_numeric_features_are_rejected(value: object) -> None:
    with pytest.raises(InputError) as caught:
        SCHEMA.row_from_vector(["gold", value, 0.5])
    assert caught.value.reason == "non_numeric"
    assert "request_rate" in caught.value.message
    assert type(value).__name__ in caught.value.message


@pytest.mark.parametrize("value", [[1], {"a": 1}, (1,)])
def test_containers_for_categorical_features_are_rejected(value: object) -> None:
    with pytest.raises(InputError) as caught:
        SCHEMA.row_from_vector([value, 1.0, 0.5])
    assert caught.value.reason == "non_numeric"
    assert "plan" in caught.value.message


def test_none_is_allowed_for_every_kind() -> None:
    assert SCHEMA.row_from_vector([None, None, None]) == [None, None, None]
    mapping = dict.fromkeys(SCHEMA.names)
    assert SCHEMA.row_from_mapping(mapping) == [None, None, None]


@pytest.mark.parametrize("value", [3, 3.0, "3"])
def test_categorical_number_becomes_the_same_category_string(value: object) -> None:
    assert SCHEMA.row_from_vector([value, 1.0, 0.5])[0] == "3"


@pytest.mark.parametrize("value", [2, 7.5, -1])
def test_a_number_that_names_no_category_is_refused_not_scored_as_unseen(value) -> None:
    with pytest.raises(InputError) as caught:
        SCHEMA.row_from_vector([value, 1.0, 0.5])
    assert caught.value.reason == "invalid_category"
    assert "'plan'" in caught.value.message and "'gold'" in caught.value.message
    assert repr(value) in caught.value.message
    # Text is still free: an unseen category is scored with the unseen code.
    assert SCHEMA.row_from_vector([str(value), 1.0, 0.5])[0] == str(value)


def test_a_boolean_for_a_text_category_is_refused_too() -> None:
    with pytest.raises(InputError) as caught:
        SCHEMA.row_from_vector([True, 1.0, 0.5])
    assert caught.value.reason == "invalid_category" and "the boolean True" in caught.value.message


def test_columns_training_dropped_are_accepted_and_ignored_in_named_rows() -> None:
    schema = FeatureSchema(SCHEMA.features, frozenset({"client_id", "window_start"}))
    row = {"client_id": "c-1", "window_start": "2026-11-01", "plan": "gold",
           "request_rate": 2, "error_ratio": 0.1}  # fmt: skip
    assert schema.row_from_mapping(row) == ["gold", 2.0, 0.1]
    with pytest.raises(InputError) as caught:
        schema.row_from_mapping({**row, "colour": "red"})
    assert caught.value.reason == "unknown_feature" and "'colour'" in caught.value.message
    assert schema == SCHEMA  # what clients must send is the same


def test_a_model_without_imputation_refuses_null_with_a_reason() -> None:
    schema = FeatureSchema(SCHEMA.features, accepts_missing=False)
    with pytest.raises(InputError) as caught:
        schema.row_from_vector(["gold", None, 0.5])
    assert caught.value.reason == "missing_value" and "'request_rate'" in caught.value.message


def test_categorical_bool_matches_category_of_a_bool_csv_column() -> None:
    trained_on = pd.Series([True, False, True])
    schema = FeatureSchema((Feature("is_mobile", "categorical", ("False", "True")),))
    assert schema.coerce_frame(pd.DataFrame({"is_mobile": trained_on}))["is_mobile"].tolist() == [
        "True",
        "False",
        "True",
    ]
    assert schema.row_from_vector([True]) == ["True"]
    assert schema.row_from_mapping({"is_mobile": False}) == ["False"]


def test_mapping_is_returned_in_schema_order() -> None:
    row = SCHEMA.row_from_mapping({"error_ratio": 0.5, "plan": "gold", "request_rate": 7})
    assert row == ["gold", 7.0, 0.5]


def test_unknown_feature_names_are_rejected_with_the_expected_names() -> None:
    with pytest.raises(InputError) as caught:
        SCHEMA.row_from_mapping({"plan": "gold", "request_rate": 1, "error_ratio": 0, "colour": 1})
    assert caught.value.reason == "unknown_feature"
    assert "'colour'" in caught.value.message
    for name in SCHEMA.names:
        assert repr(name) in caught.value.message


def test_missing_feature_names_are_rejected_and_suggest_null() -> None:
    with pytest.raises(InputError) as caught:
        SCHEMA.row_from_mapping({"plan": "gold"})
    assert caught.value.reason == "missing_feature"
    assert "'request_rate', 'error_ratio'" in caught.value.message
    assert "null" in caught.value.message


def test_mapping_values_are_checked_like_vector_values() -> None:
    with pytest.raises(InputError) as caught:
        SCHEMA.row_from_mapping({"plan": "gold", "request_rate": "fast", "error_ratio": 0})
    assert caught.value.reason == "non_numeric"


def test_to_dict_from_dict_round_trip_through_json() -> None:
    items = json.loads(json.dumps(SCHEMA.to_dict()))
    assert items[0] == {"name": "plan", "kind": "categorical", "categories": ["1", "3", "gold"]}
    restored = FeatureSchema.from_dict(items, ignored=["client_id", "plan"])
    assert restored == SCHEMA
    assert restored.ignored == {"client_id"}  # a feature is never ignored
    assert restored.row_from_mapping({"plan": 1, "request_rate": 2, "error_ratio": 3}) == [
        "1",
        2.0,
        3.0,
    ]


def test_integers_become_floats_and_huge_ones_are_refused_not_crashing() -> None:
    huge_category = FeatureSchema((Feature("plan", "categorical", ("1" + "0" * 400,)),))
    assert huge_category.row_from_vector([10**400]) == ["1" + "0" * 400]
    row = SCHEMA.row_from_vector(["gold", 7, -(2**53) - 1])
    assert row == ["gold", 7.0, float(-(2**53) - 1)]
    assert [type(v) for v in row] == [str, float, float]
    for huge in (10**400, -(10**400)):
        with pytest.raises(InputError) as caught:
            SCHEMA.row_from_vector(["gold", huge, 0.5])
        assert caught.value.reason == "non_finite"
        assert "request_rate" in caught.value.message
    with pytest.raises(InputError, match="too long for a category"):
        SCHEMA.row_from_vector([10**5000, 1, 0.5])


def test_coerce_frame_selects_orders_and_types_columns() -> None:
    frame = pd.DataFrame(
        {
            "extra": ["ignored", "ignored", "ignored"],
            "error_ratio": ["0.5", "oops", None],
            "request_rate": [1, 2, 3],
            "plan": [3.0, None, "gold"],
        }
    )
    coerced = SCHEMA.coerce_frame(frame)
    assert list(coerced.columns) == SCHEMA.names
    assert coerced["request_rate"].dtype == np.float64
    assert coerced["error_ratio"].dtype == np.float64
    assert coerced["plan"].dtype == object
    assert coerced["error_ratio"].iloc[0] == 0.5
    assert coerced["error_ratio"].iloc[1:].isna().all()
    assert coerced["plan"].iloc[0] == "3"
    assert pd.isna(coerced["plan"].iloc[1])
    assert coerced["plan"].iloc[2] == "gold"
    assert list(coerced.index) == list(frame.index)


@pytest.mark.parametrize("dtype", [object, "str"], ids=["object", "pandas-str"])
def test_text_columns_take_the_fast_path_and_match_the_per_value_path(dtype) -> None:
    from anomaly_detector.data.feature_schema import _category_string

    text = pd.Series(["gold", None, "3", "silver", np.nan], dtype=dtype)
    coerced = categorical_series(text)
    per_value = pd.Series(
        [None if pd.isna(v) else _category_string(v) for v in text.astype(object)], dtype=object
    ).where(text.notna(), np.nan)
    assert coerced.dtype == object
    pd.testing.assert_series_equal(coerced, per_value)


def test_mixed_columns_still_normalise_each_value() -> None:
    coerced = categorical_series(pd.Series(["gold", 3.0, 3, True, None], dtype=object))
    assert coerced.iloc[:4].tolist() == ["gold", "3", "3", "True"]
    assert pd.isna(coerced.iloc[4])


def test_coerce_frame_names_missing_columns() -> None:
    with pytest.raises(InputError) as caught:
        SCHEMA.coerce_frame(pd.DataFrame({"plan": ["gold"]}))
    assert caught.value.reason == "missing_feature"
    assert "'request_rate', 'error_ratio'" in caught.value.message


def test_frame_from_rows_matches_coerce_frame_of_the_same_values() -> None:
    rows = [SCHEMA.row_from_vector(["gold", 1, 0.5]), SCHEMA.row_from_vector([None, None, 2])]
    frame = SCHEMA.frame_from_rows(rows)
    expected = SCHEMA.coerce_frame(
        pd.DataFrame({"plan": ["gold", None], "request_rate": [1, None], "error_ratio": [0.5, 2]})
    )
    pd.testing.assert_frame_equal(frame, expected)


@pytest.mark.parametrize(
    ("position", "value"),
    [(0, 7), (0, [1]), (0, math.inf), (1, "fast"), (1, math.nan), (2, None)],
)
def test_a_value_error_names_its_feature_for_a_form_to_point_at(position, value) -> None:
    schema = FeatureSchema(SCHEMA.features, accepts_missing=False)
    vector: list = ["gold", 1.0, 0.5]
    vector[position] = value
    with pytest.raises(InputError) as caught:
        schema.row_from_vector(vector)
    assert caught.value.feature == SCHEMA.names[position]
    with pytest.raises(InputError) as shape:
        schema.row_from_vector(vector[:2])
    assert shape.value.feature is None  # about the row, not one feature


def test_numpy_scalars_from_a_data_frame_row_are_numbers_and_categories() -> None:
    frame = pd.DataFrame({"plan": [3], "request_rate": [np.int64(7)], "error_ratio": [0.5]})
    row = SCHEMA.row_from_mapping(frame.iloc[0].to_dict())
    assert row == ["3", 7.0, 0.5] and all(type(v) is float for v in row[1:])
    assert SCHEMA.row_from_vector([np.str_("gold"), np.float32(2.5), np.int8(1)]) == [
        "gold", 2.5, 1.0,
    ]  # fmt: skip
    for value in (np.True_, np.float64("nan")):
        with pytest.raises(InputError, match="request_rate"):
            SCHEMA.row_from_vector(["gold", value, 0.5])


def test_unreadable_numbers_counts_text_cells_but_not_blanks_or_numbers() -> None:
    frame = pd.DataFrame(
        {"plan": ["x", "gold", "1"], "request_rate": ["1.5", " ", "fast"], "error_ratio": [1, 2, 3]}
    )
    assert SCHEMA.unreadable_numbers(frame) == {"request_rate": (1, "fast")}
    assert SCHEMA.unreadable_numbers(frame.assign(request_rate=[1.0, None, 2.0])) == {}
