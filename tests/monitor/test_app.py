"""The watcher's HTTP app: the poll loop in its lifespan, ``/healthz`` and ``/metrics``."""

from __future__ import annotations

import math

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from anomaly_detector.errors import InputError
from anomaly_detector.monitor.app import build_watcher, create_app
from anomaly_detector.monitor.metrics import WatcherMetrics
from anomaly_detector.monitor.queries import DEFAULT_QUERIES
from anomaly_detector.monitor.watcher import WatchConfig, Watcher
from anomaly_detector.settings import Settings
from anomaly_detector.timeseries.detection import series_detector
from live import wait_for

QUERY = "sum(rate(http_requests_total[1m]))"


def requests_per_second(t: float) -> float:
    return 20.0 + 2.0 * math.sin(t / 300.0)


def settings_for(prometheus, **overrides) -> Settings:
    return Settings(
        watch_prometheus_url=prometheus.url,
        watch_interval_seconds=0.05,
        watch_step_seconds=15,
        watch_history_hours=1,
        **overrides,
    )


def watcher_for(prometheus, make_detector=lambda: series_detector("forecaster")) -> Watcher:
    config = WatchConfig(prometheus.url, {"request_rate": QUERY}, 15.0, 3_600.0, 600.0)
    return Watcher(config, make_detector, WatcherMetrics(CollectorRegistry()))


def scrape(client: TestClient) -> dict[tuple, float]:
    response = client.get("/metrics/")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_healthz_and_metrics_follow_prometheus(prometheus):
    prometheus.results[QUERY] = [({}, requests_per_second)]
    watcher = watcher_for(prometheus)
    with TestClient(create_app(settings_for(prometheus), watcher)) as client:
        wait_for(lambda: client.get("/healthz").status_code == 200, 60, what="a first poll")
        health = client.get("/healthz").json()
        assert health["prometheus_url"] == prometheus.url and health["last_error"] is None
        newest = health["series"]["request_rate"]
        assert newest["value"] == requests_per_second(newest["timestamp"])
        samples = scrape(client)
        key = (("series", "request_rate"),)
        assert samples[("anomaly_detector_series_value", key)] == newest["value"]
        assert (
            samples[("anomaly_detector_series_last_point_timestamp_seconds", key)]
            == (newest["timestamp"])
        )
        assert samples[("anomaly_detector_watcher_prometheus_up", ())] == 1

        prometheus.stop()
        wait_for(lambda: client.get("/healthz").status_code == 503, 60, what="503")
        down = client.get("/healthz").json()
        assert down["prometheus_up"] is False
        assert "could not reach Prometheus" in down["last_error"]
        assert down["series"]["request_rate"]["timestamp"] >= newest["timestamp"]  # kept
        assert scrape(client)[("anomaly_detector_watcher_prometheus_up", ())] == 0

        prometheus.start()
        wait_for(lambda: client.get("/healthz").status_code == 200, 60, what="recovery")


def test_healthz_is_503_before_a_poll_has_reached_prometheus(prometheus):
    prometheus.results[QUERY] = [({}, requests_per_second)]
    app = create_app(settings_for(prometheus), watcher_for(prometheus))
    client = TestClient(app)  # outside ``with``: no lifespan, so no poll has run
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "prometheus_url": prometheus.url,
        "prometheus_up": False,
        "last_error": "no poll has reached Prometheus yet",
        "series": {},
    }


class BrokenDetector:
    def run(self, inputs):
        raise RuntimeError("kernel exploded")


def test_a_poll_that_raises_is_a_failure_and_the_loop_goes_on(prometheus, caplog):
    prometheus.results[QUERY] = [({}, requests_per_second)]
    watcher = watcher_for(prometheus, BrokenDetector)
    with TestClient(create_app(settings_for(prometheus), watcher)) as client:
        failures = ("anomaly_detector_watcher_polls_total", (("result", "failure"),))
        wait_for(lambda: scrape(client).get(failures, 0) >= 3, 60, what="failed polls")
        response = client.get("/healthz")
        assert response.status_code == 503
        assert "RuntimeError('kernel exploded')" in response.json()["last_error"]
    assert any("watcher poll crashed" in r.getMessage() for r in caplog.records)


def test_build_watcher_reads_the_watch_settings(prometheus):
    extra = {"queue_depth": "sum(queue_depth)"}
    watcher = build_watcher(
        settings_for(
            prometheus,
            watch_refit_minutes=5,
            watch_threshold=0.8,
            watch_detector="seasonal_naive",
            watch_queries=extra,
        )
    )
    config = watcher.config
    assert config.queries == {**DEFAULT_QUERIES, **extra}
    assert (config.step_seconds, config.history_seconds, config.refit_seconds) == (15, 3600, 300)
    assert config.threshold == 0.8 and config.prometheus_url == prometheus.url
    assert watcher.make_detector().name == "seasonal_naive"


def test_build_watcher_refuses_an_unknown_detector_at_start(prometheus):
    with pytest.raises(InputError, match="series detectors are .*got 'prophet'"):
        build_watcher(settings_for(prometheus, watch_detector="prophet"))


def test_the_stand_in_is_a_real_http_server(prometheus):
    prometheus.results[QUERY] = [({"job": "a"}, requests_per_second)]
    body = httpx.get(
        prometheus.url + "/api/v1/query_range",
        params={"query": QUERY, "start": "0", "end": "30", "step": "15"},
    ).json()
    assert body["data"]["result"][0]["metric"] == {"job": "a"}
    assert [t for t, _ in body["data"]["result"][0]["values"]] == [0.0, 15.0, 30.0]


def test_healthz_reports_a_point_not_scored_yet_as_null(prometheus):
    # seasonal_mad with an hour of history has no day to compare with: its newest point
    # has a value but no forecast, band or score yet (NaN), which JSON cannot carry.
    prometheus.results[QUERY] = [({}, requests_per_second)]
    watcher = watcher_for(prometheus, lambda: series_detector("seasonal_mad"))
    with TestClient(create_app(settings_for(prometheus), watcher)) as client:
        wait_for(lambda: client.get("/healthz").status_code == 200, 60, what="a first poll")
        newest = client.get("/healthz").json()["series"]["request_rate"]
        assert newest["value"] == requests_per_second(newest["timestamp"])
        assert newest["anomaly_score"] is None and newest["forecast"] is None
