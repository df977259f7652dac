"""Every refusal the API gives, and the one way each is written, raw ASGI or Starlette.

Every refusal answers ``{"detail": <sentence>, "reason": <label>}``, is counted
once in ``anomaly_detector_rejected_requests_total{reason}`` (by
``Admission.count``) and never echoes raw values: FastAPI's own validation
handler does, and fails to serialize NaN or Infinity.

A client that disconnects before its body has arrived is not refused: there is
nobody to answer. Both request paths record it as ``CLIENT_CLOSED`` (499, nginx's
"client closed request") in the RED metrics and count no refusal.
"""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from anomaly_detector.errors import InputError
from anomaly_detector.serving.api.responses import json_response

# Messages quote what the client sent (unknown feature names, unexpected fields);
# past this length the middle is cut, so a hostile body cannot make a huge answer.
MAX_DETAIL_CHARS = 4_000
_DETAIL_TAIL_CHARS = 1_000
_JSON_HEADER = (b"content-type", b"application/json")
CLIENT_CLOSED = 499


class ClientGone(Exception):
    """The client disconnected before its request body was complete."""


def bounded_detail(detail: str) -> str:
    """``detail``, with its middle cut when longer than ``MAX_DETAIL_CHARS``."""
    if len(detail) <= MAX_DETAIL_CHARS:
        return detail
    head = MAX_DETAIL_CHARS - _DETAIL_TAIL_CHARS
    cut = len(detail) - MAX_DETAIL_CHARS
    return f"{detail[:head]} ... ({cut} characters cut) ... {detail[-_DETAIL_TAIL_CHARS:]}"


class ApiError(Exception):
    """A request the service refuses, with its HTTP status and metrics reason."""

    def __init__(
        self,
        status_code: int,
        reason: str,
        detail: str,
        headers: dict | None = None,
        feature: str | None = None,
    ) -> None:
        detail = bounded_detail(detail)
        super().__init__(detail)
        self.status_code = status_code
        self.reason = reason
        self.detail = detail
        self.headers = headers
        self.feature = feature  # the one feature at fault, if any (the web page's field)

    @classmethod
    def from_input_error(cls, error: InputError) -> ApiError:
        return cls(422, error.reason, error.message, feature=error.feature)


class Overloaded(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            503,
            "overloaded",
            f"the service is at its limit of {limit} requests in flight; retry shortly",
            headers={"Retry-After": "1"},
        )


class BodyTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413, "body_too_large", f"request body is larger than the limit of {limit} bytes"
        )


class RequestTimedOut(ApiError):
    def __init__(self, seconds: float) -> None:
        super().__init__(
            503,
            "timeout",
            f"the request took longer than {seconds:g} s and was abandoned; retry later",
            headers={"Retry-After": "1"},
        )


class NoModel(ApiError):
    def __init__(self) -> None:
        super().__init__(
            503,
            "no_model",
            "no valid model is loaded yet; train one with `anomaly-detector train` "
            "or check GET /readyz",
            headers={"Retry-After": "5"},
        )


class Unauthorized(ApiError):
    def __init__(self, detail: str, scheme: str) -> None:
        super().__init__(401, "unauthorized", detail, headers={"WWW-Authenticate": scheme})


def error_parts(error: ApiError) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """(status, JSON body, ASGI headers) of an error response."""
    headers = [_JSON_HEADER]
    for name, value in (error.headers or {}).items():
        headers.append((name.lower().encode(), str(value).encode()))
    return (
        error.status_code,
        orjson.dumps({"detail": error.detail, "reason": error.reason}),
        headers,
    )


async def send_error(send, error: ApiError) -> None:
    """Write ``error`` as a whole response on a raw ASGI ``send``."""
    status, body, headers = error_parts(error)
    headers.append((b"content-length", b"%d" % len(body)))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for item in exc.errors()[:5]:
        location = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "request"
        parts.append(f"{location}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    """Route handlers' errors as JSON; each refusal counted by the app's ``Admission``."""

    def refused(request: Request, error: ApiError) -> Response:
        request.app.state.admission.count(error)
        status, body, _ = error_parts(error)
        return Response(body, status, error.headers, media_type="application/json")

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return refused(request, exc)

    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError) -> Response:
        return refused(request, ApiError.from_input_error(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        return refused(request, ApiError(422, "invalid_request", _describe_validation(exc)))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # 404/405 from routing: plain JSON, not counted as a rejected prediction.
        detail = str(exc.detail)
        allow = (getattr(exc, "headers", None) or {}).get("Allow")
        if exc.status_code == 405 and allow:
            detail = f"{request.method} is not allowed on {request.url.path}; use {allow}"
        return json_response(
            {"detail": detail, "reason": "http_error"},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
