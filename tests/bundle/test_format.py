"""Bundle format versions: files written before core v2 still load and score identically."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomaly_detector.bundle.format import FORMAT_VERSION, read_payload, to_payload
from anomaly_detector.bundle.io import load_bundle, save_bundle
from anomaly_detector.bundle.trust import load_trusted_bundle
from anomaly_detector.scoring.canary import validate

V1 = Path(__file__).resolve().parents[1] / "fixtures" / "bundle_v1"


@pytest.fixture(scope="module")
def v1_rows() -> pd.DataFrame:
    return pd.read_csv(V1 / "rows.csv")


@pytest.fixture(scope="module")
def v1_expected() -> dict:
    return json.loads((V1 / "expected.json").read_text())


@pytest.mark.parametrize("model_file", ["joblib/model.joblib", "skops/model.skops"])
def test_a_version_1_bundle_scores_as_the_version_1_code_did(model_file, v1_rows, v1_expected):
    # Through the service's own loader: location, the checksum v1 wrote, the allow-list.
    bundle = load_trusted_bundle(V1 / model_file).bundle
    prediction = validate(bundle).predict_frame(v1_rows)
    assert bundle.threshold == v1_expected["threshold"]
    np.testing.assert_array_equal(prediction.anomaly_score, v1_expected["anomaly_score"])
    np.testing.assert_array_equal(prediction.is_inlier, v1_expected["is_inlier"])
    assert bundle.detector_name == "isolation_forest" and bundle.decision.contamination == 0.05


def test_a_version_1_bundle_ignores_the_columns_its_training_dropped(v1_rows):
    bundle = load_bundle(V1 / "joblib" / "model.joblib")
    assert bundle.schema.ignored == {"client_id", "window_start"}
    raw = v1_rows.dropna().iloc[0].to_dict()
    raw.pop("is_anomaly"), raw.pop("anomaly_type")  # v1 trained without labels
    assert bundle.schema.row_from_mapping(raw) == bundle.schema.row_from_mapping(
        {name: raw[name] for name in bundle.schema.names}
    )


def test_a_version_1_bundle_resaved_is_version_2_with_the_same_scores(tmp_path, v1_rows):
    old = load_bundle(V1 / "joblib" / "model.joblib")
    model_path, _ = save_bundle(old, tmp_path)
    new = load_bundle(model_path)
    assert to_payload(new)["format_version"] == FORMAT_VERSION == 2
    np.testing.assert_array_equal(new.reference_scores(v1_rows), old.reference_scores(v1_rows))
    assert new.decision == old.decision and new.schema == old.schema


def test_the_service_verifies_a_v1_pair_and_leaves_it_as_it_is(tmp_path):
    """Its model.json records the sha256 v1 wrote: verified, so nothing is rewritten."""
    from anomaly_detector.serving.loader import ModelLoader
    from anomaly_detector.serving.model_files import ModelFiles
    from anomaly_detector.serving.model_store import ModelStore

    copy = tmp_path / "v1"
    shutil.copytree(V1 / "joblib", copy)
    before = {p.name: p.read_bytes() for p in copy.iterdir()}
    files = ModelFiles(copy / "model.joblib", publish_grace_seconds=0)
    store = ModelStore(files, ModelLoader(files, copy))  # lenient, as by default
    assert store.reload("start-up").loaded and store.current.checksum_verified
    assert {p.name: p.read_bytes() for p in copy.iterdir()} == before


def test_version_2_round_trips_through_the_payload(trained_bundle, traffic_frame):
    bundle = trained_bundle().bundle
    again = read_payload(to_payload(bundle))
    np.testing.assert_array_equal(
        again.reference_scores(traffic_frame), bundle.reference_scores(traffic_frame)
    )
    assert again.detector.hyperparameters == bundle.detector.hyperparameters
    assert again.schema.ignored == bundle.schema.ignored
