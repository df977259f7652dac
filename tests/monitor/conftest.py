"""A stand-in for Prometheus: a real HTTP server answering ``/api/v1/query_range``.

The watcher talks to it over HTTP exactly as to Prometheus. Each query maps to
result series, each a label set and a function of time giving the value at a
step (``None``: no sample, as in a scrape gap). ``stop()`` and ``start()`` take the
server down and bring it back on the same port; ``reject`` makes a query fail the
way Prometheus refuses a bad expression.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

Value = Callable[[float], float | None]


class PrometheusStandIn:
    """Serves ``results[query]`` (``[(labels, value_at), ...]``) as range-query matrices."""

    def __init__(self) -> None:
        self.results: dict[str, list[tuple[dict[str, str], Value]]] = {}
        self.reject: dict[str, str] = {}
        self.requests: list[dict[str, str]] = []
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parsed = urlparse(self.path)
                params = {k: v[0] for k, v in parse_qs(parsed.query).items()}
                stand_in.requests.append(params)
                status, body = stand_in.answer(parsed.path, params)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:  # keep the test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, dict]:
        if path != "/api/v1/query_range":
            return 404, {"status": "error", "error": f"no handler for {path}"}
        query = params["query"]
        if query in self.reject:
            return 400, {"status": "error", "errorType": "bad_data", "error": self.reject[query]}
        start, end, step = (float(params[k]) for k in ("start", "end", "step"))
        steps = [start + i * step for i in range(int(round((end - start) / step)) + 1)]
        result = []
        for labels, value_at in self.results.get(query, []):
            values = [(t, value_at(t)) for t in steps]
            values = [[t, "NaN" if math.isnan(v) else repr(v)] for t, v in values if v is not None]
            if values:
                result.append({"metric": labels, "values": values})
        return 200, {"status": "success", "data": {"resultType": "matrix", "result": result}}


@pytest.fixture
def prometheus():
    stand_in = PrometheusStandIn()
    stand_in.start()
    yield stand_in
    stand_in.stop()
