"""``POST /prediction`` served straight from ASGI, ahead of FastAPI's routing.

Profiling a single prediction showed about half of the time in the framework
(middleware stack, routing, dependency resolution, response classes), more than
the scoring itself. This lane does the same work with the same pieces: the one
``Admission`` (keys, body limit, slots, refusal counts), ``parse_json_body`` and
``predict_one`` (every validation rule and domain metric), ``RequestRecorder``
(RED metrics and the access log) and the one error writer. The FastAPI route
stays registered: it documents the endpoint in OpenAPI and serves it when the
lane is off (``FAST_LANE=false``); ``make bench`` measures both.
"""

from __future__ import annotations

import asyncio
import logging
import time

import orjson

from anomaly_detector.serving.api.admission import Admission
from anomaly_detector.serving.api.deadlines import Deadlines
from anomaly_detector.serving.api.errors import (
    CLIENT_CLOSED,
    ApiError,
    ClientGone,
    NoModel,
    error_parts,
)
from anomaly_detector.serving.api.parsing import parse_json_body
from anomaly_detector.serving.api.recorder import RequestRecorder
from anomaly_detector.serving.api.routes.prediction import predict_one
from anomaly_detector.serving.model_store import ModelStore

log = logging.getLogger("anomaly_detector.app")

ROUTE = "/prediction"
_JSON_TYPE = (b"content-type", b"application/json")


class PredictionFastLane:
    """Handles one ASGI ``POST /prediction`` exchange end to end."""

    def __init__(
        self,
        store: ModelStore,
        recorder: RequestRecorder,
        admission: Admission,
        deadlines: Deadlines,
    ) -> None:
        self.store = store
        self.recorder = recorder
        self.metrics = recorder.metrics
        self.admission = admission
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
            try:
                status, body, headers, version = await self._respond(scope, receive)
            except ClientGone:  # nobody to answer; not a refusal either
                status = CLIENT_CLOSED
                return
            # A length, not chunked encoding: the response is one small block.
            headers.append((b"content-length", b"%d" % len(body)))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        finally:
            in_flight.dec()
            self.recorder.record(ROUTE, "POST", status, time.perf_counter() - started, version)

    async def _respond(self, scope, receive):
        """(status, body, headers, model version) of the response to this request."""
        model = self.store.current
        admitted = False
        try:
            self.admission.admit(ROUTE, scope["headers"])
            admitted = True
            # Scoring never waits; only a slow client sending its body can.
            body = await self.deadlines.run(self.admission.read_body(receive))
            if self.admission.in_flight > 1:
                # Other requests are in flight: let the event loop take their I/O
                # before this one is scored and written. Measured with wrk: +5-10%
                # requests/s at 16 connections, and p99 at 64 connections down from
                # ~50 ms to ~10 ms (requests no longer wait behind a run of others).
                # Alone, the extra loop iteration would only add latency.
                await asyncio.sleep(0)
            if model is None:
                raise NoModel()
            payload = parse_json_body(body, _content_type(scope["headers"]))
            result = predict_one(payload, model, self.metrics)
            return 200, orjson.dumps(result), [_JSON_TYPE], model.version
        except ApiError as exc:
            error = exc
        except ClientGone:
            raise
        except Exception:  # never a traceback to the client; the log has it
            log.exception("unexpected error in POST /prediction")
            return 500, orjson.dumps({"detail": "internal error", "reason": "internal"}), \
                [_JSON_TYPE], None  # fmt: skip
        finally:
            if admitted:
                self.admission.release()
        status, body, headers = error_parts(self.admission.count(error))
        return status, body, headers, model.version if model else None


def _content_type(headers) -> str:
    # The first one wins, as in Starlette's request.headers.get().
    for name, value in headers:
        if name == b"content-type":
            return value.decode("latin-1")
    return ""
