"""Metrics live on the registry they are given; bulk observation equals one-by-one."""

import numpy as np
from prometheus_client import CollectorRegistry

from anomaly_detector.metrics import ANOMALY_SCORE_BUCKETS, REJECT_REASONS, Metrics, observe_many


def test_each_app_gets_its_own_registry():
    first, second = Metrics(), Metrics()
    first.rejected_requests.labels(reason="non_finite").inc()
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
    values = np.concatenate([rng.uniform(0.0, 1.0, 5000), np.array(ANOMALY_SCORE_BUCKETS), [1.5]])
    one, many = Metrics(), Metrics()
    for value in values:
        one.anomaly_score.observe(float(value))
    observe_many(many.anomaly_score, values)
    for bound in [*map(str, ANOMALY_SCORE_BUCKETS), "+Inf"]:
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


def test_observe_model_replaces_previous_identity():
    metrics = Metrics()
    metrics.observe_model(
        "v1", "isolation_forest", 0.55, {"0.5": 0.4, "0.9": 0.5, "0.99": 0.6}, True
    )
    metrics.observe_model("v2", "isolation_forest", 0.6, {"0.5": 0.41}, False)
    value = metrics.registry.get_sample_value
    assert (
        value("anomaly_detector_model_info", {"version": "v1", "detector": "isolation_forest"})
        is None
    )
    assert (
        value("anomaly_detector_model_info", {"version": "v2", "detector": "isolation_forest"}) == 1
    )
    assert value("anomaly_detector_model_threshold") == 0.6
    assert value("anomaly_detector_fast_path_enabled") == 0
