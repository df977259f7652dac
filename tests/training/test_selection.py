"""``--detector auto``: chosen on one half of the labelled hold-out, reported on the other."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anomaly_detector.data.synthetic.traffic import ANOMALY_TYPE_COLUMN, generate_traffic
from anomaly_detector.detectors import registry
from anomaly_detector.scoring.scorer import Scorer
from anomaly_detector.training import selection
from anomaly_detector.training.evaluation import evaluate
from anomaly_detector.training.train import TrainConfig, train
from factories import traffic

LABEL = "is_anomaly"


@pytest.fixture(scope="module")
def holdout() -> pd.DataFrame:
    """Labelled traffic of the next day, 10% anomalies (as test.csv)."""
    frame = generate_traffic(1_200, 0.10, seed=5, start="2026-12-01T00:00:00Z")
    return frame.drop(columns=[ANOMALY_TYPE_COLUMN])


@pytest.fixture(scope="module")
def progress() -> list[str]:
    return []


@pytest.fixture(scope="module")
def chosen(holdout, progress):
    config = TrainConfig(detector="auto", label_column=LABEL)
    return train(traffic(1_000, seed=4), config, holdout, progress=progress.append)


def test_every_detector_and_parameter_set_is_a_candidate():
    pairs = selection.candidates()
    names = {name for name, _ in pairs}
    assert names == set(registry.trainable()) - {"sklearn_outlier"}
    for name in names:
        spaces = [params for candidate, params in pairs if candidate == name]
        assert spaces == [dict(p) for p in registry.detector_class(name).search_space]
        assert 1 <= len(spaces) <= 6  # bounded: auto fits every one


def test_search_spaces_name_only_real_parameters():
    for name in registry.trainable():
        cls = registry.detector_class(name)
        known = {param.name for param in cls.params}
        for params in cls.search_space:
            assert set(params) <= known, (name, params)
            cls(**params)  # values the detector accepts


def test_the_winner_has_the_best_validation_pr_auc(chosen):
    record = chosen.bundle.metadata["selection"]
    assert record["strategy"] == "validation PR-AUC"
    fitted = [c for c in record["candidates"] if "error" not in c]
    assert len(fitted) == len(selection.candidates())
    best = max(fitted, key=lambda c: c["validation_pr_auc"])
    assert record["chosen"] == chosen.bundle.detector_name == best["detector"]
    for candidate in fitted:
        assert 0.0 <= candidate["validation_pr_auc"] <= 1.0
        assert candidate["fit_seconds"] >= 0


def test_reported_rows_took_no_part_in_the_choice(chosen, holdout):
    record = chosen.bundle.metadata["selection"]
    assert record["validation_rows"] + record["report_rows"] == len(holdout)
    test = chosen.evaluation["test"]
    assert test["rows"] == record["report_rows"]
    # The reported figures are those of the report half exactly.
    truth = holdout[LABEL].to_numpy(bool)
    _, _, report, report_truth = selection.split_holdout(holdout, truth)
    scores = Scorer(chosen.bundle).predict_frame(report).anomaly_score
    assert evaluate(scores, report_truth, chosen.bundle.threshold) == test


def test_halves_are_disjoint_and_stratified(holdout):
    truth = holdout[LABEL].to_numpy(bool)
    validation, validation_truth, report, report_truth = selection.split_holdout(holdout, truth)
    assert set(validation.index).isdisjoint(report.index)
    assert len(validation) + len(report) == len(holdout)
    assert abs(validation_truth.mean() - report_truth.mean()) < 0.01
    np.testing.assert_array_equal(validation_truth, truth[validation.index])


def test_without_labels_auto_is_the_documented_default():
    result = train(traffic(600, seed=2), TrainConfig(detector="auto"))
    name, _ = selection.UNLABELLED_CHOICE
    assert result.bundle.detector_name == name
    record = result.bundle.metadata["selection"]
    assert record["strategy"] == "unlabelled default" and "no labelled hold-out" in record["reason"]


def test_too_few_labelled_anomalies_fall_back_and_say_why(holdout):
    few = pd.concat([holdout[holdout[LABEL] == 0], holdout[holdout[LABEL] == 1].head(4)])
    messages: list[str] = []
    result = train(
        traffic(600, seed=2),
        TrainConfig(detector="auto", label_column=LABEL),
        few,
        progress=messages.append,
    )
    record = result.bundle.metadata["selection"]
    assert record["strategy"] == "unlabelled default" and "fewer than" in record["reason"]
    assert result.evaluation["test"]["rows"] == len(few)  # nothing was used to choose
    assert any("fewer than" in m for m in messages)


def test_progress_reports_every_candidate(chosen, progress):
    total = len(selection.candidates())
    assert sum(f"/{total}]" in message for message in progress) == total
    assert progress[-1].startswith("auto: chose")
