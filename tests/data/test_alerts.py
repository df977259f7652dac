"""The alert-priority dataset: deterministic, realistic in shape, learnable but noisy."""

from __future__ import annotations

import pandas as pd

from anomaly_detector.data.synthetic.alerts import (
    PRIORITIES,
    PRIORITY_COLUMN,
    generate_alerts,
    write_alerts,
)
from anomaly_detector.training.report import describe
from anomaly_detector.training.train import TrainConfig, train


def test_same_seed_same_alerts_other_seed_other_alerts():
    pd.testing.assert_frame_equal(generate_alerts(500, seed=3), generate_alerts(500, seed=3))
    assert not generate_alerts(500, seed=3).equals(generate_alerts(500, seed=4))


def test_columns_priorities_and_blanks_look_like_a_soc_export():
    frame = generate_alerts(5000)
    assert list(frame.columns) == [
        "alert_id", "created_at", "alert_type", "source_ip_risk", "user_risk_score",
        "failed_logins_24h", "impossible_travel", "asset_criticality", "historical_fp_rate",
        PRIORITY_COLUMN,
    ]  # fmt: skip
    shares = frame[PRIORITY_COLUMN].value_counts(normalize=True)
    assert set(shares.index) == set(PRIORITIES)
    assert 0.5 < shares["low"] < 0.7 and 0.05 < shares["high"] < 0.2
    assert 0 < frame["user_risk_score"].isna().mean() < 0.05
    assert frame["alert_id"].is_unique and frame["source_ip_risk"].dropna().between(0, 1).all()
    # High priority is where the risk is: critical assets and risky sources.
    high = frame[frame[PRIORITY_COLUMN] == "high"]
    assert high["source_ip_risk"].mean() > frame["source_ip_risk"].mean()


def test_written_files_train_a_classifier_with_macro_f1_and_calibration_in_the_summary(tmp_path):
    train_path, test_path = write_alerts(tmp_path, train_rows=3000, test_rows=1000)
    result = train(
        pd.read_csv(train_path),
        TrainConfig(task="supervised", label_column=PRIORITY_COLUMN, params={"max_iter": 60}),
        test_frame=pd.read_csv(test_path),
    )
    assert result.bundle.classes == ("low", "medium", "high")  # ordinal order kept
    test = result.bundle.metadata["evaluation"]["test"]
    assert 0.6 < test["macro_f1"] < 0.95  # learnable, but noisy labels cap it
    assert test["expected_calibration_error"] < 0.08
    summary = describe(result)
    assert "macro_f1=" in summary and "expected_calibration_error=" in summary
    assert {"alert_id", "created_at"} <= set(result.profile.dropped)
