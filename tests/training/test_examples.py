"""The anomaly example a bundle keeps for people to try (training/examples.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from anomaly_detector.data.feature_schema import Feature, FeatureSchema
from anomaly_detector.data.synthetic.traffic import ANOMALY_TYPE_COLUMN, LABEL_COLUMN
from anomaly_detector.training.examples import anomaly_example
from anomaly_detector.training.train import TrainConfig, train
from factories import labelled_traffic, train_small, train_supervised_small

SCHEMA = FeatureSchema((Feature("kind", "categorical", ("a", "b")), Feature("x", "numeric")))
ROWS = pd.DataFrame({"kind": ["a", "b", None, "a", "b"], "x": [1.0, 2.0, 3.0, np.nan, 5.0],
                     "id": range(5)})  # fmt: skip


def test_the_example_is_the_median_scored_caught_anomaly():
    scores = np.array([0.1, 0.9, 0.7, 0.8, 0.95])
    truth = np.array([False, True, True, True, False])
    example = anomaly_example(ROWS, SCHEMA, scores, truth, scores > 0.75, "test")
    # Caught anomalies: rows 1 (0.9) and 3 (0.8); the median of two is the upper one.
    assert example["row"] == 1 and example["flagged"] and example["split"] == "test"
    assert example["features"] == {"kind": "b", "x": 2.0}
    assert json.loads(json.dumps(example)) == example


def test_missing_cells_are_null_and_uncaught_anomalies_give_the_highest_scored():
    scores = np.array([0.1, 0.2, 0.6, 0.5, 0.3])
    truth = np.array([False, False, True, True, False])
    example = anomaly_example(ROWS, SCHEMA, scores, truth, scores > 0.9, "validation")
    assert example["row"] == 2 and not example["flagged"]
    assert example["features"] == {"kind": None, "x": 3.0}
    none = anomaly_example(ROWS, SCHEMA, scores, np.zeros(5, bool), scores > 0.9, "test")
    assert none is None


def test_training_keeps_an_example_from_the_test_data_when_it_has_labels():
    frame = labelled_traffic(seed=1).drop(columns=[ANOMALY_TYPE_COLUMN])
    test = labelled_traffic(n_rows=800, seed=2).drop(columns=[ANOMALY_TYPE_COLUMN])
    config = TrainConfig(detector="isolation_forest", params={"n_estimators": 20},
                         contamination=0.05, label_column=LABEL_COLUMN)  # fmt: skip
    bundle = train(frame.drop(columns=[LABEL_COLUMN]), config, test_frame=test).bundle
    example = bundle.metadata["examples"]["anomaly"]
    assert example["split"] == "test" and example["flagged"]
    assert list(example["features"]) == bundle.schema.names
    # "row" counts the labelled test rows (here all of them).
    assert example["features"] == {
        name: (None if pd.isna(v) else v)
        for name, v in bundle.schema.coerce_frame(test.iloc[[example["row"]]]).iloc[0].items()
    }
    assert test[LABEL_COLUMN].iloc[example["row"]] == 1


def test_supervised_training_keeps_one_and_unlabelled_training_none():
    supervised = train_supervised_small().bundle
    example = supervised.metadata["examples"]["anomaly"]
    assert example["split"] == "validation" and example["flagged"]
    assert "examples" not in train_small().bundle.metadata
