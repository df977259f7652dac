"""A new detector is one module plus one registry entry (issue: core v2).

``tests/plugins/zscore_detector.py`` is that module; nothing else in the package
knows it. Through ``DETECTOR_PLUGINS`` it trains with the real CLI, serves through
``POST /prediction`` on both request paths of a real uvicorn, hot-swaps in over an
Isolation Forest under traffic, and shows up in ``/model_information`` and in the
score histogram's buckets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from factories import traffic, write_bundle
from live import LiveServer, wait_for

pytestmark = pytest.mark.integration

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
VECTOR = ["mobile", 14, 42.5, 0.01, 38.0, 95.0, 20480, 512000, 6, 0]
# auth_failures far outside anything seen in training: a large z-score.
ODD = ["mobile", 14, 42.5, 0.01, 38.0, 95.0, 20480, 512000, 6, 5000]


def plugin_env() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(PLUGINS), os.environ.get("PYTHONPATH")]))
    return {"DETECTOR_PLUGINS": "zscore_detector", "PYTHONPATH": path}


def train_zscore(data: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "anomaly_detector.cli", "train", "--data", str(data),
         "--out", str(out), "--detector", "zscore", "--param", "min_scale=0.001"],
        capture_output=True, text=True, timeout=120, env={**os.environ, **plugin_env()},
    )  # fmt: skip


@pytest.fixture(scope="module")
def zscore_model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("zscore")
    traffic(n_rows=2_000, seed=3).to_csv(folder / "train.csv", index=False)
    trained = train_zscore(folder / "train.csv", folder / "model")
    assert trained.returncode == 0, trained.stderr
    assert "zscore: min_scale=0.001" in trained.stdout
    return folder / "model" / "model.joblib"


def reference_scores(model: Path, rows: list[list]) -> list[float]:
    """The bundle's library-path scores, computed in a process that loaded the plugin.

    Not in this one: the registration would outlive the test and change others.
    """
    script = (
        "import json, sys; import zscore_detector; "
        "from anomaly_detector.bundle.io import load_bundle; "
        "b = load_bundle(sys.argv[1]); rows = json.loads(sys.argv[2]); "
        "frame = b.schema.frame_from_rows([b.schema.row_from_vector(r) for r in rows]); "
        "print(json.dumps(b.reference_scores(frame).tolist()))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, str(model), json.dumps(rows)], capture_output=True,
        text=True, timeout=60, env={**os.environ, **plugin_env()}, check=True,
    )  # fmt: skip
    return json.loads(completed.stdout)


def test_the_cli_lists_and_trains_the_plugin_detector(zscore_model):
    listed = subprocess.run(
        [sys.executable, "-m", "anomaly_detector.cli", "detectors"], capture_output=True,
        text=True, timeout=60, env={**os.environ, **plugin_env()},
    )  # fmt: skip
    assert "zscore [unsupervised]: test-only" in listed.stdout
    metadata = json.loads(zscore_model.with_name("model.json").read_text())
    assert metadata["detector"] == "zscore" and metadata["params"] == {"min_scale": 0.001}
    assert metadata["threshold"] == 4.0  # the detector's own default


@pytest.mark.parametrize("fast_lane", ["true", "false"], ids=["fast-lane", "routed"])
def test_it_serves_with_its_scores_identity_and_buckets(zscore_model, tmp_path, fast_lane):
    expected = reference_scores(zscore_model, [VECTOR, ODD])
    env = {**plugin_env(), "FAST_LANE": fast_lane}
    with LiveServer(zscore_model, tmp_path / "server.log", env=env) as server:
        answers = [
            httpx.post(server.url + "/prediction", json={"feature_vector": row, "score": True})
            for row in (VECTOR, ODD)
        ]
        assert [a.status_code for a in answers] == [200, 200], answers[0].text
        scores = [a.json()["anomaly_score"] for a in answers]
        np.testing.assert_allclose(scores, expected, rtol=1e-12)
        assert answers[0].json()["is_inlier"] and not answers[1].json()["is_inlier"]
        info = httpx.get(server.url + "/model_information").json()
        assert info["detector"] == "zscore" and info["fast_path"] is True
        assert info["score"] == {
            "range": [0.0, "inf"],
            "meaning": ZSCORE_MEANING,
            "raw_meaning": "higher is more anomalous",
            "scaled": False,
        }
        assert server.metric("anomaly_detector_model_info", {"detector": "zscore"}) == 1
        # Its own buckets resolve its scores: the odd row lands far above 10.
        bucket = "anomaly_detector_anomaly_score_bucket"
        assert server.metric(bucket, {"le": "100.0"}) - server.metric(bucket, {"le": "10.0"}) == (
            1 if scores[1] > 10 else 0
        )
        assert server.metric(bucket, {"le": "+Inf"}) == 2


ZSCORE_MEANING = "largest absolute z-score of the row's preprocessed inputs"


def test_it_hot_swaps_in_over_an_isolation_forest_under_traffic(zscore_model, tmp_path):
    first, model_path = write_bundle(tmp_path / "models", seed=3)
    statuses: list[int] = []
    stop = threading.Event()

    def load():
        with httpx.Client(base_url=server.url, timeout=10) as http:
            while not stop.is_set():
                statuses.append(
                    http.post("/prediction", json={"feature_vector": VECTOR}).status_code
                )

    with LiveServer(model_path, tmp_path / "server.log", env=plugin_env()) as server:
        worker = threading.Thread(target=load, daemon=True)
        worker.start()
        wait_for(lambda: len(statuses) > 50, timeout=20, what="traffic")
        # Publish the plugin's bundle (model file, then its model.json) over the forest.
        for name in ("model.joblib", "model.json"):
            staged = model_path.with_name(f".{name}.new")
            staged.write_bytes(zscore_model.with_name(name).read_bytes())
            os.replace(staged, model_path.with_name(name))
        wait_for(
            lambda: httpx.get(server.url + "/model_information").json()["detector"] == "zscore",
            timeout=15,
            what="the zscore model served",
        )
        time.sleep(0.5)
        stop.set()
        worker.join(timeout=10)
        assert (
            server.metric("anomaly_detector_model_info", {"detector": "isolation_forest"}) is None
        )
    assert len(statuses) > 100 and set(statuses) == {200}
