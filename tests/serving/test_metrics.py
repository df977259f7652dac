"""Metrics live on the registry they are given; bulk observation equals one-by-one."""

from __future__ import annotations

import time

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from anomaly_detector.detectors import registry
from anomaly_detector.scoring.scorer import Scorer
from anomaly_detector.serving.loader import LoadedModel
from anomaly_detector.serving.metrics import REJECT_REASONS, Metrics, observe_many
from factories import train_small

BUCKETS = registry.score_buckets()


def test_each_app_gets_its_own_registry():
    first, second = Metrics(), Metrics()
    first.count_rejection("non_finite")
    assert (
        first.registry.get_sample_value(
            "anomaly_detector_rejected_requests_total", {"reason": "non_finite"}
        )
        == 1
    )
    assert (
        second.registry.get_sample_value(
            "anomaly_detector_rejected_requests_total", {"reason": "non_finite"}
        )
        == 0
    )


def test_reasons_exist_before_first_rejection():
    metrics = Metrics(CollectorRegistry())
    for reason in REJECT_REASONS:
        assert (
            metrics.registry.get_sample_value(
                "anomaly_detector_rejected_requests_total", {"reason": reason}
            )
            == 0
        )


def test_observe_many_equals_observe_one_by_one():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.uniform(0.0, 1.0, 5000), np.array(BUCKETS), [1.5]])
    one, many = Metrics(), Metrics()
    for value in values:
        one.anomaly_score.observe(float(value))
    observe_many(many.anomaly_score, values)
    for bound in [*map(str, BUCKETS), "+Inf"]:
        labels = {"le": bound}
        assert one.registry.get_sample_value(
            "anomaly_detector_anomaly_score_bucket", labels
        ) == many.registry.get_sample_value("anomaly_detector_anomaly_score_bucket", labels), bound
    assert many.registry.get_sample_value("anomaly_detector_anomaly_score_count") == len(values)
    assert np.isclose(
        many.registry.get_sample_value("anomaly_detector_anomaly_score_sum"), values.sum()
    )


def test_observe_scores_counts_outcomes():
    metrics = Metrics()
    metrics.observe_scores(
        np.array([0.4, 0.7, 0.8]), np.array([True, False, False]), endpoint="predictions"
    )
    value = metrics.registry.get_sample_value
    assert (
        value(
            "anomaly_detector_predictions_total", {"outcome": "inlier", "endpoint": "predictions"}
        )
        == 1
    )
    assert (
        value(
            "anomaly_detector_predictions_total", {"outcome": "anomaly", "endpoint": "predictions"}
        )
        == 2
    )
    assert value("anomaly_detector_anomaly_score_count") == 3


def _loaded(bundle, checksum_verified: bool = True) -> LoadedModel:
    return LoadedModel(
        bundle=bundle, scorer=Scorer(bundle), path=None, real_path=None, sha256="0" * 64,
        checksum_verified=checksum_verified, file_state=None, metadata_state=None,
        loaded_at=time.time(), load_seconds=0.1,
    )  # fmt: skip


def test_observe_model_publishes_the_identity_and_replaces_the_previous_one():
    metrics = Metrics()
    first = train_small(seed=1, contamination=0.05).bundle
    second = train_small(seed=2, contamination=0.02).bundle
    metrics.observe_model(_loaded(first))
    metrics.observe_model(_loaded(second, checksum_verified=False))
    value = metrics.registry.get_sample_value
    for bundle, expected in ((first, None), (second, 1)):
        labels = {"version": bundle.version, "detector": "isolation_forest"}
        assert value("anomaly_detector_model_info", labels) == expected
    assert value("anomaly_detector_model_threshold") == second.threshold
    quantiles = second.metadata["reference_scores"]["quantiles"]
    for quantile, reference in quantiles.items():
        labels = {"quantile": quantile}
        assert value("anomaly_detector_model_reference_score", labels) == reference
    assert value("anomaly_detector_model_expected_anomaly_ratio") == pytest.approx(0.02, abs=1e-3)
    assert value("anomaly_detector_model_checksum_verified") == 0
    assert value("anomaly_detector_fast_path_enabled") == 1
    assert value("anomaly_detector_model_reloads_total", {"result": "success"}) == 2


def test_a_refusal_with_nothing_serving_marks_the_service_not_loaded():
    metrics = Metrics()
    metrics.observe_refusal(serving=False)
    value = metrics.registry.get_sample_value
    assert value("anomaly_detector_model_loaded") == 0
    assert value("anomaly_detector_model_reloads_total", {"result": "failure"}) == 1


def test_a_model_without_a_reference_leaves_no_stale_reference_behind(tmp_path):
    """Otherwise the drift alert compares the new model's scores with the old reference."""
    import joblib
    from sklearn.svm import OneClassSVM

    from anomaly_detector.bundle.io import load_bundle

    metrics = Metrics()
    metrics.observe_model(_loaded(train_small(seed=1).bundle))
    value = metrics.registry.get_sample_value
    assert value("anomaly_detector_model_reference_score", {"quantile": "0.5"}) > 0
    svm = OneClassSVM(gamma="scale").fit(np.random.default_rng(0).normal(size=(200, 3)))
    joblib.dump(svm, tmp_path / "model.joblib")
    metrics.observe_model(_loaded(load_bundle(tmp_path / "model.joblib")))
    for quantile in ("0.01", "0.5", "0.99"):
        assert value("anomaly_detector_model_reference_score", {"quantile": quantile}) is None
    assert value("anomaly_detector_model_expected_anomaly_ratio") == 0
