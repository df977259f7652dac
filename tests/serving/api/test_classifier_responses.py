"""A supervised alert-priority model behind the API: labels, probabilities, explanations."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from anomaly_detector.bundle.io import save_bundle
from anomaly_detector.data.synthetic.alerts import PRIORITY_COLUMN, generate_alerts
from anomaly_detector.serving.api.app import create_app
from anomaly_detector.settings import Settings
from anomaly_detector.training.train import TrainConfig, train

ALERT = {
    "alert_type": "data_exfiltration", "source_ip_risk": 0.91, "user_risk_score": 75.0,
    "failed_logins_24h": 30, "impossible_travel": 1, "asset_criticality": "crown_jewel",
    "historical_fp_rate": 0.02,
}  # fmt: skip


@pytest.fixture(scope="module")
def priority_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("alerts")
    config = TrainConfig(task="supervised", label_column=PRIORITY_COLUMN, params={"max_iter": 40})
    bundle = train(generate_alerts(2500), config).bundle
    model_path, _ = save_bundle(bundle, folder)
    return bundle, model_path


@pytest.fixture(params=[True, False], ids=["fast-lane", "routed"])
def client(priority_model, request):
    settings = Settings(model_path=priority_model[1], fast_lane=request.param, max_explain_rows=5)
    with TestClient(create_app(settings, registry=CollectorRegistry())) as test_client:
        yield test_client


def test_a_row_gets_label_confidence_probabilities_and_the_anomaly_score(client, priority_model):
    bundle, _ = priority_model
    body = client.post("/prediction", json={"features": ALERT}).json()
    assert body["label"] == "high"
    assert set(body["probabilities"]) == {"low", "medium", "high"}
    assert abs(sum(body["probabilities"].values()) - 1) < 1e-9
    assert body["confidence"] == max(body["probabilities"].values())
    assert abs(body["anomaly_score"] - (1 - body["probabilities"]["low"])) < 1e-12
    assert body["is_inlier"] is False and body["model_version"] == bundle.version
    registry = client.app.state.metrics.registry
    counted = registry.get_sample_value(
        "anomaly_detector_predictions_by_class_total", {"label": "high", "endpoint": "prediction"}
    )
    assert counted == 1


def test_unknown_categories_and_nulls_get_an_answer_malformed_rows_a_422(client):
    odd = {**ALERT, "alert_type": "never_seen_before", "user_risk_score": None}
    body = client.post("/prediction", json={"features": odd}).json()
    assert body["label"] in ("low", "medium", "high")
    assert abs(sum(body["probabilities"].values()) - 1) < 1e-9
    for bad, words in (
        ({**ALERT, "source_ip_risk": "very"}, "source_ip_risk"),
        ({k: v for k, v in ALERT.items() if k != "alert_type"}, "missing feature(s) 'alert_type'"),
    ):
        response = client.post("/prediction", json={"features": bad})
        assert response.status_code == 422, response.text
        assert words in response.json()["detail"]


def test_explanations_add_up_and_batches_are_bounded(client):
    body = client.post("/prediction", json={"features": ALERT, "explain": True}).json()
    explained = body["explanation"]
    assert abs(explained["base_value"] + sum(explained["contributions"].values())
               - explained["value"]) < 1e-6  # fmt: skip
    assert explained["sentence"].startswith("labelled 'high' mainly because")
    assert explained["features"][0]["name"] in ALERT
    batch = client.post("/predictions", json={"features": [ALERT] * 3, "explain": True}).json()
    assert batch["label"] == ["high"] * 3 and len(batch["explanations"]) == 3
    assert len(batch["probabilities"]["low"]) == 3
    too_many = client.post("/predictions", json={"features": [ALERT] * 6, "explain": True})
    assert too_many.status_code == 413 and "MAX_EXPLAIN_ROWS" in too_many.json()["detail"]
    plain = client.post("/predictions", json={"features": [ALERT] * 6}).json()
    assert "explanations" not in plain and plain["count"] == 6
    flag = client.post("/prediction", json={"features": ALERT, "explain": "yes"})
    assert flag.status_code == 422 and "'explain' must be true or false" in flag.json()["detail"]
