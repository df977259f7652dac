"""POST /prediction and /predictions: results equal the libraries', every bad input is a 4xx."""

from __future__ import annotations

import numpy as np
import pytest

from anomaly_detector.serving.api.contract import FEATURES_EXAMPLE, VECTOR_EXAMPLE
from factories import write_bundle


def _reference(bundle, rows):
    """Scores through scikit-learn alone, and the bundle's decision on them."""
    frame = bundle.schema.frame_from_rows([bundle.schema.row_from_vector(r) for r in rows])
    scores = bundle.reference_scores(frame)
    return scores, scores <= bundle.threshold


def test_vector_prediction_matches_pipeline(client, model, metric):
    bundle, _ = model
    response = client.post("/prediction", json={"feature_vector": VECTOR_EXAMPLE, "score": True})
    assert response.status_code == 200
    body = response.json()
    scores, inlier = _reference(bundle, [VECTOR_EXAMPLE])
    assert body["model_version"] == bundle.version
    assert abs(body["anomaly_score"] - scores[0]) <= 1e-9
    assert body["is_inlier"] == bool(inlier[0])
    outcome = "inlier" if body["is_inlier"] else "anomaly"
    assert metric("anomaly_detector_predictions_total", outcome=outcome, endpoint="prediction") == 1
    assert metric("anomaly_detector_anomaly_score_count") == 1


def test_responses_carry_a_length_not_chunks(client):
    response = client.post("/prediction", json={"feature_vector": VECTOR_EXAMPLE, "score": True})
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(response.content))
    assert "transfer-encoding" not in response.headers
    assert response.headers["content-type"] == "application/json"


def test_score_is_omitted_unless_asked(client):
    body = client.post("/prediction", json={"feature_vector": VECTOR_EXAMPLE}).json()
    assert set(body) == {"is_inlier", "model_version"}


def test_named_features_equal_vector(client):
    by_name = client.post("/prediction", json={"features": FEATURES_EXAMPLE, "score": True}).json()
    by_position = client.post(
        "/prediction", json={"feature_vector": VECTOR_EXAMPLE, "score": True}
    ).json()
    assert by_name == by_position


def test_null_means_missing_and_is_imputed(client, model):
    bundle, _ = model
    vector = list(VECTOR_EXAMPLE)
    vector[5] = None
    response = client.post("/prediction", json={"feature_vector": vector, "score": True})
    assert response.status_code == 200
    assert abs(response.json()["anomaly_score"] - _reference(bundle, [vector])[0][0]) <= 1e-9


def test_a_raw_row_with_the_columns_training_dropped_is_accepted(client, metric):
    raw = {"client_id": "c-00042", "window_start": "2026-11-22T03:10:00Z", **FEATURES_EXAMPLE}
    expected = client.post("/prediction", json={"features": FEATURES_EXAMPLE, "score": True})
    response = client.post("/prediction", json={"features": raw, "score": True})
    assert response.status_code == 200, response.text
    assert response.json() == expected.json()
    batch = client.post("/predictions", json={"features": [raw, raw], "score": True})
    assert batch.status_code == 200 and batch.json()["count"] == 2


def test_a_number_for_a_text_category_is_refused_naming_the_categories(client, metric):
    vector = [3, *VECTOR_EXAMPLE[1:]]
    response = client.post("/prediction", json={"feature_vector": vector})
    assert response.status_code == 422
    body = response.json()
    assert body["reason"] == "invalid_category"
    assert "'client_type'" in body["detail"] and "'mobile'" in body["detail"]
    assert metric("anomaly_detector_rejected_requests_total", reason="invalid_category") == 1


def test_batch_matches_pipeline_for_random_rows(client, model, metric):
    bundle, _ = model
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(2000):
        row = [str(rng.choice(["mobile", "browser", "batch_job", "unknown-type"]))]
        row += [float(v) for v in rng.lognormal(2, 3, size=len(bundle.schema) - 1)]
        rows.append(row)
    response = client.post("/predictions", json={"feature_vectors": rows, "score": True})
    assert response.status_code == 200
    body = response.json()
    scores, inlier = _reference(bundle, rows)
    assert body["count"] == 2000
    assert np.max(np.abs(np.array(body["anomaly_score"]) - scores)) <= 1e-9
    assert body["is_inlier"] == inlier.tolist()
    assert metric("anomaly_detector_anomaly_score_count") == 2000
    anomalies = metric(
        "anomaly_detector_predictions_total", outcome="anomaly", endpoint="predictions"
    )
    assert anomalies == int((~inlier).sum())


