"""Tests for the training path: determinism, thresholds, evaluation and input errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anomaly_detector.data.synthetic.traffic import generate_traffic
from anomaly_detector.errors import InputError
from anomaly_detector.training.metadata import frame_sha256
from anomaly_detector.training.report import describe, training_summary
from anomaly_detector.training.train import TrainConfig, train


def _config(n_estimators: int | None = None, random_state: int | None = None, **options):
    """``TrainConfig`` of the forest (unless ``detector`` says otherwise), params as keywords."""
    params = {"n_estimators": n_estimators, "random_state": random_state}
    options.setdefault("detector", "isolation_forest")
    return TrainConfig(
        params={k: v for k, v in params.items() if v is not None},
        **options,
    )


LABELS = ["is_anomaly", "anomaly_type"]
METRICS = ("roc_auc", "pr_auc", "precision", "recall", "f1", "alert_rate")


def _scores(result, frame: pd.DataFrame) -> np.ndarray:
    return result.bundle.reference_scores(frame)


def test_same_data_and_seed_give_identical_scores(traffic_frame: pd.DataFrame) -> None:
    config = _config(n_estimators=25, random_state=3, contamination=0.05)
    first, second = train(traffic_frame, config), train(traffic_frame, config)
    np.testing.assert_array_equal(_scores(first, traffic_frame), _scores(second, traffic_frame))
    assert first.bundle.threshold == second.bundle.threshold
    assert first.bundle.schema == second.bundle.schema


def test_different_seed_gives_different_scores(traffic_frame: pd.DataFrame) -> None:
    first = train(traffic_frame, _config(n_estimators=25, random_state=1))
    second = train(traffic_frame, _config(n_estimators=25, random_state=2))
    assert not np.allclose(_scores(first, traffic_frame), _scores(second, traffic_frame))


@pytest.mark.parametrize("contamination", [0.02, 0.05, 0.1])
def test_contamination_sets_the_share_of_training_rows_above_threshold(
    traffic_frame: pd.DataFrame, contamination: float
) -> None:
    result = train(traffic_frame, _config(n_estimators=25, contamination=contamination))
    above = (_scores(result, traffic_frame) > result.bundle.threshold).mean()
    assert above == pytest.approx(contamination, abs=0.005)
    reference = result.bundle.metadata["reference_scores"]
    assert reference["alert_rate"] == pytest.approx(above)


def test_without_contamination_the_threshold_is_the_papers_boundary(traffic_frame) -> None:
    result = train(traffic_frame, _config(n_estimators=25))
    assert result.bundle.threshold == 0.5
    assert result.bundle.decision.contamination is None
    assert result.bundle.metadata["decision"] == {"threshold": 0.5, "contamination": None}


def test_a_threshold_flagging_far_more_than_usual_is_warned_about(traffic_frame) -> None:
    frame = traffic_frame.drop(columns=LABELS)
    loose = train(frame, _config(n_estimators=25))  # the paper's 0.5 flags ~10% here
    assert loose.bundle.metadata["reference_scores"]["alert_rate"] > 0.10
    (warning,) = loose.warnings
    assert "--contamination" in warning and "%" in warning
    assert "warning: " + warning in describe(loose)
    assert train(frame, _config(n_estimators=25, contamination=0.03)).warnings == []


@pytest.mark.parametrize("contamination", ["lots", 0, 0.7, -0.1])
def test_a_contamination_outside_the_range_is_an_input_error(traffic_frame, contamination):
    with pytest.raises(
        InputError, match=r"contamination must be 'auto' or a fraction in \(0, 0.5\]"
    ):
        train(traffic_frame, _config(contamination=contamination))


def test_the_schema_ignores_the_columns_training_left_out(traffic_frame) -> None:
    result = train(traffic_frame, _config(n_estimators=10, label_column="is_anomaly"))
    assert result.bundle.schema.ignored == {
        "client_id", "window_start", "anomaly_type", "is_anomaly",
    }  # fmt: skip


def test_labelled_training_is_evaluated_and_ranks_anomalies(traffic_frame: pd.DataFrame) -> None:
    result = train(traffic_frame, _config(n_estimators=25, label_column="is_anomaly"))
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
        train_frame, _config(n_estimators=25, label_column="is_anomaly"), test_frame=test_frame
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
        _config(n_estimators=25, label_column="is_anomaly"),
        test_frame=test_frame,
    )
    assert result.evaluation["test"]["rows"] == 250


def test_metadata_describes_the_training_data(traffic_frame: pd.DataFrame) -> None:
    result = train(traffic_frame, _config(n_estimators=25), source="traffic.csv")
    training = result.bundle.metadata["training"]
    assert training["rows"] == len(traffic_frame)
    assert training["source"] == "traffic.csv"
    assert training["data_sha256"] == frame_sha256(traffic_frame)
    assert frame_sha256(traffic_frame.iloc[:-1]) != training["data_sha256"]


def test_describe_and_summary_report_what_training_decided(traffic_frame: pd.DataFrame) -> None:
    result = train(traffic_frame, _config(n_estimators=25, label_column="is_anomaly"))
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
        train(traffic_frame, _config(label_column="target"))
    assert "'target'" in caught.value.message
    assert "client_type" in caught.value.message


def test_label_column_in_features_is_rejected(traffic_frame: pd.DataFrame) -> None:
    config = _config(label_column="is_anomaly", features=["request_rate", "is_anomaly"])
    with pytest.raises(InputError, match="cannot be a feature"):
        train(traffic_frame, config)


def test_test_frame_without_its_label_is_rejected(traffic_frame: pd.DataFrame) -> None:
    unlabelled = traffic_frame.drop(columns=LABELS)
    with pytest.raises(InputError, match="label column"):
        train(traffic_frame, _config(n_estimators=25), test_frame=unlabelled)


def test_unknown_detector_is_rejected(traffic_frame: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="unknown or untrainable detector 'magic'"):
        train(traffic_frame, _config(detector="magic"))


def test_an_adoption_only_detector_cannot_be_trained(traffic_frame: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="train one of: isolation_forest"):
        train(traffic_frame, _config(detector="sklearn_outlier"))


def test_bad_parameter_values_come_back_as_input_errors(traffic_frame: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="isolation_forest.*n_estimators"):
        train(traffic_frame, TrainConfig(detector="isolation_forest", params={"n_estimators": -3}))
