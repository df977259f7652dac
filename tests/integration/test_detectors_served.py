"""Every built-in detector, trained by the real CLI on the default dataset, served by uvicorn.

The acceptance test of the detectors issue: each detector trains with
``anomaly-detector train --detector NAME`` on ``generate-data``'s default data,
then, on a real uvicorn with the fast lane and one without, is published over the
previous detector while traffic runs, answers ``POST /prediction`` and
``/predictions`` with the library path's scores on one [0, 1] scale (and its raw
score when asked), and not one request fails across all the swaps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from test_live_server import Traffic

from anomaly_detector.bundle.io import load_bundle
from anomaly_detector.detectors import registry
from live import LiveServer, wait_for

pytestmark = pytest.mark.integration

DETECTORS = list(registry.trainable())
ROWS = [
    ["mobile", 14, 42.5, 0.01, 38.0, 95.0, 20480, 512000, 6, 0],
    ["browser", 3, 900.0, 0.6, 700.0, 4000.0, 900, 80_000_000, 40, 300],
]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "anomaly_detector.cli", *args],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """{detector: model folder}, each trained by the CLI on the default train.csv."""
    root = tmp_path_factory.mktemp("detectors")
    generated = _cli("generate-data", "--out", str(root / "data"), "--access-log-days", "0")
    assert generated.returncode == 0, generated.stderr

    def train(name: str) -> tuple[str, subprocess.CompletedProcess]:
        return name, _cli(
            "train", "--data", str(root / "data" / "train.csv"), "--out", str(root / name),
            "--detector", name, "--contamination", "0.03",
            "--test", str(root / "data" / "test.csv"), "--label-column", "is_anomaly",
        )  # fmt: skip

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(pool.map(train, DETECTORS))
    for name, completed in results.items():
        assert completed.returncode == 0, f"{name}: {completed.stderr}"
        assert f"training {name} on 20000 rows" in completed.stderr
    return {name: root / name for name in DETECTORS}


def test_every_detector_trained_on_the_default_data(trained):
    for name, folder in trained.items():
        metadata = json.loads((folder / "model.json").read_text())
        assert metadata["detector"] == name and metadata["training"]["rows"] == 20_000
        assert metadata["score"]["range"] == [0.0, 1.0]
        test = metadata["evaluation"]["test"]
        assert test["rows"] == 5_000 and 0.5 < test["roc_auc"] <= 1.0, (name, test)


def _publish(folder: Path, models: Path) -> None:
    """What the notebook and the CLI do: the model file, then its model.json, each atomically."""
    for name in ("model.joblib", "model.json"):
        staged = models / f".{name}.new"
        staged.write_bytes((folder / name).read_bytes())
        os.replace(staged, models / name)


def _served_version(server) -> str | None:
    return httpx.get(server.url + "/model_information").json().get("version")


@pytest.mark.parametrize("fast_lane", ["true", "false"], ids=["fast-lane", "routed"])
def test_each_detector_swaps_in_under_traffic_and_serves_the_contract(trained, tmp_path, fast_lane):
    models = tmp_path / "models"
    models.mkdir()
    _publish(trained[DETECTORS[0]], models)
    env = {"FAST_LANE": fast_lane}
    with (
        LiveServer(models / "model.joblib", tmp_path / "server.log", env=env) as server,
        Traffic(server.url, threads=2) as load,
    ):
        wait_for(lambda: len(load.results) > 20, timeout=20, what="traffic")
        for name in DETECTORS:
            bundle = load_bundle(trained[name] / "model.joblib")
            _publish(trained[name], models)
            wait_for(
                lambda version=bundle.version: _served_version(server) == version,
                timeout=30,
                what=f"{name} served",
            )
            frame = bundle.schema.frame_from_rows([bundle.schema.row_from_vector(r) for r in ROWS])
            expected, raw = bundle.reference_scores(frame), bundle.reference_raw_scores(frame)
            one = [
                httpx.post(server.url + "/prediction",
                           json={"feature_vector": row, "score": True, "raw_score": True}).json()
                for row in ROWS
            ]  # fmt: skip
            np.testing.assert_allclose([o["anomaly_score"] for o in one], expected, rtol=1e-9)
            np.testing.assert_allclose([o["raw_score"] for o in one], raw, rtol=1e-9, atol=1e-12)
            assert [o["is_inlier"] for o in one] == (expected <= bundle.threshold).tolist()
            assert all(0.0 <= o["anomaly_score"] <= 1.0 for o in one), (name, one)
            named = [dict(zip(bundle.schema.names, row, strict=True)) for row in ROWS]
            batch = httpx.post(
                server.url + "/predictions", json={"features": named, "score": True}
            ).json()
            np.testing.assert_allclose(batch["anomaly_score"], expected, rtol=1e-9)
            assert server.metric("anomaly_detector_model_info", {"detector": name}) == 1, name
    statuses = [status for _, status, _ in load.results]
    assert len(statuses) > 200
    assert set(statuses) == {200}, f"failed requests: {[s for s in statuses if s != 200][:5]}"
    served = {version for _, _, version in load.results}
    assert len(served) == len(DETECTORS)  # traffic saw every detector's model
