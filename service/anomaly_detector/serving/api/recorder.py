"""Per-request bookkeeping shared by the routed app and the /prediction fast lane.

One place records RED metrics and writes the access log line, so both request
paths produce exactly the same series and logs.
"""

from __future__ import annotations

from anomaly_detector.serving.logs import AccessLog
from anomaly_detector.serving.metrics import Metrics


class RequestRecorder:
    """Counts, times and logs finished requests; label children are cached per key."""

    def __init__(self, metrics: Metrics, log_requests: bool = True) -> None:
        self.metrics = metrics
        self.log_requests = log_requests
        self._children: dict[tuple[str, str, int], tuple] = {}
        self.access_log = AccessLog()

    def record(
        self,
        route: str,
        method: str,
        status: int,
        seconds: float,
        model_version: str | None = None,
        rows: int | None = None,
    ) -> None:
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            labels = {"route": route, "method": method, "status": str(status)}
            children = (
                self.metrics.http_requests.labels(**labels),
                self.metrics.http_request_duration.labels(**labels),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        if self.log_requests:
            self.access_log.write(
                route, method, status, round(seconds * 1000, 3), model_version, rows
            )
