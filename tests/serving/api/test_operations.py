"""Health probes, /metrics, /model_information, the admin reload and HTTP metric labels."""

from anomaly_detector.serving.api.contract import VECTOR_EXAMPLE
from factories import write_bundle


def test_health_and_readiness(client, model):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["model_version"] == model[0].version
    for path in ("/healthz", "/readyz"):  # load balancers that probe with HEAD
        head = client.head(path)
        assert head.status_code == 200 and head.content == b"", path
    draining = client.app.state.draining if hasattr(client.app.state, "draining") else None
    client.app.state.draining = True
    assert client.head("/readyz").status_code == 503 == client.get("/readyz").status_code
    client.app.state.draining = draining


def test_not_ready_without_model(make_client, tmp_path):
    client = make_client(model_path=tmp_path / "nothing.joblib")
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "does not exist" in ready.json()["detail"]
    response = client.post("/prediction", json={"feature_vector": VECTOR_EXAMPLE})
    assert response.status_code == 503 and response.json()["reason"] == "no_model"
    assert response.headers["retry-after"] == "5"


def test_model_information(client, model):
    bundle, _ = model
    info = client.get("/model_information").json()
    assert info["version"] == bundle.version
    assert [f["name"] for f in info["features"]] == bundle.schema.names
    assert info["detector"] == "isolation_forest" and info["task"] == "unsupervised"
    assert info["params"] == {
        "n_estimators": 25, "max_samples": "auto", "max_features": 1.0, "random_state": 11,
    }  # fmt: skip
    assert info["score"]["range"] == [0.0, 1.0] and "paper" in info["score"]["meaning"]
    assert info["decision"] == {"threshold": bundle.threshold, "contamination": None}
    assert info["ignored_columns"] == ["client_id", "window_start"]
    assert info["checksum_verified"] is True
    assert info["fast_path"] is True
    for key in (
        "created_at",
        "library_versions",
        "training",
        "reference_scores",
        "sha256",
        "threshold",
    ):
        assert key in info


def test_http_metrics_use_route_templates_and_skip_probes(client, metric):
    client.post("/prediction", json={"feature_vector": VECTOR_EXAMPLE})
    for path in ("/wp-admin", "/etc/passwd", "/a/b/c"):
        client.get(path)
    client.get("/healthz")
    client.get("/metrics")
    assert metric("http_requests_total", route="/prediction", method="POST", status="200") == 1
    assert metric("http_requests_total", route="<unmatched>", method="GET", status="404") == 3
    assert (
        metric(
            "http_request_duration_seconds_count", route="/prediction", method="POST", status="200"
        )
        == 1
    )
    text = client.get("/metrics").text
    assert "/healthz" not in text and "/metrics" not in text.split("# HELP")[0]
    assert 'route="/wp-admin"' not in text
    assert metric("http_requests_in_flight") == 0


def test_the_docs_routes_are_counted_under_their_own_templates(client, metric):
    for path in ("/docs", "/openapi.json", "/redoc"):
        assert client.get(path).status_code == 200
    for route in ("/docs", "/openapi.json", "/redoc"):
        assert metric("http_requests_total", route=route, method="GET", status="200") == 1
    assert metric("http_requests_total", route="<unmatched>", method="GET", status="200") == 0


def test_latency_buckets_are_millisecond_scale(client):
    client.post("/prediction", json={"feature_vector": VECTOR_EXAMPLE})
    text = client.get("/metrics").text
    assert 'le="0.0005"' in text and 'le="0.001"' in text


def test_admin_reload_is_off_without_token(client, metric):
    response = client.post("/admin/reload")
    assert response.status_code == 404
    assert metric("anomaly_detector_rejected_requests_total", reason="unauthorized") == 1


def test_admin_reload_requires_the_token(make_client, model, tmp_path):
    # No watcher in the way: only the admin call may load the new file.
    client = make_client(admin_token="s3cret-token", reload_interval_seconds=3600)
    assert client.post("/admin/reload").status_code == 401
    assert client.post("/admin/reload", headers={"Authorization": "Bearer nope"}).status_code == 401
    # Published the way users publish: model.joblib and its model.json, side by side.
    new_bundle, _ = write_bundle(model[1].parent, seed=12)
    response = client.post("/admin/reload", headers={"Authorization": "Bearer s3cret-token"})
    assert response.status_code == 200
    assert response.json()["version"] == new_bundle.version
    assert response.json()["previous_version"] == model[0].version
    model[1].write_bytes(b"not a model")
    refused = client.post("/admin/reload", headers={"Authorization": "Bearer s3cret-token"})
    assert refused.status_code == 409 and refused.json()["version"] == new_bundle.version


def test_openapi_documents_bodies_and_errors(client):
    spec = client.get("/openapi.json").json()
    prediction = spec["paths"]["/prediction"]["post"]
    schema = prediction["requestBody"]["content"]["application/json"]["schema"]
    assert "feature_vector" in schema["properties"] and "examples" in schema
    assert {"200", "413", "415", "422", "503"} <= set(prediction["responses"])
    assert "/predictions" in spec["paths"] and "/model_information" in spec["paths"]
