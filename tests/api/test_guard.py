"""API keys and request timeouts, on the fast lane and the routed app alike."""

import pytest

from anomaly_detector.api.guard import Guard, Overloaded
from anomaly_detector.api.schemas import VECTOR_EXAMPLE


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
    assert client.app.state.guard.in_flight == 0


def test_guard_admits_up_to_its_limit():
    guard = Guard(max_in_flight=2)
    guard.enter()
    guard.enter()
    with pytest.raises(Overloaded) as refused:
        guard.enter()
    assert refused.value.status_code == 503 and refused.value.headers == {"Retry-After": "1"}
    guard.leave()
    guard.enter()
    assert guard.in_flight == 2
