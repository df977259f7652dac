"""Pure-ASGI middleware: RED metrics, body-size limit and the JSON access log.

Written against ASGI directly (not ``BaseHTTPMiddleware``) because it runs on
every request and the service answers in well under a millisecond.
"""

from __future__ import annotations

import time

from anomaly_detector.api.errors import ApiError
from anomaly_detector.api.recorder import RequestRecorder
from anomaly_detector.api.responses import json_response
from anomaly_detector.metrics import UNMATCHED_ROUTE

# Scraped or probed every few seconds: counting them would drown real traffic.
UNINSTRUMENTED_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})


class BodyTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413, "body_too_large", f"request body is larger than the limit of {limit} bytes"
        )


def content_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class ObservabilityMiddleware:
    """Counts and times each request by route template, limits bodies, logs one line each."""

    def __init__(self, app, recorder: RequestRecorder, max_body_bytes: int):
        self.app = app
        self.recorder = recorder
        self.metrics = recorder.metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in UNINSTRUMENTED_PATHS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_holder = [500]
        limit = self.max_body_bytes

        async def send_with_status(message):
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
            await send(message)

        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        in_flight = self.metrics.http_requests_in_flight
        in_flight.inc()
        try:
            declared = content_length(scope)
            if declared is not None and declared > limit:
                # Refuse before reading a byte of an oversized body.
                self.metrics.rejected_requests.labels(reason="body_too_large").inc()
                error = BodyTooLarge(limit)
                response = json_response(
                    {"detail": error.detail, "reason": error.reason}, status_code=413
                )
                await response(scope, receive, send_with_status)
            else:
                await self.app(scope, limited_receive, send_with_status)
        finally:
            in_flight.dec()
            route = scope.get("route")
            state = scope.get("state") or {}
            self.recorder.record(
                getattr(route, "path", None) or UNMATCHED_ROUTE,
                scope["method"],
                status_holder[0],
                time.perf_counter() - started,
                state.get("model_version"),
                state.get("rows"),
            )
