"""``POST /prediction`` served straight from ASGI, ahead of FastAPI's routing.

Profiling a single prediction showed about half of the time in the framework
(middleware stack, routing, dependency resolution, response classes), more than
the scoring itself. This lane does the same work with the same functions:
``parse_json_body`` and ``predict_one`` (every validation rule and domain
metric), ``RequestRecorder`` (RED metrics and the access log), the same body
limit and error bodies. The FastAPI route stays registered: it documents the
endpoint in OpenAPI and serves it when the lane is disabled.
"""

from __future__ import annotations

import asyncio
import logging
import time

import orjson

from anomaly_detector.api.deadlines import Deadlines
from anomaly_detector.api.errors import ApiError
from anomaly_detector.api.guard import Guard, error_parts
from anomaly_detector.api.middleware import BodyTooLarge
from anomaly_detector.api.parsing import parse_json_body
from anomaly_detector.api.recorder import RequestRecorder
from anomaly_detector.api.routes.prediction import predict_one
from anomaly_detector.model_store import ModelStore

log = logging.getLogger("anomaly_detector.app")

ROUTE = "/prediction"
_JSON_TYPE = (b"content-type", b"application/json")


class PredictionFastLane:
    """Handles one ASGI ``POST /prediction`` exchange end to end."""

    def __init__(
        self,
        store: ModelStore,
        recorder: RequestRecorder,
        guard: Guard,
        max_body_bytes: int,
        deadlines: Deadlines,
    ):
        self.store = store
        self.recorder = recorder
        self.metrics = recorder.metrics
        self.guard = guard
        self.max_body_bytes = max_body_bytes
        self.deadlines = deadlines

    @staticmethod
    def matches(scope) -> bool:
        return scope["type"] == "http" and scope["path"] == ROUTE and scope["method"] == "POST"

    async def __call__(self, scope, receive, send) -> None:
        started = time.perf_counter()
        in_flight = self.metrics.http_requests_in_flight
        in_flight.inc()
        status, version = 500, None
        try:
            status, body, headers, version = await self._respond(scope, receive)
            # A length, not chunked encoding: the response is one small block.
            headers.append((b"content-length", b"%d" % len(body)))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        finally:
            in_flight.dec()
            self.recorder.record(ROUTE, "POST", status, time.perf_counter() - started, version)

    async def _respond(self, scope, receive):
        content_type, declared = "", None
        for name, value in scope["headers"]:
            if name == b"content-type" and not content_type:
                # The first one wins, as in Starlette's request.headers.get().
                content_type = value.decode("latin-1")
            elif name == b"content-length":
                declared = int(value) if value.isdigit() else None
        model = self.store.current
        entered = False
        try:
            self.guard.check_key(ROUTE, scope["headers"])
            if declared is not None and declared > self.max_body_bytes:
                raise BodyTooLarge(self.max_body_bytes)
            self.guard.enter()
            entered = True
            # Scoring never waits; only a slow client sending its body can.
            body = await self.deadlines.run(self._read_body(receive))
            if self.guard.in_flight > 1:
                # Other requests are in flight: let the event loop take their I/O
                # before this one is scored and written. Measured with wrk: +5-10%
                # requests/s at 16 connections, and p99 at 64 connections down from
                # ~50 ms to ~10 ms (requests no longer wait behind a run of others).
                # Alone, the extra loop iteration would only add latency.
                await asyncio.sleep(0)
            if model is None:
                raise ApiError(503, "no_model", "no valid model is loaded yet; check GET /readyz",
                               headers={"Retry-After": "5"})  # fmt: skip
            payload = parse_json_body(body, content_type)
            result = predict_one(payload, model, self.metrics)
            return 200, orjson.dumps(result), [_JSON_TYPE], model.version
        except ApiError as exc:
            error = exc
        except Exception:  # never a traceback to the client; the log has it
            log.exception("unexpected error in POST /prediction")
            return 500, orjson.dumps({"detail": "internal error", "reason": "internal"}), \
                [_JSON_TYPE], None  # fmt: skip
        finally:
            if entered:
                self.guard.leave()
        self.metrics.rejected_requests.labels(reason=error.reason).inc()
        status, body, headers = error_parts(error)
        return status, body, headers, model.version if model else None

    async def _read_body(self, receive) -> bytes:
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BodyTooLarge(self.max_body_bytes)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