def test_batch_of_feature_objects(client):
    body = client.post("/predictions", json={"features": [FEATURES_EXAMPLE] * 3}).json()
    assert body["count"] == 3 and len(body["is_inlier"]) == 3 and "anomaly_score" not in body


BAD_SINGLE = [
    ({"feature_vector": [1, 2]}, 422, "wrong_length", "expected a feature_vector of 10 values"),
    (
        {"feature_vector": ["mobile", "x", 1, 1, 1, 1, 1, 1, 1, 1]},
        422,
        "non_numeric",
        "hour_of_day",
    ),
    (
        {"feature_vector": ["mobile", True, 1, 1, 1, 1, 1, 1, 1, 1]},
        422,
        "non_numeric",
        "hour_of_day",
    ),
    (
        {"feature_vector": ["mobile", [1], 1, 1, 1, 1, 1, 1, 1, 1]},
        422,
        "non_numeric",
        "hour_of_day",
    ),
    ({"features": {**FEATURES_EXAMPLE, "color": 1}}, 422, "unknown_feature", "'color'"),
    ({"features": {"client_type": "mobile"}}, 422, "missing_feature", "'hour_of_day'"),
    ({}, 422, "invalid_request", "exactly one of"),
    (
        {"feature_vector": VECTOR_EXAMPLE, "features": FEATURES_EXAMPLE},
        422,
        "invalid_request",
        "exactly one",
    ),
    ({"feature_vector": VECTOR_EXAMPLE, "extra": 1}, 422, "invalid_request", "'extra'"),
    ({"feature_vector": VECTOR_EXAMPLE, "score": "yes"}, 422, "invalid_request", "'score'"),
    ({"feature_vector": "1,2,3"}, 422, "invalid_request", "list"),
    ({"features": [1, 2]}, 422, "invalid_request", "object"),
]


