"""Explanations for every model type add up to the model's output, in the features' units."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble._iforest import _average_path_length

from anomaly_detector.data.synthetic.traffic import ANOMALY_TYPE_COLUMN, LABEL_COLUMN
from anomaly_detector.detectors import registry
from anomaly_detector.errors import InputError
from anomaly_detector.scoring import explanation
from anomaly_detector.scoring.scorer import Scorer
from factories import labelled_traffic, train_small, train_supervised_small

MODELS = [("unsupervised", name) for name in registry.trainable()] + [
    ("supervised", LABEL_COLUMN),
    ("supervised", ANOMALY_TYPE_COLUMN),
]


@pytest.fixture(scope="module")
def rows():
    """Random rows of labelled traffic, anomalies among them, as clients send them."""
    frame = labelled_traffic(n_rows=400, seed=5, contamination=0.3).sample(12, random_state=1)
    return frame.drop(columns=[LABEL_COLUMN, ANOMALY_TYPE_COLUMN])


def _bundle(task, name):
    if task == "supervised":
        return train_supervised_small(label_column=name).bundle
    return train_small(detector=name, contamination=0.05).bundle


@pytest.mark.parametrize(("task", "name"), MODELS, ids=[m[1] for m in MODELS])
def test_contributions_plus_base_equal_the_output(task, name, rows):
    bundle = _bundle(task, name)
    scorer = Scorer(bundle)
    for record in rows.to_dict("records"):
        row = bundle.schema.row_from_mapping(record)
        explained = scorer.explain(row)
        total = explained.base_value + sum(explained.contributions.values())
        assert abs(total - explained.value) < 1e-6, (name, total, explained.value)
        assert list(explained.contributions) == bundle.schema.names
        prediction = scorer.predict_one(row)
        if task == "supervised" and len(bundle.classes) == 2:
            assert abs(1 / (1 + np.exp(-explained.value)) - prediction.anomaly_score) < 1e-9
        elif name == "isolation_forest":
            c = _average_path_length([bundle.detector.estimator_._max_samples])[0]
            assert abs(2 ** (explained.value / c) - prediction.anomaly_score) < 1e-9
        elif task == "unsupervised":
            assert abs(explained.value - prediction.raw_score) < 1e-9
        assert explained.sentence


def test_the_sentence_names_the_feature_that_made_the_anomaly(rows):
    bundle = train_small(detector="isolation_forest", contamination=0.05).bundle
    scorer = Scorer(bundle)
    typical = explanation.typical_row(bundle.schema, bundle.metadata["feature_stats"])
    failures = bundle.schema.names.index("auth_failures")
    row = list(typical)
    row[failures] = 500.0
    explained = scorer.explain(row)
    assert explained.features[0]["name"] == "auth_failures"
    assert explained.sentence.startswith("flagged mainly because auth_failures = 500")
    median = bundle.metadata["feature_stats"]["auth_failures"]["median"]
    assert f"(training median {median:.4g})" in explained.sentence
    assert explained.features[0]["training_range"][0] <= median


def test_baseline_shapley_recovers_an_additive_function_exactly_and_by_sampling():
    weights = np.arange(1.0, 15.0)

    def score(rows):
        return np.sin(rows) @ weights

    for d in (6, 14):  # exact enumeration, then sampled orders
        row, baseline = np.linspace(-1, 2, d), np.zeros(d)
        padded = 14 - d

        def padded_score(mixes, padded=padded):
            return score(np.pad(mixes, ((0, 0), (0, padded))))

        phi = explanation.baseline_shapley(padded_score, row, baseline)
        np.testing.assert_allclose(phi, weights[:d] * np.sin(row), atol=1e-9)


def test_baseline_shapley_keeps_the_sum_for_interactions():
    def score(rows):
        return rows[:, 0] * rows[:, 1] * rows[:, 2] + rows[:, 3:].sum(axis=1) ** 2

    for d in (5, 12):
        row, baseline = np.random.default_rng(d).normal(size=d), np.zeros(d)
        phi = explanation.baseline_shapley(score, row, baseline)
        assert abs(phi.sum() - (score(row[None])[0] - score(baseline[None])[0])) < 1e-9


def test_a_model_without_training_statistics_says_how_to_fix_it():
    bundle = train_small(detector="hbos").bundle
    bundle.metadata.pop("feature_stats")
    with pytest.raises(InputError, match="retrain"):
        Scorer(bundle).explain([None] * len(bundle.schema))
