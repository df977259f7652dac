"""The watch loop against a real HTTP stand-in for Prometheus (conftest.py).

Each test drives ``Watcher.poll(now)`` with explicit times, so what would take
hours of wall-clock time live (a refit schedule, an outage, a series vanishing)
takes a few polls, and every expected number is computed, not guessed.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from anomaly_detector.monitor.metrics import WatcherMetrics
from anomaly_detector.monitor.watcher import NOT_YET, WatchConfig, Watcher
from anomaly_detector.timeseries.detection import series_detector

STEP = 15.0
HISTORY = 3_600.0
REFIT = 600.0
NOW = 1_700_000_007.0  # between two steps: the newest point is the step before the last
QUERY = "histogram_quantile(0.95, latency)"


def end_of(now: float) -> float:
    """The newest step a poll at ``now`` scores (one step before the current one)."""
    return math.floor(now / STEP) * STEP - STEP


def latency(t: float) -> float:
    """A deterministic latency: a slow wave plus hashed jitter, about 50 ms."""
    i = int(round(t / STEP))
    return 0.05 + 0.01 * math.sin(i / 20) + 0.004 * ((i * 7919) % 17) / 17


def watcher_for(prometheus, queries: dict[str, str] | None = None) -> Watcher:
    config = WatchConfig(
        prometheus.url, queries or {"latency": QUERY}, STEP, HISTORY, REFIT, threshold=0.5
    )
    return Watcher(
        config, lambda: series_detector("forecaster"), WatcherMetrics(CollectorRegistry())
    )


def sample(watcher: Watcher, name: str, **labels: str) -> float | None:
    return watcher.metrics.registry.get_sample_value(name, labels)


def gauge(watcher: Watcher, name: str, series: str = "latency") -> float | None:
    return sample(watcher, f"anomaly_detector_series_{name}", series=series)


def backtest(start: float, end: float, value_at=latency):
    """What ``series detect`` gives the same points: one run from empty state."""
    times = np.arange(start, end + STEP / 2, STEP)
    values = [value_at(t) for t in times]
    values = np.array([np.nan if v is None else v for v in values])
    return times, series_detector("forecaster").run(np.column_stack([times, values]))


def test_health_is_down_until_a_poll_reaches_prometheus(prometheus):
    prometheus.results[QUERY] = [({}, latency)]
    watcher = watcher_for(prometheus)
    assert watcher.status()["prometheus_up"] is False
    assert watcher.status()["last_error"] == NOT_YET
    assert sample(watcher, "anomaly_detector_watcher_prometheus_up") == 0
    watcher.poll(NOW)
    assert watcher.status()["prometheus_up"] is True and watcher.status()["last_error"] is None
    assert sample(watcher, "anomaly_detector_watcher_prometheus_up") == 1


def test_first_poll_fits_on_the_history_and_exports_its_newest_point(prometheus):
    prometheus.results[QUERY] = [({}, latency)]
    watcher = watcher_for(prometheus)
    points = int(HISTORY / STEP) + 1
    assert watcher.poll(NOW) == points
    end = end_of(NOW)
    (request,) = prometheus.requests
    assert request["query"] == QUERY and float(request["end"]) == end
    assert float(request["start"]) == end - HISTORY and request["step"] == "15"

    _, output = backtest(end - HISTORY, end)
    assert gauge(watcher, "value") == latency(end)
    assert gauge(watcher, "forecast") == output.forecast[-1]
    assert gauge(watcher, "lower") == output.lower[-1]
    assert gauge(watcher, "upper") == output.upper[-1]
    assert gauge(watcher, "anomaly_score") == output.anomaly_score[-1]
    assert gauge(watcher, "anomalous") == float(output.anomaly_score[-1] >= 0.5)
    assert gauge(watcher, "threshold") == 0.5
    assert gauge(watcher, "last_point_timestamp_seconds") == end
    assert (
        sample(watcher, "anomaly_detector_series_points_scored_total", series="latency") == points
    )
    assert sample(watcher, "anomaly_detector_watcher_refits_total", series="latency") == 1
    assert sample(watcher, "anomaly_detector_watcher_polls_total", result="success") == 1
    assert sample(watcher, "anomaly_detector_watcher_last_success_timestamp_seconds") == NOW
    assert sample(watcher, "anomaly_detector_watcher_series") == 1
    assert watcher.status()["series"]["latency"]["timestamp"] == end


def test_live_scores_equal_the_backtest_of_the_same_points(prometheus):
    prometheus.results[QUERY] = [({}, latency)]
    watcher = watcher_for(prometheus)
    watcher.poll(NOW)
    first = end_of(NOW) - HISTORY
    times, output = backtest(first, end_of(NOW) + 20 * STEP)
    live = []
    for i in range(1, 21):
        assert watcher.poll(NOW + i * STEP) == 1
        assert gauge(watcher, "last_point_timestamp_seconds") == end_of(NOW) + i * STEP
        live.append((gauge(watcher, "forecast"), gauge(watcher, "anomaly_score")))
    expected = list(zip(output.forecast[-20:], output.anomaly_score[-20:], strict=True))
    assert live == expected  # to the bit: the same kernel over the same points
    assert sample(watcher, "anomaly_detector_watcher_refits_total", series="latency") == 1
    assert len(times) == len(output.forecast)


def test_refits_on_schedule_and_counts_each_point_once(prometheus):
    prometheus.results[QUERY] = [({}, latency)]
    watcher = watcher_for(prometheus)
    history_points = int(HISTORY / STEP) + 1
    watcher.poll(NOW)
    watcher.poll(NOW + STEP)
    refits = "anomaly_detector_watcher_refits_total"
    points = "anomaly_detector_series_points_scored_total"
    assert sample(watcher, refits, series="latency") == 1
    assert sample(watcher, points, series="latency") == history_points + 1
    # Not yet due one step before the schedule; due on it.
    watcher.poll(NOW + REFIT - STEP)
    assert sample(watcher, refits, series="latency") == 1
    watcher.poll(NOW + REFIT)
    assert sample(watcher, refits, series="latency") == 2
    # The refit scored its whole history again, but only the new points count.
    assert sample(watcher, points, series="latency") == history_points + REFIT / STEP
    assert gauge(watcher, "last_point_timestamp_seconds") == end_of(NOW + REFIT)
    # The refit started from the history's own start: the backtest of that window.
    _, output = backtest(end_of(NOW + REFIT) - HISTORY, end_of(NOW + REFIT))
    assert gauge(watcher, "anomaly_score") == output.anomaly_score[-1]


def test_prometheus_down_keeps_the_state_and_the_next_poll_catches_up(prometheus, caplog):
    outage = (NOW, NOW + 90)

    def with_gap(t: float) -> float | None:
        # Prometheus keeps no samples while it is down: those steps are gaps.
        return None if outage[0] <= t <= outage[1] else latency(t)

    prometheus.results[QUERY] = [({}, with_gap)]
    watcher = watcher_for(prometheus)
    watcher.poll(NOW)
    scored = sample(watcher, "anomaly_detector_series_points_scored_total", series="latency")
    detector = watcher.series["latency"].detector
    prometheus.stop()
    with caplog.at_level(logging.WARNING, logger="anomaly_detector.monitor"):
        assert watcher.poll(NOW + 30) == 0
        assert watcher.poll(NOW + 60) == 0
    assert sample(watcher, "anomaly_detector_watcher_polls_total", result="failure") == 2
    assert sample(watcher, "anomaly_detector_watcher_prometheus_up") == 0
    assert sample(watcher, "anomaly_detector_watcher_last_success_timestamp_seconds") == NOW
    status = watcher.status()
    assert status["prometheus_up"] is False
    assert status["last_error"].startswith(f"could not reach Prometheus at {prometheus.url}")
    assert status["series"]["latency"]["timestamp"] == end_of(NOW)  # the state is kept
    assert len(caplog.records) == 1, "the same error is logged once, not every poll"

    prometheus.start()  # the same port
    back = NOW + 180
    steps = np.arange(end_of(NOW) + STEP, end_of(back) + 1, STEP)
    new_points = [t for t in steps if with_gap(t) is not None]
    assert 0 < len(new_points) < len(steps)
    assert watcher.poll(back) == len(new_points)
    assert watcher.series["latency"].detector is detector  # no refit: the gap is skipped
    assert sample(watcher, "anomaly_detector_watcher_refits_total", series="latency") == 1
    assert sample(watcher, "anomaly_detector_watcher_prometheus_up") == 1
    assert watcher.status()["last_error"] is None
    assert gauge(watcher, "last_point_timestamp_seconds") == end_of(back)
    assert sample(
        watcher, "anomaly_detector_series_points_scored_total", series="latency"
    ) == scored + len(new_points)
    # The state went over the gap as a backtest with the same gap does.
    _, output = backtest(end_of(NOW) - HISTORY, end_of(back), with_gap)
    assert gauge(watcher, "anomaly_score") == output.anomaly_score[-1]


def test_a_rejected_query_is_a_failed_poll_that_names_it(prometheus):
    prometheus.reject[QUERY] = 'parse error: unexpected "}"'
    watcher = watcher_for(prometheus)
    assert watcher.poll(NOW) == 0
    assert sample(watcher, "anomaly_detector_watcher_polls_total", result="failure") == 1
    error = watcher.status()["last_error"]
    assert f"Prometheus at {prometheus.url} rejected {QUERY!r}" in error
    assert "parse error" in error
    assert watcher.series == {}


def test_a_sustained_latency_shift_is_anomalous(prometheus):
    def shifted(t: float) -> float:
        return latency(t) * (4.0 if t > NOW else 1.0)

    prometheus.results[QUERY] = [({}, shifted)]
    watcher = watcher_for(prometheus)
    watcher.poll(NOW)
    assert gauge(watcher, "anomalous") == 0
    for i in range(1, 6):
        watcher.poll(NOW + i * STEP)
    assert gauge(watcher, "anomalous") == 1
    assert gauge(watcher, "anomaly_score") >= 0.5
    assert gauge(watcher, "value") > gauge(watcher, "upper")


def test_no_data_yet_watches_nothing_until_data_comes(prometheus):
    first = end_of(NOW) + 3 * STEP  # the first step with a sample
    prometheus.results[QUERY] = [({}, lambda t: latency(t) if t >= first else None)]
    watcher = watcher_for(prometheus)
    assert watcher.poll(NOW) == 0
    assert watcher.series == {} and watcher.status()["prometheus_up"] is True
    assert gauge(watcher, "value") is None
    assert watcher.poll(NOW + 4 * STEP) == 2  # fitted on what there is, at once
    assert gauge(watcher, "last_point_timestamp_seconds") == first + STEP
    assert sample(watcher, "anomaly_detector_watcher_series") == 1


@pytest.fixture
def routes(prometheus):
    """A query with one result series per route; ``live`` says which routes have data."""
    live = {"/a": True, "/b": True, "/c": False}
    prometheus.results[QUERY] = [
        ({"route": route}, lambda t, route=route: latency(t) if live[route] else None)
        for route in live
    ]
    return live


def test_several_result_series_are_named_after_the_query(prometheus, routes):
    watcher = watcher_for(prometheus)
    watcher.poll(NOW)
    assert sorted(watcher.series) == ['latency{route="/a"}', 'latency{route="/b"}']
    assert gauge(watcher, "value", 'latency{route="/a"}') == latency(end_of(NOW))
    # The next poll updates both series with one query over the new step only.
    assert watcher.poll(NOW + STEP) == 2
    assert float(prometheus.requests[-1]["start"]) == end_of(NOW + STEP)
    assert (
        sample(watcher, "anomaly_detector_watcher_refits_total", series='latency{route="/a"}') == 1
    )


def test_a_series_gone_from_the_history_is_dropped_at_the_refit(prometheus, routes):
    watcher = watcher_for(prometheus)
    watcher.poll(NOW)
    routes["/b"] = False  # no sample in the whole history any more
    watcher.poll(NOW + REFIT)
    assert sorted(watcher.series) == ['latency{route="/a"}']
    assert gauge(watcher, "value", 'latency{route="/b"}') is None  # no longer exported
    assert sample(watcher, "anomaly_detector_watcher_series") == 1
    # So the query is not held at "refit due": the next poll only updates.
    watcher.poll(NOW + REFIT + STEP)
    refits = "anomaly_detector_watcher_refits_total"
    assert sample(watcher, refits, series='latency{route="/a"}') == 2


def test_a_new_series_is_fitted_at_the_next_refit(prometheus, routes):
    watcher = watcher_for(prometheus)
    watcher.poll(NOW)
    routes["/c"] = True
    watcher.poll(NOW + STEP)
    assert 'latency{route="/c"}' not in watcher.series
    watcher.poll(NOW + REFIT)
    assert 'latency{route="/c"}' in watcher.series
    assert gauge(watcher, "value", 'latency{route="/c"}') == latency(end_of(NOW + REFIT))