@pytest.mark.parametrize(("body", "status", "reason", "words"), BAD_SINGLE)
def test_bad_single_requests(client, metric, body, status, reason, words):
    response = client.post("/prediction", json=body)
    assert response.status_code == status
    assert response.headers["content-length"] == str(len(response.content))
    assert response.json()["reason"] == reason
    assert words in response.json()["detail"]
    assert metric("anomaly_detector_rejected_requests_total", reason=reason) == 1


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
def test_non_finite_literals_are_refused(client, metric, literal):
    vector = ", ".join(['"mobile"', literal] + ["1"] * 8)
    response = client.post(
        "/prediction",
        content=f'{{"feature_vector": [{vector}]}}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["reason"] == "non_finite"
    assert metric("anomaly_detector_rejected_requests_total", reason="non_finite") == 1


@pytest.mark.parametrize(
    ("content", "content_type", "status", "reason"),
    [
        (b"", "application/json", 422, "invalid_json"),
        (b"{not json", "application/json", 422, "invalid_json"),
        (b"[1, 2, 3]", "application/json", 422, "invalid_request"),
        (b"[" * 5000 + b"]" * 5000, "application/json", 422, "invalid_json"),
        (b'{"feature_vector": [1]}', "text/plain", 415, "unsupported_media_type"),
        (b'{"feature_vector": [1]}', "", 415, "unsupported_media_type"),
    ],
    ids=["empty", "broken", "array", "deep-nesting", "text-plain", "no-content-type"],
)
def test_malformed_bodies(client, metric, content, content_type, status, reason):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/prediction", content=content, headers=headers)
    assert response.status_code == status
    assert response.json()["reason"] == reason
    assert metric("anomaly_detector_rejected_requests_total", reason=reason) == 1


def test_batch_limits(make_client, metric):
    client = make_client(max_batch_rows=5)
    value = lambda reason: client.app.state.metrics.registry.get_sample_value(  # noqa: E731 - local shorthand
        "anomaly_detector_rejected_requests_total", {"reason": reason}
    )
    empty = client.post("/predictions", json={"feature_vectors": []})
    assert empty.status_code == 422 and empty.json()["reason"] == "empty_batch"
    big = client.post("/predictions", json={"feature_vectors": [VECTOR_EXAMPLE] * 6})
    assert big.status_code == 413 and "limit is 5" in big.json()["detail"]
    bad_row = client.post("/predictions", json={"feature_vectors": [VECTOR_EXAMPLE, [1]]})
    assert bad_row.status_code == 422 and bad_row.json()["detail"].startswith("row 1:")
    assert (
        value("empty_batch") == 1 and value("batch_too_large") == 1 and value("wrong_length") == 1
    )


def test_oversized_body_is_413(make_client):
    client = make_client(max_body_bytes=2048)
    response = client.post("/predictions", json={"feature_vectors": [VECTOR_EXAMPLE] * 100})
    assert response.status_code == 413
    assert response.json()["reason"] == "body_too_large"
    registry = client.app.state.metrics.registry
    assert (
        registry.get_sample_value(
            "anomaly_detector_rejected_requests_total", {"reason": "body_too_large"}
        )
        == 1
    )


def test_huge_vector_is_refused_quickly(client):
    response = client.post("/prediction", json={"feature_vector": [1.0] * 100_000})
    assert response.status_code == 422 and response.json()["reason"] == "wrong_length"


def test_unicode_feature_names_are_reported_not_crashing(client):
    response = client.post("/prediction", json={"features": {"λατένcy_☃": 1}})
    assert response.status_code == 422
    assert "λατένcy_☃" in response.json()["detail"]


@pytest.fixture
def scaled_client(make_client, tmp_path, request):
    """A client serving a detector on the percentile scale (HBOS), on either request path."""
    saved = write_bundle(tmp_path / "hbos", detector="hbos", seed=3)
    return saved.bundle, make_client(model_path=saved.model_path, fast_lane=request.param)


@pytest.mark.parametrize("scaled_client", [True, False], ids=["fast-lane", "routed"], indirect=True)
def test_raw_score_is_the_detectors_own_score_when_asked(scaled_client):
    bundle, client = scaled_client
    # Request rate, error ratio, latencies and auth failures far beyond the training rows.
    odd = ["mobile", 14, 20_000.0, 0.9, 9_000.0, 30_000.0, 20480, 512000, 6, 400]
    frame = bundle.schema.frame_from_rows(
        [bundle.schema.row_from_vector(r) for r in (VECTOR_EXAMPLE, odd)]
    )
    raw, scores = bundle.reference_raw_scores(frame), bundle.reference_scores(frame)
    bodies = []
    for row in (VECTOR_EXAMPLE, odd):
        answer = client.post(
            "/prediction", json={"feature_vector": row, "score": True, "raw_score": True}
        )
        assert answer.status_code == 200, answer.text
        bodies.append(answer.json())
    np.testing.assert_allclose([b["raw_score"] for b in bodies], raw, rtol=1e-9)
    np.testing.assert_allclose([b["anomaly_score"] for b in bodies], scores, rtol=1e-9)
    assert all(0.0 <= b["anomaly_score"] <= 1.0 for b in bodies)
    assert bodies[1]["anomaly_score"] > bodies[0]["anomaly_score"] and not bodies[1]["is_inlier"]
    plain = client.post(
        "/prediction", json={"feature_vector": VECTOR_EXAMPLE, "score": True}
    ).json()
    assert "raw_score" not in plain
    batch = client.post(
        "/predictions", json={"feature_vectors": [VECTOR_EXAMPLE, odd], "raw_score": True}
    ).json()
    np.testing.assert_allclose(batch["raw_score"], raw, rtol=1e-9)
    assert "anomaly_score" not in batch
    info = client.get("/model_information").json()
    assert info["detector"] == "hbos" and info["score"]["scaled"] is True
    assert info["score"]["range"] == [0.0, 1.0] and "training" in info["score"]["meaning"]


def test_raw_score_flag_must_be_a_boolean(client):
    answer = client.post("/prediction", json={"feature_vector": VECTOR_EXAMPLE, "raw_score": "yes"})
    assert answer.status_code == 422 and answer.json()["reason"] == "invalid_request"
    assert "raw_score" in answer.json()["detail"]
