"""Tests for column profiling on messy CSVs and for the fitted preprocessor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomaly_detector.data.profiling import profile_columns
from anomaly_detector.data.reading import read_csv
from anomaly_detector.errors import InputError

# Column of the messy CSV -> a word its drop reason must contain.
DROPPED = {
    "Unnamed: 0": "identifier",
    "row_number": "identifier",
    "session_uuid": "UUID",
    "username": "identifier",
    "seen_at": "timestamp",
    "constant": "constant",
    "all_empty": "empty",
    "attack_kind": "label",
}
# Column of the messy CSV -> the feature kind it must get.
KEPT = {
    "amount_text": "numeric",
    "is_mobile": "categorical",
    "color": "categorical",
    "bytes_sent": "log_numeric",
    "temperature": "numeric",
    "balance_change": "numeric",
}


def _csv(tmp_path: Path, frame: pd.DataFrame) -> pd.DataFrame:
    """Round-trip ``frame`` through a real CSV file, as a user's data arrives."""
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return read_csv(path)


def test_messy_csv_has_the_columns_the_cases_describe(messy_frame: pd.DataFrame) -> None:
    assert set(messy_frame.columns) == {*DROPPED, *KEPT, "label"}
    assert messy_frame["Unnamed: 0"].tolist() == list(range(len(messy_frame)))
    assert messy_frame["all_empty"].isna().all()
    assert not pd.api.types.is_numeric_dtype(messy_frame["amount_text"])


@pytest.mark.parametrize(("column", "reason_word"), DROPPED.items())
def test_messy_column_is_dropped_with_reason(
    messy_frame: pd.DataFrame, column: str, reason_word: str
) -> None:
    profile = profile_columns(messy_frame, label_column="label")
    assert column not in profile.schema.names
    assert reason_word.lower() in profile.dropped[column].lower()


@pytest.mark.parametrize(("column", "kind"), KEPT.items())
def test_messy_column_is_kept_with_kind(messy_frame: pd.DataFrame, column: str, kind: str) -> None:
    profile = profile_columns(messy_frame, label_column="label")
    features = {f.name: f for f in profile.schema.features}
    assert features[column].kind == kind
    assert column not in profile.dropped


def test_messy_profile_keeps_csv_column_order_and_drops_nothing_silently(
    messy_frame: pd.DataFrame,
) -> None:
    profile = profile_columns(messy_frame, label_column="label")
    order = [c for c in messy_frame.columns if c in profile.schema.names]
    assert profile.schema.names == order
    assert set(profile.schema.names) | set(profile.dropped) | {"label"} == set(messy_frame)


def test_categorical_features_list_their_training_categories(messy_frame: pd.DataFrame) -> None:
    features = {f.name: f for f in profile_columns(messy_frame, "label").schema.features}
    assert features["color"].categories == ("blue", "green", "red")
    assert features["is_mobile"].categories == ("False", "True")


def test_text_numbers_with_garbage_cells_become_floats_with_nan(
    messy_frame: pd.DataFrame,
) -> None:
    raw = messy_frame["amount_text"]
    parsed = pd.to_numeric(raw, errors="coerce")
    garbage = raw.notna() & parsed.isna()
    assert garbage.sum() >= 2  # "?" and "--"; pandas itself reads "n/a" as missing
    schema = profile_columns(messy_frame, "label").schema
    amounts = schema.coerce_frame(messy_frame)["amount_text"]
    assert amounts.dtype == np.float64
    assert amounts.isna().tolist() == (raw.isna() | garbage).tolist()
    kept = amounts.notna()
    assert amounts[kept].tolist() == [float(value) for value in raw[kept]]


@pytest.mark.parametrize("label_values", ["numeric", "bool", "text"])
def test_label_column_is_never_a_feature(tmp_path: Path, label_values: str) -> None:
    rng = np.random.default_rng(1)
    is_anomaly = rng.random(200) < 0.2
    label = {
        "numeric": is_anomaly.astype(int),
        "bool": is_anomaly,
        "text": np.where(is_anomaly, "attack", "normal"),
    }[label_values]
    frame = _csv(tmp_path, pd.DataFrame({"x": rng.normal(size=200), "target": label}))
    profile = profile_columns(frame, label_column="target")
    assert profile.schema.names == ["x"]
    assert "target" not in profile.dropped


def test_column_determined_by_label_is_dropped_but_an_unrelated_one_is_kept(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(2)
    is_anomaly = rng.random(400) < 0.1
    kinds = rng.choice(["scan", "flood"], 400)
    frame = _csv(
        tmp_path,
        pd.DataFrame(
            {
                "is_anomaly": is_anomaly.astype(int),
                "anomaly_type": np.where(is_anomaly, kinds, "none"),
                "region": rng.choice(["eu", "us", "apac"], 400),
                "x": rng.normal(size=400),
            }
        ),
    )
    profile = profile_columns(frame, label_column="is_anomaly")
    assert "leak" in profile.dropped["anomaly_type"]
    assert profile.schema.names == ["region", "x"]
    # Without a label column nothing says anomaly_type leaks, so it is an ordinary feature.
    assert "anomaly_type" in profile_columns(frame).schema.names


@pytest.mark.parametrize("seed", range(5))
def test_negative_values_are_never_log_scaled(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    heavy = rng.lognormal(3, 2, 500)
    frame = _csv(tmp_path, pd.DataFrame({"heavy": heavy, "shifted": heavy - heavy.min() - 1}))
    features = {f.name: f.kind for f in profile_columns(frame).schema.features}
    assert features == {"heavy": "log_numeric", "shifted": "numeric"}


def test_small_values_stay_linear_even_when_skewed(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    frame = _csv(tmp_path, pd.DataFrame({"ratio": rng.beta(0.3, 5, 500)}))
    assert profile_columns(frame).schema.features[0].kind == "numeric"


def test_forced_features_are_used_in_the_given_order(messy_frame: pd.DataFrame) -> None:
    wanted = ["temperature", "username", "constant"]
    profile = profile_columns(messy_frame, label_column="label", features=wanted)
    assert profile.schema.names == wanted
    assert [f.kind for f in profile.schema.features] == ["numeric", "categorical", "numeric"]
    assert profile.dropped == {}


def test_forcing_an_unknown_column_names_it_and_lists_the_columns(
    messy_frame: pd.DataFrame,
) -> None:
    with pytest.raises(InputError) as caught:
        profile_columns(messy_frame, features=["temperature", "no_such_column"])
    assert "no_such_column" in caught.value.message
    assert "temperature" not in caught.value.message.split(";")[0]
    assert "bytes_sent" in caught.value.message


def test_no_usable_columns_lists_every_reason(tmp_path: Path) -> None:
    frame = _csv(
        tmp_path,
        pd.DataFrame(
            {
                "order_id": range(50),
                "created": pd.date_range("2024-01-01", periods=50, freq="h").astype(str),
                "flat": ["same"] * 50,
            }
        ),
    )
    with pytest.raises(InputError) as caught:
        profile_columns(frame)
    message = caught.value.message
    assert message.startswith("no usable feature columns")
    for column, word in [
        ("order_id", "identifier"),
        ("created", "timestamp"),
        ("flat", "constant"),
    ]:
        assert f"{column}: {word}" in message
