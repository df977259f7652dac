"""The watcher's own metrics: per-series gauges of the newest point, and its health.

Gauges carry a ``series`` label: the configured name, followed by the result's
labels when a query returns several series. The registry is the watcher's own, so
tests build a fresh one and read it with ``get_sample_value``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

PREFIX = "anomaly_detector_series"


class WatcherMetrics:
    """Every metric the watcher exports, on one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        labels = ["series"]

        def gauge(name: str, help_text: str) -> Gauge:
            return Gauge(f"{PREFIX}_{name}", help_text, labels, registry=self.registry)

        self.value = gauge("value", "Newest value of the watched series.")
        self.forecast = gauge("forecast", "Forecast of the newest point, made before it came.")
        self.lower = gauge("lower", "Lower bound of the forecast band (coverage in the help).")
        self.upper = gauge("upper", "Upper bound of the forecast band.")
        self.anomaly_score = gauge(
            "anomaly_score", "Anomaly score of the newest point in [0, 1]; 0.5 is p = 1e-4."
        )
        self.anomalous = gauge("anomalous", "1 when the newest point's score is at the threshold.")
        self.threshold = gauge("threshold", "Anomaly-score threshold of the watched series.")
        self.last_point = gauge(
            "last_point_timestamp_seconds", "Unix time of the newest scored point."
        )
        self.points = Counter(
            f"{PREFIX}_points_scored", "Points scored per series.", labels, registry=self.registry
        )
        self.polls = Counter(
            "anomaly_detector_watcher_polls",
            "Polls of Prometheus by result (success or failure).",
            ["result"],
            registry=self.registry,
        )
        self.refits = Counter(
            "anomaly_detector_watcher_refits",
            "Refits of a series' detector on its history.",
            labels,
            registry=self.registry,
        )
        self.prometheus_up = Gauge(
            "anomaly_detector_watcher_prometheus_up",
            "1 when the last query to Prometheus succeeded, else 0.",
            registry=self.registry,
        )
        self.last_success = Gauge(
            "anomaly_detector_watcher_last_success_timestamp_seconds",
            "Unix time of the last poll that reached Prometheus.",
            registry=self.registry,
        )
        self.watched = Gauge(
            "anomaly_detector_watcher_series",
            "Series the watcher holds a fitted detector for.",
            registry=self.registry,
        )
