"""SIGTERM: readiness turns false first, requests in flight complete, none is dropped."""

import signal
import threading
import time

import httpx
import orjson
import pytest

from anomaly_detector.serving.api.contract import VECTOR_EXAMPLE
from factories import write_bundle
from live import LiveServer, wait_for

pytestmark = pytest.mark.integration

BATCH = {"feature_vectors": [VECTOR_EXAMPLE] * 3000}


def test_drain_delay_keeps_serving_clients_that_follow_readiness(tmp_path):
    """Like a load balancer: clients stop sending once /readyz says 503."""
    _, model_path = write_bundle(tmp_path / "models", seed=41)
    outcomes: list[tuple[float, str]] = []  # (time completed, outcome)
    routable = threading.Event()
    routable.set()
    stop = threading.Event()
    with LiveServer(
        model_path, tmp_path / "server.log", env={"SHUTDOWN_DELAY_SECONDS": "1.5"}
    ) as server:

        def client():
            with httpx.Client(base_url=server.url, timeout=10) as http:
                while not stop.is_set():
                    if not routable.is_set():
                        time.sleep(0.01)
                        continue
                    try:
                        status = http.post("/predictions", json=BATCH).status_code
                        outcome = "ok" if status == 200 else f"status {status}"
                    except httpx.HTTPError as exc:
                        outcome = f"failed: {exc!r}"
                    outcomes.append((time.monotonic(), outcome))

        def balancer():
            while not stop.is_set():
                try:
                    ready = httpx.get(server.url + "/readyz", timeout=2).status_code == 200
                except httpx.HTTPError:
                    ready = False
                if not ready:
                    routable.clear()
                time.sleep(0.02)

        threads = [threading.Thread(target=client) for _ in range(4)] + [
            threading.Thread(target=balancer)
        ]
        for thread in threads:
            thread.start()
        wait_for(lambda: len(outcomes) >= 8, timeout=30, what="traffic")
        terminated_at = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        wait_for(lambda: not routable.is_set(), timeout=5, what="readiness to turn false")
        not_ready_after = time.monotonic() - terminated_at
        exit_code = server.process.wait(timeout=30)
        stop.set()
        for thread in threads:
            thread.join(timeout=15)

    failures = [o for _, o in outcomes if o != "ok"]
    assert not failures, failures[:5]
    # uvicorn re-raises the signal once the graceful shutdown is complete.
    assert exit_code == -signal.SIGTERM
    assert "Application shutdown complete" in server.logs()
    assert not_ready_after < 1.0  # readiness flipped well before the 1.5 s delay ended
    assert any(t > terminated_at for t, _ in outcomes), "nothing completed after SIGTERM"


def test_requests_in_flight_at_sigterm_complete(tmp_path):
    """Four requests still sending their bodies at SIGTERM are all answered.

    Each body is held half-sent until the signal is delivered, so all four are in
    flight at that moment however fast or slow the machine is (a batch that is only
    large would let the first request finish before the fourth arrived).
    """
    _, model_path = write_bundle(tmp_path / "models", seed=42)
    body = orjson.dumps(BATCH)
    half = len(body) // 2
    signalled = threading.Event()
    results: list[str] = []
    with LiveServer(model_path, tmp_path / "server.log") as server:

        def held_body():
            yield body[:half]
            signalled.wait(timeout=20)
            yield body[half:]

        def post():
            try:
                response = httpx.post(
                    server.url + "/predictions",
                    content=held_body(),
                    headers={"content-type": "application/json"},
                    timeout=20,
                )
                results.append(
                    "ok" if response.status_code == 200 else f"status {response.status_code}"
                )
            except httpx.HTTPError as exc:
                results.append(f"failed: {exc!r}")

        threads = [threading.Thread(target=post) for _ in range(4)]
        for thread in threads:
            thread.start()
        # SIGTERM once the server itself counts all four as in flight.
        wait_for(lambda: server.metric("http_requests_in_flight") == 4, timeout=20,
                 interval=0.05, what="four requests in flight")  # fmt: skip
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.2)  # the signal is handled before the rest of the bodies arrive
        signalled.set()
        for thread in threads:
            thread.join(timeout=30)
        assert server.process.wait(timeout=30) == -signal.SIGTERM
    assert results == ["ok"] * 4, results
    assert "Application shutdown complete" in server.logs()
