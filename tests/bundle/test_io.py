"""Saving and loading model bundles: files, metadata, formats, and clear errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import joblib
import numpy as np
import pytest

from anomaly_detector.bundle.format import FORMAT_VERSION, to_payload
from anomaly_detector.bundle.io import (
    METADATA_FILENAME,
    MODEL_FILENAME,
    SKOPS_FILENAME,
    load_bundle,
    read_metadata,
    save_bundle,
)
from anomaly_detector.errors import BundleError
from anomaly_detector.training.metadata import REFERENCE_QUANTILES, frame_sha256


def test_save_then_load_gives_the_same_scores(trained_bundle, traffic_frame) -> None:
    saved = trained_bundle()
    assert saved.model_path.name == MODEL_FILENAME
    assert saved.metadata_path.name == METADATA_FILENAME
    loaded = load_bundle(saved.model_path)
    np.testing.assert_array_equal(
        loaded.reference_scores(traffic_frame), saved.bundle.reference_scores(traffic_frame)
    )
    assert loaded.schema == saved.bundle.schema
    assert loaded.schema.ignored == saved.bundle.schema.ignored == {"client_id", "window_start"}
    assert loaded.decision == saved.bundle.decision
    assert loaded.version == saved.bundle.version
    assert loaded.detector_name == "isolation_forest"


def test_model_json_records_the_file_hash_and_metadata(trained_bundle, traffic_frame) -> None:
    saved = trained_bundle()
    metadata = json.loads(saved.metadata_path.read_text())
    assert metadata["sha256"] == hashlib.sha256(saved.model_path.read_bytes()).hexdigest()
    assert metadata["file"] == MODEL_FILENAME
    assert read_metadata(saved.model_path) == metadata

    bundle = saved.bundle
    assert metadata["version"] == bundle.version
    assert {"python", "scikit-learn", "numpy", "pandas", "joblib"} <= set(
        metadata["library_versions"]
    )
    assert metadata["features"] == bundle.schema.to_dict()
    assert metadata["detector"] == "isolation_forest"
    assert metadata["params"]["n_estimators"] == 25
    unlabelled = traffic_frame.drop(columns=["is_anomaly", "anomaly_type"])
    assert metadata["training"]["rows"] == len(unlabelled)
    assert metadata["training"]["data_sha256"] == frame_sha256(unlabelled)
    assert metadata["threshold"] == bundle.threshold == metadata["decision"]["threshold"]
    quantiles = metadata["reference_scores"]["quantiles"]
    assert list(quantiles) == [str(q) for q in REFERENCE_QUANTILES]
    assert list(quantiles.values()) == sorted(quantiles.values())


def test_the_file_holds_a_plain_dict_of_format_version_2(trained_bundle) -> None:
    payload = joblib.load(trained_bundle().model_path)
    assert payload["format_version"] == FORMAT_VERSION == 2
    assert payload["decision"]["threshold"] == payload["metadata"]["threshold"]
    state = payload["detector"]["state"]
    # The detector is stored as its name, parameters and fitted attributes, so the
    # file names no class of this package (only the fitted library estimator).
    assert payload["detector"]["name"] == "isolation_forest"
    assert type(state["estimator_"]).__module__.startswith("sklearn.")


def _assert_bundle_error(path: Path, *words: str) -> None:
    with pytest.raises(BundleError) as caught:
        load_bundle(path)
    message = str(caught.value)
    assert message
    for word in words:
        assert word in message


def test_load_missing_file(tmp_path: Path) -> None:
    _assert_bundle_error(tmp_path / "absent.joblib", "does not exist")


def test_load_garbage_bytes(tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    path.write_bytes(b"this is not a pickle at all \x00\x01\x02")
    _assert_bundle_error(path, "cannot read model.joblib")


def test_load_truncated_bundle(trained_bundle, tmp_path: Path) -> None:
    saved = trained_bundle()
    truncated = tmp_path / "truncated.joblib"
    data = saved.model_path.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    _assert_bundle_error(truncated, "cannot read truncated.joblib")


def test_load_plain_dict_without_format_marker(tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    joblib.dump({"pipeline": None, "threshold": 0.5}, path)
    _assert_bundle_error(path, "holds dict", "neither a model bundle nor a fitted scikit-learn")


def test_load_other_format_version(trained_bundle, tmp_path: Path) -> None:
    payload = to_payload(trained_bundle().bundle)
    payload["format_version"] = FORMAT_VERSION + 1
    path = tmp_path / "future.joblib"
    joblib.dump(payload, path)
    _assert_bundle_error(path, f"version {FORMAT_VERSION + 1}", "not supported", "1, 2")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"schema": {"features": []}}, ("no features",)),
        ({"decision": {"threshold": "high"}}, ("incomplete",)),
        ({"detector": {"name": "isolation_forest"}}, ("incomplete", "state")),
    ],
)
def test_load_inconsistent_payload(trained_bundle, tmp_path: Path, change, words) -> None:
    payload = {**to_payload(trained_bundle().bundle), **change}
    path = tmp_path / "bad.joblib"
    joblib.dump(payload, path)
    _assert_bundle_error(path, *words)


def test_a_detector_this_process_does_not_know_is_named(trained_bundle, tmp_path: Path) -> None:
    payload = to_payload(trained_bundle().bundle)
    payload["detector"]["name"] = "from_a_plugin"
    path = tmp_path / "plugin.joblib"
    joblib.dump(payload, path)
    with pytest.raises(BundleError) as caught:
        load_bundle(path)
    assert caught.value.reason == "unknown_detector"
    assert "'from_a_plugin'" in caught.value.message and "DETECTOR_PLUGINS" in caught.value.message


def test_the_threshold_belongs_to_the_bundle_and_survives_save_and_load(
    trained_bundle, traffic_frame, tmp_path
) -> None:
    bundle = trained_bundle().bundle
    bundle.set_threshold(0.55)
    model_path, metadata_path = save_bundle(bundle, tmp_path / "retuned")
    loaded = load_bundle(model_path)
    assert loaded.threshold == 0.55
    metadata = json.loads(metadata_path.read_text())
    assert metadata["threshold"] == metadata["decision"]["threshold"] == 0.55
    # No estimator attribute holds it: the library's own offset is untouched.
    assert loaded.detector.estimator_.offset_ == -0.5


def test_bundle_error_carries_a_reason_for_logs(tmp_path: Path) -> None:
    with pytest.raises(BundleError) as missing:
        load_bundle(tmp_path / "absent.joblib")
    assert missing.value.reason == "missing_file"
    assert BundleError("broken").reason == "invalid_bundle"


def test_save_skops_writes_model_skops_and_its_checksum(trained_bundle, tmp_path: Path) -> None:
    bundle = trained_bundle().bundle
    model_path, metadata_path = save_bundle(bundle, tmp_path / "skops", format="skops")
    assert model_path.name == SKOPS_FILENAME
    assert sorted(p.name for p in model_path.parent.iterdir()) == [
        METADATA_FILENAME,
        SKOPS_FILENAME,
    ]
    metadata = json.loads(metadata_path.read_text())
    assert metadata["file"] == SKOPS_FILENAME
    assert metadata["sha256"] == hashlib.sha256(model_path.read_bytes()).hexdigest()
    assert metadata["version"] == bundle.version
    assert model_path.read_bytes()[:2] == b"PK"  # a zip archive, not a pickle


def test_skops_round_trip_scores_exactly_as_joblib(trained_bundle, traffic_frame, tmp_path) -> None:
    saved = trained_bundle()
    kinds = {feature.kind for feature in saved.bundle.schema.features}
    assert {"categorical", "log_numeric"} <= kinds  # the types skops does not trust by default
    skops_path, _ = save_bundle(saved.bundle, tmp_path / "skops", format="skops")
    from_joblib = load_bundle(saved.model_path)
    from_skops = load_bundle(skops_path)
    rows = traffic_frame.drop(columns=["is_anomaly", "anomaly_type"])
    rows.loc[:10, "client_type"] = "never-seen"
    rows.loc[11:20, "request_rate"] = np.nan
    joblib_scores = from_joblib.reference_scores(rows)
    assert np.max(np.abs(from_skops.reference_scores(rows) - joblib_scores)) == 0
    assert from_skops.schema == from_joblib.schema
    assert from_skops.threshold == from_joblib.threshold
    assert from_skops.metadata == from_joblib.metadata


def test_load_damaged_skops_file(trained_bundle, tmp_path: Path) -> None:
    skops_path, _ = save_bundle(trained_bundle().bundle, tmp_path / "s", format="skops")
    data = skops_path.read_bytes()
    skops_path.write_bytes(data[: len(data) // 2])
    _assert_bundle_error(skops_path, "cannot read model.skops")


def test_save_refuses_an_unknown_format(trained_bundle, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown bundle format 'pickle'"):
        save_bundle(trained_bundle().bundle, tmp_path / "x", format="pickle")
    assert not (tmp_path / "x").exists()
