"""Admission control shared by the fast lane and the routed app.

* A bounded number of requests in flight per worker: beyond it the service
  answers 503 with ``Retry-After`` at once instead of queueing without bound.
* Optional API keys (``API_KEYS``) for the endpoints that score or describe the
  model, compared in constant time.

Health probes and ``/metrics`` are never limited or keyed: an overloaded or
locked-down service must still say how it is doing.
"""

from __future__ import annotations

import hmac

from anomaly_detector.api.errors import ApiError

PROTECTED_PATHS = frozenset({"/prediction", "/predictions", "/model_information"})


class Overloaded(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            503,
            "overloaded",
            f"the service is at its limit of {limit} requests in flight; retry shortly",
            headers={"Retry-After": "1"},
        )


class Guard:
    """Counts requests in flight and checks API keys."""

    def __init__(self, max_in_flight: int, api_keys: frozenset[str] = frozenset()) -> None:
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self._keys = [key.encode() for key in sorted(api_keys)]

    def enter(self) -> None:
        """Take a slot or raise ``Overloaded``; pair every successful call with ``leave``."""
        if self.in_flight >= self.max_in_flight:
            raise Overloaded(self.max_in_flight)
        self.in_flight += 1

    def leave(self) -> None:
        self.in_flight -= 1

    def check_key(self, path: str, headers) -> None:
        """Raise 401 when API keys are configured and the request has none of them."""
        if not self._keys or path not in PROTECTED_PATHS:
            return
        given = b""
        for name, value in headers:
            if name == b"x-api-key":
                given = value
                break
        # Compare against every key so the time taken does not depend on which matched.
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(given, key)
        if not matched:
            raise ApiError(
                401,
                "unauthorized",
                "missing or unknown API key: send it in the X-API-Key header",
                headers={"WWW-Authenticate": "ApiKey"},
            )


def error_parts(error: ApiError) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """(status, JSON body, ASGI headers) of an error response, for code that speaks raw ASGI."""
    import orjson

    headers = [(b"content-type", b"application/json")]
    for name, value in (error.headers or {}).items():
        headers.append((name.lower().encode(), str(value).encode()))
    return (
        error.status_code,
        orjson.dumps({"detail": error.detail, "reason": error.reason}),
        headers,
    )


async def send_error(send, error: ApiError) -> None:
    status, body, headers = error_parts(error)
    headers.append((b"content-length", b"%d" % len(body)))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
