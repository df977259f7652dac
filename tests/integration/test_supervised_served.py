"""Supervised bundles on a real uvicorn: swapped over an unsupervised one and back under load.

The acceptance test of the supervised issue's serving lines: the CLI trains a
binary and a six-class classifier on the labelled test.csv, they are published in
turn over the default unsupervised model while traffic runs (not one request may
fail), each answers with ``label``, ``confidence`` and ``probabilities``, explains
a row with contributions that add up, counts predictions by class in /metrics, and
``anomaly-detector threshold --use`` re-publishes a recommendation that changes
``is_inlier`` for the rows it should.
"""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import numpy as np
import pandas as pd
import pytest
from test_detectors_served import _publish, _served_version
from test_live_server import Traffic

from anomaly_detector.bundle.io import load_bundle
from live import LiveServer, wait_for

pytestmark = pytest.mark.integration


def _cli(*args: str) -> subprocess.CompletedProcess:
    completed = subprocess.run(
        [sys.executable, "-m", "anomaly_detector.cli", *args],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    return completed


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("supervised")
    data = root / "data"
    _cli("generate-data", "--out", str(data), "--access-log-days", "0")
    _cli("train", "--data", str(data / "train.csv"), "--out", str(root / "unsupervised"),
         "--detector", "isolation_forest", "--contamination", "0.03")  # fmt: skip
    summaries = {}
    for name, label in (("binary", "is_anomaly"), ("priority", "anomaly_type")):
        completed = _cli("train", "--data", str(data / "test.csv"), "--out", str(root / name),
                         "--task", "supervised", "--label-column", label)  # fmt: skip
        summaries[name] = completed.stdout
    return root, summaries


def test_the_cli_summary_shows_metrics_thresholds_and_class_rules(trained):
    root, summaries = trained
    assert "evaluation on validation" in summaries["binary"] and "roc_auc=" in summaries["binary"]
    for words in ("best F1 (best_f1)", "within 2% alerts", "precision >= 0.90", "baseline"):
        assert words in summaries["binary"], words
    assert (
        "macro_f1=" in summaries["priority"]
        and "expected_calibration_error=" in summaries["priority"]
    )
    assert "cost-aware class weights" in summaries["priority"]
    metadata = json.loads((root / "binary" / "model.json").read_text())
    assert metadata["evaluation"]["validation"]["roc_auc"] >= 0.99
    assert metadata["thresholds"]["recommendations"]["best_f1"]["threshold"] > 0


def test_supervised_swaps_in_and_out_under_load_and_explains(trained, tmp_path):
    root, _ = trained
    rows = pd.read_csv(root / "data" / "test.csv").head(400)
    features = rows.drop(columns=["is_anomaly", "anomaly_type"])
    features = features.astype(object).where(features.notna(), None).to_dict("records")
    models = tmp_path / "models"
    models.mkdir()
    _publish(root / "unsupervised", models)
    with (
        LiveServer(models / "model.joblib", tmp_path / "server.log") as server,
        Traffic(server.url, threads=2) as load,
    ):
        wait_for(lambda: len(load.results) > 20, timeout=20, what="traffic")
        for name in ("binary", "priority", "unsupervised"):
            bundle = load_bundle(root / name / "model.joblib")
            _publish(root / name, models)
            wait_for(lambda v=bundle.version: _served_version(server) == v, timeout=30, what=name)
            info = httpx.get(server.url + "/model_information").json()
            one = httpx.post(server.url + "/prediction",
                             json={"features": features[0], "explain": True}).json()  # fmt: skip
            explained = one["explanation"]
            total = explained["base_value"] + sum(explained["contributions"].values())
            assert abs(total - explained["value"]) < 1e-6 and explained["sentence"]
            if name == "unsupervised":
                assert "label" not in one and info["task"] == "unsupervised"
                continue
            assert info["task"] == "supervised" and info["classes"] == list(bundle.classes)
            assert "thresholds" in info and "validation" in info["evaluation"]
            assert (
                one["label"] in bundle.classes
                and abs(sum(one["probabilities"].values()) - 1) < 1e-9
            )
            assert one["confidence"] == one["probabilities"][one["label"]]
            batch = httpx.post(server.url + "/predictions", json={"features": features}).json()
            assert set(batch["probabilities"]) == set(bundle.classes)
            assert len(batch["label"]) == len(features)
            counted = sum(
                server.metric("anomaly_detector_predictions_by_class_total",
                              {"label": c, "endpoint": "predictions"}) or 0 for c in bundle.classes
            )  # fmt: skip
            assert counted >= len(features)
            if name == "binary":
                before = np.array(batch["is_inlier"])
                _cli("threshold", "--model", str(models / "model.joblib"), "--use", "min_precision")
                retuned = load_bundle(models / "model.joblib")
                info_url = server.url + "/model_information"
                wait_for(
                    lambda url=info_url, t=retuned.threshold: (
                        httpx.get(url).json()["threshold"] == t
                    ),
                    timeout=30,
                    what="re-tuned threshold",
                )
                after = httpx.post(server.url + "/predictions", json={"features": features}).json()
                scores = np.array(after["anomaly_score"])
                assert np.array_equal(after["is_inlier"], scores <= retuned.threshold)
                assert (np.array(after["is_inlier"]) != before).any()
    statuses = [status for _, status, _ in load.results]
    assert len(statuses) > 100 and set(statuses) == {200}, statuses[:5]
