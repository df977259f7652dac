"""What the watcher watches: the service's golden signals, plus any PromQL configured.

The defaults read the raw histograms and counters over one-minute rates, so an
incident shows within a minute or two; the recording rules' five-minute rates
would hide the first minutes of it.
"""

from __future__ import annotations

from collections.abc import Mapping

JOB = 'job="anomaly-detector"'
SERVING_ROUTES = 'route!~"/admin/.*|<unmatched>"'
DEFAULT_QUERIES: dict[str, str] = {
    "latency_p95_seconds": (
        "histogram_quantile(0.95, sum by (le) "
        f"(rate(http_request_duration_seconds_bucket{{{JOB},{SERVING_ROUTES}}}[1m])))"
    ),
    "request_rate": f"sum(rate(http_requests_total{{{JOB}}}[1m]))",
    "error_ratio": (
        f'(sum(rate(http_requests_total{{{JOB},status=~"5.."}}[1m])) or vector(0)) '
        f"/ sum(rate(http_requests_total{{{JOB}}}[1m]))"
    ),
}


def watched_queries(extra: Mapping[str, str]) -> dict[str, str]:
    """The default queries with ``extra`` (settings' ``watch_queries``) added or overriding."""
    return {**DEFAULT_QUERIES, **dict(extra)}
