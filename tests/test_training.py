"""Tests for the training path: determinism, thresholds, evaluation and input errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomaly_detector.datagen import generate_traffic
from anomaly_detector.schema import InputError
from anomaly_detector.training import (
    TrainConfig,
    describe,
    frame_sha256,
    read_csv,
    train,
    training_summary,
)

LABELS = ["is_anomaly", "anomaly_type"]
METRICS = ("roc_auc", "pr_auc", "precision", "recall", "f1", "alert_rate")


def _scores(result, frame: pd.DataFrame) -> np.ndarray:
    bundle = result.bundle
    return -bundle.pipeline.score_samples(bundle.schema.coerce_frame(frame))


def test_same_data_and_seed_give_identical_scores(traffic_frame: pd.DataFrame) -> None:
    config = TrainConfig(n_estimators=25, random_state=3, contamination=0.05)
    first, second = train(traffic_frame, config), train(traffic_frame, config)
    np.testing.assert_array_equal(_scores(first, traffic_frame), _scores(second, traffic_frame))
    assert first.bundle.threshold == second.bundle.threshold
    assert first.bundle.schema == second.bundle.schema


def test_different_seed_gives_different_scores(traffic_frame: pd.DataFrame) -> None:
    first = train(traffic_frame, TrainConfig(n_estimators=25, random_state=1))
    second = train(traffic_frame, TrainConfig(n_estimators=25, random_state=2))
    assert not np.allclose(_scores(first, traffic_frame), _scores(second, traffic_frame))


@pytest.mark.parametrize("contamination", [0.02, 0.05, 0.1])
def test_contamination_sets_the_share_of_training_rows_above_threshold(
    traffic_frame: pd.DataFrame, contamination: float
) -> None:
    result = train(traffic_frame, TrainConfig(n_estimators=25, contamination=contamination))
    above = (_scores(result, traffic_frame) > result.bundle.threshold).mean()
    assert above == pytest.approx(contamination, abs=0.005)
    reference = result.bundle.metadata["reference_scores"]
    assert reference["alert_rate"] == pytest.approx(above)


def test_default_threshold_is_the_isolation_forest_offset(traffic_frame: pd.DataFrame) -> None:
    result = train(traffic_frame, TrainConfig(n_estimators=25))
    assert result.bundle.threshold == 0.5  # contamination="auto": offset_ is -0.5
    assert result.bundle.metadata["params"]["contamination"] == "auto"


def test_labelled_training_is_evaluated_and_ranks_anomalies(traffic_frame: pd.DataFrame) -> None:
    result = train(traffic_frame, TrainConfig(n_estimators=25, label_column="is_anomaly"))
    assert set(result.evaluation) == {"train"}
    metrics = result.evaluation["train"]
    assert set(METRICS) <= set(metrics)
    assert metrics["rows"] == len(traffic_frame)
    assert metrics["anomalies"] == int(traffic_frame["is_anomaly"].sum())
    assert metrics["roc_auc"] > 0.8
    assert "'1'" in result.label_rule
    assert set(LABELS).isdisjoint(result.bundle.schema.names)
    assert result.bundle.metadata["training"]["label_column"] == "is_anomaly"


def test_unlabelled_train_with_labelled_test_frame(traffic_frame: pd.DataFrame) -> None:
    """The default dataset's layout: labels only in the hold-out set."""
    train_frame = traffic_frame.drop(columns=LABELS)
    test_frame = generate_traffic(600, 0.1, seed=99)
    result = train(
        train_frame, TrainConfig(n_estimators=25, label_column="is_anomaly"), test_frame=test_frame
    )
    assert set(result.evaluation) == {"test"}
    metrics = result.evaluation["test"]
    assert metrics["rows"] == 600
    assert metrics["anomalies"] == int(test_frame["is_anomaly"].sum())
    assert metrics["roc_auc"] > 0.8
    assert result.label_rule is not None
    assert result.bundle.metadata["evaluation"]["test"] == metrics


def test_test_rows_without_a_label_are_not_evaluated(traffic_frame: pd.DataFrame) -> None:
    test_frame = generate_traffic(300, 0.1, seed=5).astype({"is_anomaly": "float64"})
    test_frame.loc[:49, "is_anomaly"] = np.nan
    result = train(
        traffic_frame.drop(columns=LABELS),
        TrainConfig(n_estimators=25, label_column="is_anomaly"),
        test_frame=test_frame,
    )
    assert result.evaluation["test"]["rows"] == 250


def test_metadata_describes_the_training_data(traffic_frame: pd.DataFrame) -> None:
    result = train(traffic_frame, TrainConfig(n_estimators=25), source="traffic.csv")
    training = result.bundle.metadata["training"]
    assert training["rows"] == len(traffic_frame)
    assert training["source"] == "traffic.csv"
    assert training["data_sha256"] == frame_sha256(traffic_frame)
    assert frame_sha256(traffic_frame.iloc[:-1]) != training["data_sha256"]


def test_describe_and_summary_report_what_training_decided(traffic_frame: pd.DataFrame) -> None:
    result = train(traffic_frame, TrainConfig(n_estimators=25, label_column="is_anomaly"))
    text = describe(result)
    for name in result.profile.dropped:
        assert f"dropped column {name!r}" in text
    for name in result.bundle.schema.names:
        assert name in text
    assert "evaluation on train" in text and "roc_auc=" in text
    summary = training_summary(result)
    assert summary["version"] == result.bundle.version
    assert [f["name"] for f in summary["features"]] == result.bundle.schema.names
    assert summary["evaluation"]["train"]["roc_auc"] == result.evaluation["train"]["roc_auc"]


def test_empty_frame_is_an_input_error(traffic_frame: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="no rows"):
        train(traffic_frame.iloc[:0])


def test_missing_label_column_lists_the_columns(traffic_frame: pd.DataFrame) -> None:
    with pytest.raises(InputError) as caught:
        train(traffic_frame, TrainConfig(label_column="target"))
    assert "'target'" in caught.value.message
    assert "client_type" in caught.value.message


def test_label_column_in_features_is_rejected(traffic_frame: pd.DataFrame) -> None:
    config = TrainConfig(label_column="is_anomaly", features=["request_rate", "is_anomaly"])
    with pytest.raises(InputError, match="cannot be a feature"):
        train(traffic_frame, config)


def test_test_frame_without_its_label_is_rejected(traffic_frame: pd.DataFrame) -> None:
    unlabelled = traffic_frame.drop(columns=LABELS)
    with pytest.raises(InputError, match="label column"):
        train(traffic_frame, TrainConfig(n_estimators=25), test_frame=unlabelled)


def test_unknown_detector_is_rejected(traffic_frame: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="unknown detector"):
        train(traffic_frame, TrainConfig(detector="magic"))


def test_read_csv_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_csv(tmp_path / "absent.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="cannot read"):
        read_csv(empty)
