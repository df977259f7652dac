"""Prometheus metrics owned by one app instance.

With several workers (``serve --workers N``) prometheus-client's multiprocess
mode is on (``PROMETHEUS_MULTIPROC_DIR``): counters and histograms add up across
workers; each gauge says how it aggregates (``multiprocess_mode``). Every metric
is registered on the ``CollectorRegistry`` passed in, never the global one.

HTTP metrics follow the RED convention (``http_requests_total``,
``http_request_duration_seconds``) and are labelled by *route template*
(``/prediction``, not the raw path); unmatched paths share ``UNMATCHED_ROUTE``,
so a scanner cannot create unbounded series. Domain metrics: ``anomaly_detector_``.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import numpy as np
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from anomaly_detector.detectors import registry as detector_registry

if TYPE_CHECKING:  # only for annotations: the store does not depend on metrics
    from anomaly_detector.serving.model_store import LoadedModel

UNMATCHED_ROUTE = "<unmatched>"

# Millisecond-scale service: most requests finish in well under 10 ms, so the
# buckets resolve 250 us .. 100 ms finely and keep a few coarse ones for stalls.
LATENCY_BUCKETS_SECONDS = (
    0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075,
    0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip

# Reasons a request is rejected before scoring; each is a label value of
# anomaly_detector_rejected_requests_total.
REJECT_REASONS = (
    "invalid_json",
    "invalid_request",
    "wrong_length",
    "non_finite",
    "non_numeric",
    "invalid_category",
    "missing_value",
    "unknown_feature",
    "missing_feature",
    "empty_batch",
    "batch_too_large",
    "body_too_large",
    "unsupported_media_type",
    "no_model",
    "unauthorized",
    "overloaded",
    "timeout",
)


class Metrics:
    """All metrics of the service, registered on one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "http_requests_total",
            "HTTP requests by route template, method and status code.",
            ["route", "method", "status"],
            registry=r,
        )
        self.http_request_duration = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency in seconds, from first byte received to response sent.",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS_SECONDS,
            registry=r,
        )
        self.http_requests_in_flight = Gauge(
            "http_requests_in_flight",
            "HTTP requests being served right now (probes and /metrics excluded).",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.predictions = Counter(
            "anomaly_detector_predictions_total",
            "Scored rows by outcome (inlier or anomaly) and endpoint.",
            ["outcome", "endpoint"],
            registry=r,
        )
        self.predictions_by_class = Counter(
            "anomaly_detector_predictions_by_class_total",
            "Rows scored by a supervised model, by predicted class and endpoint.",
            ["label", "endpoint"],
            registry=r,
        )
        self.anomaly_score = Histogram(
            "anomaly_detector_anomaly_score",
            "Anomaly score of each scored row (higher is more anomalous).",
            # Every registered detector's buckets, merged: fixed for the process, so
            # a swap to another detector keeps the histogram consistent.
            buckets=detector_registry.score_buckets(),
            registry=r,
        )
        self.rejected_requests = Counter(
            "anomaly_detector_rejected_requests_total",
            "Requests refused before scoring, by reason.",
            ["reason"],
            registry=r,
        )
        self.model_info = Gauge(
            "anomaly_detector_model_info",
            "Always 1 for the model being served; its identity is in the labels.",
            ["version", "detector"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.model_threshold = Gauge(
            "anomaly_detector_model_threshold",
            "Anomaly-score threshold of the served model; rows scoring above it are anomalies.",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.model_reference_score = Gauge(
            "anomaly_detector_model_reference_score",
            "Quantiles of the anomaly score on the model's training data (drift reference).",
            ["quantile"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.model_expected_anomaly_ratio = Gauge(
            "anomaly_detector_model_expected_anomaly_ratio",
            "Share of the model's training rows above its threshold: the anomaly ratio "
            "the model expects on traffic like its training data.",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.model_checksum_verified = Gauge(
            "anomaly_detector_model_checksum_verified",
            "1 when the served model file matched the sha256 in model.json, 0 when it "
            "was loaded without (REQUIRE_CHECKSUM=false: a file copied alone, a plain dump).",
            registry=r,
            multiprocess_mode="livemin",
        )
        self.model_loaded = Gauge(
            "anomaly_detector_model_loaded",
            "1 while a valid model is loaded and the service is ready, else 0.",
            registry=r,
            multiprocess_mode="livemin",
        )
        self.model_reloads = Counter(
            "anomaly_detector_model_reloads_total",
            "Model load attempts (start-up, file change, admin) by result: success or failure.",
            ["result"],
            registry=r,
        )
        self.model_last_load = Gauge(
            "anomaly_detector_model_last_load_timestamp_seconds",
            "Unix time of the last successful model load.",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.fast_path = Gauge(
            "anomaly_detector_fast_path_enabled",
            "1 when the served model runs on the compiled fast scorer, 0 on the scikit-learn path.",
            registry=r,
            multiprocess_mode="livemin",
        )
        self._prediction_children: dict[tuple[str, str], Counter] = {}
        self._rejection_children: dict[str, Counter] = {}
        self._model_labels: tuple[str, str] | None = None
        self._reference_quantiles: set[str] = set()
        # Pre-create label values so dashboards and alerts see zeros, not gaps.
        for reason in REJECT_REASONS:
            self.count_rejection(reason, 0)
        for result in ("success", "failure"):
            self.model_reloads.labels(result=result)
        # Without these, rate() over the first scrape that sees anomalies would miss them.
        for outcome in ("inlier", "anomaly"):
            for endpoint in ("prediction", "predictions"):
                self._prediction_counter(outcome, endpoint)

    def observe_model(self, model: LoadedModel) -> None:
        """Publish the identity of the model that now serves."""
        bundle = model.bundle
        version, detector = bundle.version, bundle.detector_name
        # Zero the previous identity rather than clear() it: with several workers the
        # value lives in a shared file that clear() would leave behind.
        previous = self._model_labels
        if previous is not None and previous != (version, detector):
            self.model_info.labels(version=previous[0], detector=previous[1]).set(0)
            self.model_info.remove(*previous)
        self._model_labels = (version, detector)
        self.model_info.labels(version=version, detector=detector).set(1)
        self.model_threshold.set(bundle.threshold)
        reference = bundle.metadata.get("reference_scores") or {}
        quantiles = reference.get("quantiles") or {}
        for quantile in self._reference_quantiles - set(quantiles):
            # The previous model's reference must not stay exported: the drift alert
            # would compare the new model's scores with it. NaN first, for the shared
            # files of multiprocess mode, which remove() leaves behind.
            self.model_reference_score.labels(quantile=quantile).set(float("nan"))
            self.model_reference_score.remove(quantile)
        self._reference_quantiles = set(quantiles)
        for quantile, value in quantiles.items():
            self.model_reference_score.labels(quantile=quantile).set(value)
        # A model that says nothing expects nothing: the spike alert then needs +5 points.
        self.model_expected_anomaly_ratio.set(float(reference.get("alert_rate", 0.0)))
        self.model_checksum_verified.set(1 if model.checksum_verified else 0)
        self.model_loaded.set(1)
        self.model_last_load.set(time.time())
        self.fast_path.set(1 if model.scorer.fast_path else 0)
        self.model_reloads.labels(result="success").inc()

    def observe_refusal(self, serving: bool) -> None:
        """Count a refused model file; ``serving``: whether an older model still serves."""
        self.model_reloads.labels(result="failure").inc()
        if not serving:
            self.model_loaded.set(0)

    def count_rejection(self, reason: str, amount: int = 1) -> None:
        """Count a request refused before scoring (label children cached per reason)."""
        child = self._rejection_children.get(reason)
        if child is None:
            child = self.rejected_requests.labels(reason=reason)
            self._rejection_children[reason] = child
        if amount:
            child.inc(amount)

    def observe_score(self, anomaly_score: float, is_inlier: bool, endpoint: str) -> None:
        """``observe_scores`` for one row, without numpy (the ``/prediction`` hot path)."""
        self._prediction_counter("inlier" if is_inlier else "anomaly", endpoint).inc()
        self.anomaly_score.observe(anomaly_score)

    def observe_scores(self, anomaly_scores, is_inlier, endpoint: str) -> None:
        """Count scored rows by outcome and add their scores to the histogram."""
        n_rows = len(anomaly_scores)
        n_inliers = int(np.count_nonzero(is_inlier))
        if n_inliers:
            self._prediction_counter("inlier", endpoint).inc(n_inliers)
        if n_rows - n_inliers:
            self._prediction_counter("anomaly", endpoint).inc(n_rows - n_inliers)
        if n_rows == 1:
            self.anomaly_score.observe(float(anomaly_scores[0]))
        else:
            observe_many(self.anomaly_score, np.asarray(anomaly_scores, dtype=np.float64))

    def observe_labels(self, labels, endpoint: str) -> None:
        """Count rows of a supervised model by predicted class (one label or an array)."""
        if isinstance(labels, str):
            labels = [labels]
        names, counts = np.unique(np.asarray(labels, dtype=str), return_counts=True)
        for name, count in zip(names, counts, strict=True):
            self.predictions_by_class.labels(label=str(name), endpoint=endpoint).inc(int(count))

    def _prediction_counter(self, outcome: str, endpoint: str):
        key = (outcome, endpoint)
        child = self._prediction_children.get(key)
        if child is None:
            child = self.predictions.labels(outcome=outcome, endpoint=endpoint)
            self._prediction_children[key] = child
        return child


def exposition(registry: CollectorRegistry) -> bytes:
    """The /metrics body: this app's registry, or every worker's under multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined)
        return generate_latest(combined)
    return generate_latest(registry)


def observe_many(histogram: Histogram, values: np.ndarray) -> None:
    """``histogram.observe`` for every value, in one pass per bucket instead of per value.

    Uses prometheus-client's per-bucket values (one per upper bound); if a future
    client lays them out differently, observes one value at a time instead.
    """
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    bounds = getattr(histogram, "_upper_bounds", None)
    if buckets is None or total is None or bounds is None or len(buckets) != len(bounds):
        for value in values:
            histogram.observe(float(value))
        return
    # observe() puts a value in the first bucket whose upper bound is >= value.
    index = np.searchsorted(np.asarray(bounds, dtype=np.float64), values, side="left")
    counts = np.bincount(index, minlength=len(bounds))
    for bucket, count in zip(buckets, counts, strict=False):
        if count:
            bucket.inc(int(count))
    total.inc(float(values.sum()))
