"""What the watcher watches: the service's golden signals, plus configured PromQL."""

from __future__ import annotations

from anomaly_detector.monitor.queries import DEFAULT_QUERIES, watched_queries


def test_defaults_read_the_service_job_over_one_minute_rates() -> None:
    assert list(DEFAULT_QUERIES) == ["latency_p95_seconds", "request_rate", "error_ratio"]
    for query in DEFAULT_QUERIES.values():
        assert 'job="anomaly-detector"' in query and "[1m]" in query
    assert 'route!~"/admin/.*|<unmatched>"' in DEFAULT_QUERIES["latency_p95_seconds"]


def test_configured_queries_add_to_or_override_the_defaults() -> None:
    watched = watched_queries({"queue": "sum(queue_depth)", "request_rate": "sum(rate(x[5m]))"})
    assert watched["queue"] == "sum(queue_depth)"
    assert watched["request_rate"] == "sum(rate(x[5m]))"
    assert watched["latency_p95_seconds"] == DEFAULT_QUERIES["latency_p95_seconds"]
    assert watched_queries({}) == DEFAULT_QUERIES
