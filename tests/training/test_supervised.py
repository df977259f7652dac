"""Supervised training on the API-traffic data: accuracy, calibration figures, thresholds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from anomaly_detector.data.synthetic.traffic import ANOMALY_TYPE_COLUMN, LABEL_COLUMN
from anomaly_detector.errors import InputError
from anomaly_detector.scoring.scorer import Scorer
from anomaly_detector.training.recommendation import apply_recommendation
from anomaly_detector.training.train import TrainConfig, train
from factories import labelled_traffic, train_supervised_small


@pytest.fixture(scope="module")
def labelled() -> pd.DataFrame:
    """Labelled traffic as in test.csv (make data writes it with these settings)."""
    return labelled_traffic(n_rows=5000, seed=7, contamination=0.1)


def test_hold_out_roc_auc_and_the_recommended_threshold_on_rows_nothing_was_chosen_on(labelled):
    """Four folds: train on three, score the fourth; thresholds chosen at training only."""
    folds = StratifiedKFold(4, shuffle=True, random_state=0)
    truth_all, scores_all, f1s = [], [], {"best_f1": [], "default": [], "training_rate": []}
    for fit, held in folds.split(labelled, labelled[LABEL_COLUMN]):
        train_rows = labelled.iloc[fit].drop(columns=[ANOMALY_TYPE_COLUMN])
        result = train(train_rows, TrainConfig(task="supervised", label_column=LABEL_COLUMN))
        held_out = labelled.iloc[held]
        scores = Scorer(result.bundle).predict_frame(held_out).anomaly_score
        truth = held_out[LABEL_COLUMN].to_numpy() == 1
        thresholds = result.bundle.metadata["thresholds"]
        for name in f1s:
            group = "recommendations" if name == "best_f1" else "baselines"
            f1s[name].append(f1_score(truth, scores > thresholds[group][name]["threshold"]))
        truth_all.append(truth)
        scores_all.append(scores)
    assert roc_auc_score(np.concatenate(truth_all), np.concatenate(scores_all)) >= 0.99
    mean = {name: float(np.mean(values)) for name, values in f1s.items()}
    print("hold-out F1:", mean)
    assert mean["best_f1"] >= mean["default"] and mean["best_f1"] >= mean["training_rate"], mean


def test_binary_metrics_and_recommendations_are_in_model_json(labelled):
    result = train_supervised_small()
    meta = result.bundle.metadata
    assert meta["task"] == "supervised" and meta["classes"] == ["0", "1"]
    validation = meta["evaluation"]["validation"]
    expected = ["roc_auc", "pr_auc", "brier", "expected_calibration_error", "macro_f1"]
    expected += ["classification_report", "confusion_matrix", "roc_points", "reliability"]
    for key in expected:
        assert key in validation, key
    assert sum(map(sum, validation["confusion_matrix"]["matrix"])) == validation["rows"]
    thresholds = meta["thresholds"]
    assert set(thresholds["recommendations"]) == {"best_f1", "within_budget", "min_precision"}
    budget = thresholds["recommendations"]["within_budget"]
    assert budget["alert_rate"] <= 0.02
    rates = [row["alert_rate"] for row in thresholds["table"]]
    assert rates == sorted(rates) and len(rates) >= 5


def test_applying_a_recommendation_changes_decisions(labelled):
    result = train_supervised_small()
    bundle = result.bundle
    rows = labelled.drop(columns=[LABEL_COLUMN, ANOMALY_TYPE_COLUMN]).head(2000)
    before = Scorer(bundle).predict_frame(rows)
    threshold = apply_recommendation(bundle, "min_precision")
    after = Scorer(bundle).predict_frame(rows)
    assert bundle.threshold == threshold != 0.5
    changed = before.is_inlier != after.is_inlier
    assert changed.any()
    assert np.array_equal(after.is_inlier, after.anomaly_score <= threshold)
    with pytest.raises(InputError, match="no recommendation 'nope'"):
        apply_recommendation(bundle, "nope")


def test_multi_class_labels_probabilities_and_class_weights(labelled):
    result = train_supervised_small(label_column=ANOMALY_TYPE_COLUMN)
    bundle = result.bundle
    assert bundle.classes[0] == "none" and len(bundle.classes) == 6
    metrics = bundle.metadata["evaluation"]["validation"]
    assert 0.5 < metrics["macro_f1"] <= 1 and metrics["expected_calibration_error"] < 0.1
    prediction = Scorer(bundle).predict_frame(labelled.head(300))
    np.testing.assert_allclose(prediction.probabilities.sum(axis=1), 1.0, atol=1e-12)
    assert set(prediction.label) <= set(bundle.classes)
    assert np.array_equal(prediction.is_inlier, prediction.label == "none")
    weights = bundle.metadata["thresholds"]["class_weights"]
    assert weights["macro_f1"] >= weights["argmax_macro_f1"]
    apply_recommendation(bundle, "class_weights")
    assert bundle.decision.class_weights == tuple(weights["class_weights"])


def test_a_column_that_is_a_function_of_the_label_is_dropped_as_a_leak(labelled):
    config = TrainConfig(
        task="supervised", label_column=ANOMALY_TYPE_COLUMN, params={"max_iter": 10}
    )
    result = train(labelled.head(1500), config)
    assert "leak" in result.profile.dropped[LABEL_COLUMN]
    assert LABEL_COLUMN not in result.bundle.schema.names


def test_unknown_categories_and_missing_values_get_an_answer(labelled):
    bundle = train_supervised_small().bundle
    scorer = Scorer(bundle)
    row = bundle.schema.row_from_mapping(
        {
            **labelled.iloc[0].drop([LABEL_COLUMN, ANOMALY_TYPE_COLUMN]).to_dict(),
            "client_type": "never-seen",
            "error_ratio": None,
        }  # fmt: skip
    )
    prediction = scorer.predict_one(row)
    assert prediction.label in bundle.classes and 0 <= prediction.anomaly_score <= 1
    assert abs(sum(prediction.probabilities) - 1) < 1e-12


def test_supervised_training_refuses_what_it_cannot_learn(labelled):
    frame = labelled.drop(columns=[ANOMALY_TYPE_COLUMN])
    with pytest.raises(InputError, match="pass --label-column"):
        train(frame, TrainConfig(task="supervised"))
    with pytest.raises(InputError, match="single value"):
        train(frame.assign(is_anomaly=0), TrainConfig(task="supervised", label_column=LABEL_COLUMN))
    with pytest.raises(InputError, match="unsupervised"):
        train(frame, TrainConfig(task="supervised", label_column=LABEL_COLUMN, detector="lof"))
