"""Admission: the one gate both request paths (the fast lane and the routed app) pass.

* Optional API keys (``API_KEYS``) for the endpoints that score or describe the
  model (the web page's fragments too), compared in constant time.
* The body limit: a declared ``Content-Length`` over ``MAX_BODY_BYTES`` is refused
  before a byte is read, and a body that turns out larger while read is cut off.
* A bounded number of requests in flight per worker: beyond it the service
  answers 503 with ``Retry-After`` at once instead of queueing without bound.
* Every refusal, here or later in the request, is counted once, by ``count``.

Health probes and ``/metrics`` are never limited or keyed: an overloaded or
locked-down service must still say how it is doing.
"""

from __future__ import annotations

import hmac

from anomaly_detector.serving.api.errors import (
    ApiError,
    BodyTooLarge,
    ClientGone,
    Overloaded,
    Unauthorized,
)
from anomaly_detector.serving.metrics import Metrics

# The web page's fragments score or describe the model too; the page itself (GET /ui)
# and its static files are open, so a person can get as far as typing the key.
PROTECTED_PATHS = frozenset(
    {"/prediction", "/predictions", "/model_information", "/ui/model", "/ui/score", "/ui/batch"}
)


class Admission:
    """Checks keys and body sizes, counts requests in flight and refusals.

    Args:
        metrics: where refusals are counted.
        max_in_flight: requests served at once; more get ``Overloaded``.
        api_keys: accepted ``X-API-Key`` values; empty: no key needed.
        max_body_bytes: the largest body accepted.
    """

    def __init__(
        self,
        metrics: Metrics,
        max_in_flight: int,
        api_keys: frozenset[str] = frozenset(),
        max_body_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self.metrics = metrics
        self.max_in_flight = max_in_flight
        self.max_body_bytes = max_body_bytes
        self.in_flight = 0
        self._keys = [key.encode() for key in sorted(api_keys)]

    def admit(self, path: str, headers) -> None:
        """Check the key and declared length, then take a slot; pair with ``release``.

        Raises:
            ApiError: 401 (key), 413 (declared length) or 503 (no slot); not yet counted.
        """
        declared = None
        given = b""
        for name, value in headers:
            if name == b"content-length":
                declared = int(value) if value.isdigit() else None
            elif name == b"x-api-key":
                given = value
        if self._keys and path in PROTECTED_PATHS and not self._key_matches(given):
            raise Unauthorized(
                "missing or unknown API key: send it in the X-API-Key header", scheme="ApiKey"
            )
        if declared is not None and declared > self.max_body_bytes:
            raise BodyTooLarge(self.max_body_bytes)
        if self.in_flight >= self.max_in_flight:
            raise Overloaded(self.max_in_flight)
        self.in_flight += 1

    def release(self) -> None:
        """Give back the slot ``admit`` took."""
        self.in_flight -= 1

    def count(self, error: ApiError) -> ApiError:
        """Count a refusal by its reason (once per request); returns ``error``."""
        self.metrics.count_rejection(error.reason)
        return error

    async def read_body(self, receive) -> bytes:
        """The whole body of an ASGI request.

        Raises:
            BodyTooLarge: past the limit.
            ClientGone: the client disconnected before the body was complete.
        """
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BodyTooLarge(self.max_body_bytes)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def limit_receive(self, receive):
        """``receive`` that raises ``BodyTooLarge`` once the body passes the limit."""
        received = 0
        limit = self.max_body_bytes

        async def limited():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        return limited

    def _key_matches(self, given: bytes) -> bool:
        # Compare against every key so the time taken does not depend on which matched.
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(given, key)
        return matched
