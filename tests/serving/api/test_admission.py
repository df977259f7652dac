"""Admission (keys, body limit, slots, refusal counts) on the fast lane and the routed app."""

from __future__ import annotations

import asyncio

import pytest

from anomaly_detector.serving.api.admission import Admission
from anomaly_detector.serving.api.contract import VECTOR_EXAMPLE
from anomaly_detector.serving.api.errors import BodyTooLarge, Overloaded, Unauthorized
from anomaly_detector.serving.metrics import Metrics


@pytest.mark.parametrize("fast_lane", [True, False], ids=["fast-lane", "routed"])
def test_api_keys_protect_scoring_and_model_routes(make_client, fast_lane):
    client = make_client(api_keys="key-one, key-two", fast_lane=fast_lane)
    body = {"feature_vector": VECTOR_EXAMPLE}
    for headers in ({}, {"X-API-Key": "wrong"}, {"X-API-Key": ""}):
        refused = client.post("/prediction", json=body, headers=headers)
        assert refused.status_code == 401 and refused.json()["reason"] == "unauthorized"
    assert (
        client.post("/prediction", json=body, headers={"X-API-Key": "key-two"}).status_code == 200
    )
    batch = {"feature_vectors": [VECTOR_EXAMPLE]}
    assert client.post("/predictions", json=batch).status_code == 401
    assert (
        client.post("/predictions", json=batch, headers={"X-API-Key": "key-one"}).status_code == 200
    )
    assert client.get("/model_information").status_code == 401
    # Probes and metrics stay open: an orchestrator and Prometheus have no key.
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").status_code == 200
    registry = client.app.state.metrics.registry
    refused = registry.get_sample_value(
        "anomaly_detector_rejected_requests_total", {"reason": "unauthorized"}
    )
    assert refused == 5


def test_without_api_keys_everything_is_open(client):
    assert client.post("/prediction", json={"feature_vector": VECTOR_EXAMPLE}).status_code == 200


def test_slow_request_times_out_with_503(make_client):
    client = make_client(request_timeout_seconds=0.001, max_batch_rows=10_000)
    response = client.post("/predictions", json={"feature_vectors": [VECTOR_EXAMPLE] * 5000})
    assert response.status_code == 503
    assert response.json()["reason"] == "timeout"
    assert response.headers["retry-after"] == "1"
    registry = client.app.state.metrics.registry
    assert (
        registry.get_sample_value("anomaly_detector_rejected_requests_total", {"reason": "timeout"})
        == 1
    )
    # The slot was released: the next request is served.
    assert client.post("/prediction", json={"feature_vector": VECTOR_EXAMPLE}).status_code == 200
    assert client.app.state.admission.in_flight == 0


def test_admission_admits_up_to_its_limit():
    admission = Admission(Metrics(), max_in_flight=2)
    admission.admit("/prediction", [])
    admission.admit("/prediction", [])
    with pytest.raises(Overloaded) as refused:
        admission.admit("/prediction", [])
    assert refused.value.status_code == 503 and refused.value.headers == {"Retry-After": "1"}
    admission.release()
    admission.admit("/prediction", [])
    assert admission.in_flight == 2


def test_admission_checks_key_then_declared_length_before_taking_a_slot():
    admission = Admission(Metrics(), 1, frozenset({"k"}), max_body_bytes=100)
    with pytest.raises(Unauthorized):
        admission.admit("/prediction", [(b"content-length", b"1000")])
    with pytest.raises(BodyTooLarge):
        admission.admit("/prediction", [(b"x-api-key", b"k"), (b"content-length", b"1000")])
    admission.admit("/healthz", [(b"content-length", b"10")])  # not a keyed path
    assert admission.in_flight == 1


def test_refusals_are_counted_once_by_reason():
    metrics = Metrics()
    admission = Admission(metrics, 1)
    error = admission.count(BodyTooLarge(10))
    assert error.reason == "body_too_large"
    value = metrics.registry.get_sample_value
    assert value("anomaly_detector_rejected_requests_total", {"reason": "body_too_large"}) == 1


def _post_then_disconnect(app, path: str) -> list[dict]:
    """ASGI: a POST whose client goes away after 10 of the 200 bytes it announced."""
    messages = [
        {"type": "http.request", "body": b'{"feature_', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict] = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "server": ("testserver", 80), "client": ("127.0.0.1", 5000),
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"200")],
        "state": {},
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    return sent


@pytest.mark.parametrize(
    ("fast_lane", "path"),
    [(True, "/prediction"), (False, "/prediction"), (True, "/predictions")],
    ids=["fast-lane", "routed", "routed-batch"],
)
def test_a_client_gone_mid_body_is_no_refusal_on_either_path(make_client, fast_lane, path):
    client = make_client(fast_lane=fast_lane)
    registry = client.app.state.metrics.registry
    refusals = lambda: sum(  # noqa: E731 - a probe read twice
        sample.value
        for family in registry.collect()
        if family.name == "anomaly_detector_rejected_requests"
        for sample in family.samples
        if sample.name.endswith("_total")
    )
    before = refusals()
    assert _post_then_disconnect(client.app, path) == []  # nobody to answer
    assert refusals() == before
    labels = {"route": path, "method": "POST", "status": "499"}
    assert registry.get_sample_value("http_requests_total", labels) == 1
    assert client.app.state.admission.in_flight == 0
