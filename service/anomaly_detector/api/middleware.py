"""Pure-ASGI middleware: admission, body-size limit, timeout, RED metrics and the access log.

Written against ASGI directly (not ``BaseHTTPMiddleware``) because it runs on
every request and the service answers in well under a millisecond.
"""

from __future__ import annotations

import time

from anomaly_detector.api.deadlines import Deadlines, RequestTimedOut
from anomaly_detector.api.errors import ApiError
from anomaly_detector.api.guard import Guard, send_error
from anomaly_detector.api.recorder import RequestRecorder
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
    """Admits, limits, times out, counts and logs every request (probes and /metrics aside)."""

    def __init__(
        self,
        app,
        recorder: RequestRecorder,
        guard: Guard,
        max_body_bytes: int,
        deadlines: Deadlines,
    ):
        self.app = app
        self.recorder = recorder
        self.metrics = recorder.metrics
        self.guard = guard
        self.max_body_bytes = max_body_bytes
        self.deadlines = deadlines

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in UNINSTRUMENTED_PATHS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_holder: list[int | None] = [None]  # None until the response starts
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
            await self._admit_and_run(scope, limited_receive, send_with_status, status_holder)
        finally:
            in_flight.dec()
            route = scope.get("route")
            state = scope.get("state") or {}
            self.recorder.record(
                getattr(route, "path", None) or UNMATCHED_ROUTE,
                scope["method"],
                status_holder[0] or 500,
                time.perf_counter() - started,
                state.get("model_version"),
                state.get("rows"),
            )

    async def _admit_and_run(self, scope, receive, send, status_holder) -> None:
        try:
            self.guard.check_key(scope["path"], scope["headers"])
            declared = content_length(scope)
            if declared is not None and declared > self.max_body_bytes:
                # Refuse before reading a byte of an oversized body.
                raise BodyTooLarge(self.max_body_bytes)
            self.guard.enter()
        except ApiError as error:
            self.metrics.rejected_requests.labels(reason=error.reason).inc()
            await send_error(send, error)
            return
        try:
            await self.deadlines.run(self.app(scope, receive, send))
        except RequestTimedOut as timed_out:
            self.metrics.rejected_requests.labels(reason="timeout").inc()
            if status_holder[0] is None:
                await send_error(send, timed_out)
        finally:
            self.guard.leave()
