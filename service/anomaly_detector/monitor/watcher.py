"""The watch loop: query Prometheus, score the newest points, refit on a schedule.

Per watched series the watcher holds one fitted series detector. Each ``poll``
asks Prometheus only for the steps after the last scored one (up to one step
before now, so a scrape still in flight is not read as a gap), feeds them to
``SeriesDetector.update`` and exports the newest point. Every ``refit_seconds``
(and at start, and after a gap longer than the history) it fits again on the
last ``history_seconds``: the same causal kernel as a backtest, so a live score
equals the score a backtest gives that point from the same start.

Prometheus being down is not fatal: the poll fails, ``prometheus_up`` drops to 0,
the state is kept, and the next poll that reaches Prometheus catches up (steps it
has no data for are gaps, which detectors skip). Until a poll has reached
Prometheus the watcher reports itself down, so ``/healthz`` and ``prometheus_up``
agree from the start. A result series that a refit no longer finds in the history
is dropped, gauges and all, so that it does not hold the query at "refit due".
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx
import numpy as np
import pandas as pd

from anomaly_detector.data.series import prometheus
from anomaly_detector.detectors.series.base import SeriesDetector, SeriesOutput
from anomaly_detector.errors import InputError
from anomaly_detector.monitor.metrics import WatcherMetrics

log = logging.getLogger("anomaly_detector.monitor")
NOT_YET = "no poll has reached Prometheus yet"


@dataclass
class Watched:
    """A fitted detector of one result series and when it was fitted."""

    detector: SeriesDetector
    fitted_at: float
    last: dict[str, float] = field(default_factory=dict)


@dataclass
class WatchConfig:
    """How the watcher polls (the ``watch_*`` settings)."""

    prometheus_url: str
    queries: Mapping[str, str]
    step_seconds: float = 15.0
    history_seconds: float = 7 * 86_400.0
    refit_seconds: float = 3_600.0
    threshold: float = 0.5


class Watcher:
    """Holds the detectors of the watched series and exports their newest points."""

    def __init__(
        self,
        config: WatchConfig,
        make_detector: Callable[[], SeriesDetector],
        metrics: WatcherMetrics | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.config = config
        self.make_detector = make_detector
        self.metrics = metrics or WatcherMetrics()
        self.client = client or httpx.Client(timeout=10.0)
        self.series: dict[str, Watched] = {}
        self.last_error: str | None = NOT_YET

    def _range(self, query: str, start: float, end: float) -> list[prometheus.Result]:
        return prometheus.query_range(
            self.config.prometheus_url, query, pd.Timestamp(start, unit="s"),
            pd.Timestamp(end, unit="s"), pd.Timedelta(seconds=self.config.step_seconds),
            client=self.client,
        )  # fmt: skip

    @staticmethod
    def key(name: str, result: prometheus.Result) -> str:
        """The ``series`` label of a result: ``name``, or ``name{label="value",...}``."""
        labels = {k: v for k, v in result.labels.items() if k != "__name__"}
        return prometheus.label_text({**labels, "__name__": name}, name) if labels else name

    def poll(self, now: float | None = None) -> int:
        """Score every step that completed since the last poll; return points scored."""
        now = time.time() if now is None else now
        step = self.config.step_seconds
        end = math.floor(now / step) * step - step
        scored = 0
        try:
            for name, query in self.config.queries.items():
                scored += self._poll_query(name, query, end, now)
        except InputError as exc:
            self.record_failure(exc.message)
            return scored
        self.metrics.polls.labels("success").inc()
        self.metrics.prometheus_up.set(1)
        self.metrics.last_success.set(now)
        self.metrics.watched.set(len(self.series))
        self.last_error = None
        return scored

    def record_failure(self, message: str) -> None:
        """Count a failed poll and report Prometheus down until a poll succeeds."""
        self.metrics.polls.labels("failure").inc()
        self.metrics.prometheus_up.set(0)
        if message != self.last_error:
            log.warning("watcher poll failed: %s", message)
        self.last_error = message

    def _keys(self, name: str) -> list[str]:
        """The keys of the watched result series of query ``name``."""
        return [k for k in self.series if k == name or k.startswith(name + "{")]

    def _members(self, name: str) -> list[Watched]:
        """The watched result series of query ``name``."""
        return [self.series[k] for k in self._keys(name)]

    def _forget(self, key: str) -> None:
        """Stop watching ``key`` and stop exporting its gauges."""
        del self.series[key]
        metrics = self.metrics
        for collector in (
            metrics.value, metrics.forecast, metrics.lower, metrics.upper, metrics.anomaly_score,
            metrics.anomalous, metrics.threshold, metrics.last_point,
        ):  # fmt: skip
            # prometheus-client before 0.21 raises on a label set it never exported.
            with contextlib.suppress(KeyError):
                collector.remove(key)

    def _due(self, name: str, now: float) -> bool:
        watched = self._members(name)
        if not watched:
            return True
        oldest = min(w.fitted_at for w in watched)
        behind = max(now - w.detector.last_time_ for w in watched)
        return now - oldest >= self.config.refit_seconds or behind >= self.config.history_seconds

    def _poll_query(self, name: str, query: str, end: float, now: float) -> int:
        scored = 0
        if self._due(name, now):
            stale = set(self._keys(name))
            for result in self._range(query, end - self.config.history_seconds, end):
                if np.isnan(result.series.values).all():
                    continue
                key = self.key(name, result)
                detector = self.make_detector()
                output = detector.run(result.series.inputs())
                previous = self.series.get(key)
                self.series[key] = Watched(detector, now, previous.last if previous else {})
                self.metrics.refits.labels(key).inc()
                scored += self._export(key, result.series.inputs(), output)
                stale.discard(key)
            for key in stale:
                self._forget(key)
            return scored
        start = min(w.detector.last_time_ for w in self._members(name))
        if start + self.config.step_seconds > end:
            return 0
        for result in self._range(query, start + self.config.step_seconds, end):
            key = self.key(name, result)
            watched = self.series.get(key)
            if watched is None:  # a new label set appears: fitted at the next refit
                continue
            inputs = result.series.inputs()
            inputs = inputs[inputs[:, 0] > watched.detector.last_time_ + 1e-6]
            if len(inputs):
                scored += self._export(key, inputs, watched.detector.update(inputs))
        return scored

    def _export(self, key: str, inputs: np.ndarray, output: SeriesOutput) -> int:
        """Set the gauges of ``key`` from its newest point; return the points scored first
        now (a refit scores its history again, which counts only the points after the
        newest one exported before)."""
        metrics = self.metrics
        has_value = ~np.isnan(inputs[:, 1])
        exported = self.series[key].last.get("timestamp", -math.inf)
        new = int((has_value & (inputs[:, 0] > exported + 1e-6)).sum())
        metrics.points.labels(key).inc(new)
        metrics.threshold.labels(key).set(self.config.threshold)
        if not has_value.any():
            metrics.value.labels(key).set(math.nan)
            metrics.anomalous.labels(key).set(0)
            return new
        newest = int(np.flatnonzero(has_value)[-1])
        score = float(output.anomaly_score[newest])
        point = {
            "value": float(inputs[newest, 1]), "forecast": float(output.forecast[newest]),
            "lower": float(output.lower[newest]), "upper": float(output.upper[newest]),
            "anomaly_score": score, "timestamp": float(inputs[newest, 0]),
        }  # fmt: skip
        for gauge in ("value", "forecast", "lower", "upper", "anomaly_score"):
            getattr(metrics, gauge).labels(key).set(point[gauge])
        metrics.anomalous.labels(key).set(float(score >= self.config.threshold))
        metrics.last_point.labels(key).set(point["timestamp"])
        self.series[key].last = point
        return new

    def status(self) -> dict:
        """What ``/healthz`` reports: Prometheus reachability and each series' newest point."""
        return {
            "prometheus_url": self.config.prometheus_url,
            "prometheus_up": self.last_error is None,
            "last_error": self.last_error,
            "series": {
                key: {name: _json_number(v) for name, v in watched.last.items()}
                for key, watched in sorted(self.series.items())
            },
        }


def _json_number(value: float) -> float | None:
    """NaN (not scored yet: warming up, a missing point) and inf are null in JSON."""
    return float(value) if math.isfinite(value) else None
