"""Client errors: one exception type, and handlers that always produce valid JSON.

Every refusal answers ``{"detail": <sentence>, "reason": <label>}`` and counts
``anomaly_detector_rejected_requests_total{reason}``. FastAPI's own validation
handler echoes the offending input, which fails to serialize when it holds
NaN or Infinity; ours never echoes raw values.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from anomaly_detector.api.responses import json_response
from anomaly_detector.schema import InputError

# Messages quote what the client sent (unknown feature names, unexpected fields);
# past this length the middle is cut, so a hostile body cannot make a huge answer.
MAX_DETAIL_CHARS = 4_000
_DETAIL_TAIL_CHARS = 1_000


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
        self, status_code: int, reason: str, detail: str, headers: dict | None = None
    ) -> None:
        detail = bounded_detail(detail)
        super().__init__(detail)
        self.status_code = status_code
        self.reason = reason
        self.detail = detail
        self.headers = headers

    @classmethod
    def from_input_error(cls, error: InputError) -> ApiError:
        return cls(422, error.reason, error.message)


def error_response(request: Request, error: ApiError) -> Response:
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.rejected_requests.labels(reason=error.reason).inc()
    return json_response(
        {"detail": error.detail, "reason": error.reason},
        status_code=error.status_code,
        headers=error.headers,
    )


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for item in exc.errors()[:5]:
        location = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "request"
        parts.append(f"{location}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return error_response(request, exc)

    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError) -> Response:
        return error_response(request, ApiError.from_input_error(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        return error_response(request, ApiError(422, "invalid_request", _describe_validation(exc)))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # 404/405 from routing: plain JSON, not counted as a rejected prediction.
        return json_response(
            {"detail": str(exc.detail), "reason": "http_error"},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
