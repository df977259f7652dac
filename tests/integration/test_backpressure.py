"""Overload: beyond MAX_IN_FLIGHT the service answers 503 at once, then recovers."""

import asyncio
import statistics
import time

import httpx
import orjson
import pytest

from anomaly_detector.serving.api.contract import VECTOR_EXAMPLE
from factories import write_bundle
from live import LiveServer

pytestmark = pytest.mark.integration


async def _flood(url: str, n: int) -> list[tuple[int, float, str | None]]:
    # Serialized once: the client must not be the bottleneck it is measuring.
    body = orjson.dumps({"feature_vectors": [VECTOR_EXAMPLE] * 10_000})
    headers = {"Content-Type": "application/json"}

    async def one(client):
        started = time.perf_counter()
        response = await client.post("/predictions", content=body, headers=headers)
        return (
            response.status_code,
            time.perf_counter() - started,
            response.headers.get("retry-after"),
        )

    limits = httpx.Limits(max_connections=n)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        return await asyncio.gather(*(one(client) for _ in range(n)))


def test_overload_gets_fast_503_then_recovers(tmp_path):
    _, model_path = write_bundle(tmp_path / "models", seed=51)
    with LiveServer(model_path, tmp_path / "server.log", env={"MAX_IN_FLIGHT": "2"}) as server:
        results = asyncio.run(_flood(server.url, 16))
        served = [seconds for status, seconds, _ in results if status == 200]
        refused = [(seconds, retry) for status, seconds, retry in results if status == 503]
        assert {status for status, _, _ in results} == {200, 503}
        assert served and refused
        assert all(retry == "1" for _, retry in refused)
        # Refusals do not queue behind the work: they come back sooner than the work does.
        assert statistics.median(s for s, _ in refused) < statistics.median(served)
        assert server.metric(
            "anomaly_detector_rejected_requests_total", {"reason": "overloaded"}
        ) == len(refused)
        # Recovery: once the flood is over, everything is served again.
        assert server.metric("http_requests_in_flight") == 0
        after = httpx.post(server.url + "/prediction", json={"feature_vector": VECTOR_EXAMPLE})
        assert after.status_code == 200
        again = asyncio.run(_flood(server.url, 2))
        assert [status for status, _, _ in again] == [200, 200]


def _read_response(sock) -> str:
    """A whole HTTP response: headers and then Content-Length bytes (they may come apart)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return data.decode()
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
         if line.lower().startswith(b"content-length:")),
        0,
    )  # fmt: skip
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            break
        body += chunk
    return (head + b"\r\n\r\n" + body).decode()


@pytest.mark.parametrize("path", ["/prediction", "/predictions"], ids=["fast-lane", "routed"])
def test_a_client_that_stops_sending_its_body_gets_a_503_and_frees_its_slot(tmp_path, path):
    import socket

    _, model_path = write_bundle(tmp_path / "models", seed=52)
    env = {"REQUEST_TIMEOUT_SECONDS": "1", "MAX_IN_FLIGHT": "1"}
    with LiveServer(model_path, tmp_path / "server.log", env=env) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=15) as slow:
            # Headers promise 200 bytes; only the first 10 ever arrive.
            slow.sendall(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                'Content-Length: 200\r\n\r\n{"feature_'.encode()
            )
            started = time.monotonic()
            # While it hangs it holds the only slot: others are refused, not queued.
            busy = httpx.post(server.url + "/prediction", json={"feature_vector": VECTOR_EXAMPLE})
            assert busy.status_code == 503 and busy.json()["reason"] == "overloaded"
            reply = _read_response(slow)
            waited = time.monotonic() - started
        assert reply.startswith("HTTP/1.1 503"), reply
        assert '"reason":"timeout"' in reply and "retry-after: 1" in reply.lower()
        assert 0.9 <= waited < 10
        assert server.metric("anomaly_detector_rejected_requests_total", {"reason": "timeout"}) == 1
        assert server.metric("http_requests_in_flight") == 0
        after = httpx.post(server.url + "/prediction", json={"feature_vector": VECTOR_EXAMPLE})
        assert after.status_code == 200
