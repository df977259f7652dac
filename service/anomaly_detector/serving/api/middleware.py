"""Pure-ASGI middleware of the routed app: admission, time limit, RED metrics, access log.

Written against ASGI directly (not ``BaseHTTPMiddleware``) because it runs on
every request and the service answers in well under a millisecond. ``POST
/prediction`` normally skips it through the fast lane, which passes the same
``Admission`` and ``RequestRecorder``.
"""

from __future__ import annotations

import time

from starlette.requests import ClientDisconnect
from starlette.routing import Match

from anomaly_detector.serving.api.admission import Admission
from anomaly_detector.serving.api.deadlines import Deadlines
from anomaly_detector.serving.api.errors import (
    CLIENT_CLOSED,
    ApiError,
    ClientGone,
    RequestTimedOut,
    send_error,
)
from anomaly_detector.serving.api.recorder import RequestRecorder
from anomaly_detector.serving.metrics import UNMATCHED_ROUTE

# Scraped or probed every few seconds: counting them would drown real traffic.
UNINSTRUMENTED_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})


class ObservabilityMiddleware:
    """Admits, limits, times out, counts and logs every request (probes and /metrics aside)."""

    def __init__(
        self, app, recorder: RequestRecorder, admission: Admission, deadlines: Deadlines
    ) -> None:
        self.app = app
        self.recorder = recorder
        self.metrics = recorder.metrics
        self.admission = admission
        self.deadlines = deadlines

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in UNINSTRUMENTED_PATHS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_holder: list[int | None] = [None]  # None until the response starts

        async def send_with_status(message):
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
            await send(message)

        in_flight = self.metrics.http_requests_in_flight
        in_flight.inc()
        try:
            await self._admit_and_run(
                scope, self.admission.limit_receive(receive), send_with_status, status_holder
            )
        finally:
            in_flight.dec()
            state = scope.get("state") or {}
            self.recorder.record(
                route_template(scope),
                scope["method"],
                status_holder[0] or 500,
                time.perf_counter() - started,
                state.get("model_version"),
                state.get("rows"),
            )

    async def _admit_and_run(self, scope, receive, send, status_holder) -> None:
        try:
            self.admission.admit(scope["path"], scope["headers"])
        except ApiError as error:
            await send_error(send, self.admission.count(error))
            return
        try:
            await self.deadlines.run(self.app(scope, receive, send))
        except RequestTimedOut as timed_out:
            self.admission.count(timed_out)
            if status_holder[0] is None:
                await send_error(send, timed_out)
        except (ClientDisconnect, ClientGone):  # nobody to answer; not a refusal either
            if status_holder[0] is None:
                status_holder[0] = CLIENT_CLOSED
        finally:
            self.admission.release()


def route_template(scope) -> str:
    """The matched route's path template, or ``UNMATCHED_ROUTE``.

    FastAPI's API routes put themselves in the scope. Starlette's plain routes
    (``/docs``, ``/openapi.json``, ``/redoc``) do not, so they are matched here;
    that costs a scan of the routes only for requests that are not API routes.
    """
    route = scope.get("route")
    if route is not None:
        return route.path
    app = scope.get("app")
    for candidate in getattr(app, "routes", ()):
        match, _ = candidate.matches(scope)
        if match is Match.FULL:
            return getattr(candidate, "path", UNMATCHED_ROUTE)
    return UNMATCHED_ROUTE
