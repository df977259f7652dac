"""Tests for saving, loading and validating model bundles."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from anomaly_detector.bundle import (
    BUNDLE_FORMAT_VERSION,
    METADATA_FILENAME,
    MODEL_FILENAME,
    SKOPS_FILENAME,
    BundleError,
    atomic_write,
    load_bundle,
    read_metadata,
    save_bundle,
)
from anomaly_detector.training import REFERENCE_QUANTILES, frame_sha256


def test_save_then_load_gives_the_same_scores(trained_bundle, traffic_frame) -> None:
    saved = trained_bundle()
    assert saved.model_path.name == MODEL_FILENAME
    assert saved.metadata_path.name == METADATA_FILENAME
    loaded = load_bundle(saved.model_path)
    original = saved.result.bundle
    inputs = original.schema.coerce_frame(traffic_frame)
    np.testing.assert_array_equal(
        loaded.pipeline.score_samples(loaded.schema.coerce_frame(traffic_frame)),
        original.pipeline.score_samples(inputs),
    )
    assert loaded.schema == original.schema
    assert loaded.threshold == original.threshold
    assert loaded.version == original.version
    assert loaded.detector == "isolation_forest"


def test_model_json_records_the_file_hash_and_metadata(trained_bundle, traffic_frame) -> None:
    saved = trained_bundle()
    metadata = json.loads(saved.metadata_path.read_text())
    assert metadata["sha256"] == hashlib.sha256(saved.model_path.read_bytes()).hexdigest()
    assert metadata["file"] == MODEL_FILENAME
    assert read_metadata(saved.model_path) == metadata

    bundle = saved.result.bundle
    assert metadata["version"] == bundle.version
    assert pd.Timestamp(metadata["created_at"]).tzinfo is not None
    assert {"python", "scikit-learn", "numpy", "pandas", "joblib"} <= set(
        metadata["library_versions"]
    )
    assert metadata["features"] == bundle.schema.to_dict()
    assert metadata["params"]["n_estimators"] == 25
    unlabelled = traffic_frame.drop(columns=["is_anomaly", "anomaly_type"])
    assert metadata["training"]["rows"] == len(unlabelled)
    assert metadata["training"]["data_sha256"] == frame_sha256(unlabelled)
    assert metadata["threshold"] == bundle.threshold
    quantiles = metadata["reference_scores"]["quantiles"]
    assert list(quantiles) == [str(q) for q in REFERENCE_QUANTILES]
    assert list(quantiles.values()) == sorted(quantiles.values())


def test_tampered_model_no_longer_matches_its_recorded_hash(trained_bundle) -> None:
    saved = trained_bundle()
    with saved.model_path.open("ab") as handle:
        handle.write(b"\0")
    recorded = json.loads(saved.metadata_path.read_text())["sha256"]
    assert recorded != hashlib.sha256(saved.model_path.read_bytes()).hexdigest()


def test_atomic_write_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "file.txt"
    atomic_write(target, lambda handle: handle.write("first"), mode="w")
    atomic_write(target, lambda handle: handle.write("second"), mode="w")
    assert target.read_text() == "second"
    assert [p.name for p in target.parent.iterdir()] == ["file.txt"]


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path: Path) -> None:
    target = tmp_path / "model.joblib"
    target.write_bytes(b"old model")

    def failing_writer(handle) -> None:
        handle.write(b"half a new mod")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, failing_writer)
    assert target.read_bytes() == b"old model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.joblib"]


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
    _assert_bundle_error(path, "format marker")


def test_load_other_format_version(trained_bundle, tmp_path: Path) -> None:
    payload = trained_bundle().result.bundle.to_payload()
    payload["format_version"] = BUNDLE_FORMAT_VERSION + 1
    path = tmp_path / "future.joblib"
    joblib.dump(payload, path)
    _assert_bundle_error(path, f"version {BUNDLE_FORMAT_VERSION + 1}", "not supported")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"schema": []}, ("no features",)),
        ({"pipeline": "not a pipeline"}, ("score_samples",)),
        ({"threshold": "high"}, ("incomplete",)),
    ],
)
def test_load_inconsistent_payload(trained_bundle, tmp_path: Path, change, words) -> None:
    payload = {**trained_bundle().result.bundle.to_payload(), **change}
    path = tmp_path / "bad.joblib"
    joblib.dump(payload, path)
    _assert_bundle_error(path, *words)


@pytest.mark.parametrize("quantile", [0.5, 0.9, 0.99])
def test_set_threshold_keeps_predict_in_step_with_the_score(
    trained_bundle, traffic_frame, quantile: float
) -> None:
    bundle = trained_bundle().result.bundle
    inputs = bundle.schema.coerce_frame(traffic_frame)
    anomaly_score = -bundle.pipeline.score_samples(inputs)
    threshold = float(np.quantile(anomaly_score, quantile))
    bundle.set_threshold(threshold)
    assert bundle.threshold == threshold == bundle.metadata["threshold"]
    is_inlier = bundle.pipeline.predict(inputs) == 1
    np.testing.assert_array_equal(is_inlier, anomaly_score <= threshold)
    assert abs(is_inlier.mean() - quantile) < 0.02


def test_set_threshold_survives_save_and_load(trained_bundle, traffic_frame, tmp_path) -> None:
    bundle = trained_bundle().result.bundle
    bundle.set_threshold(0.55)
    model_path, metadata_path = save_bundle(bundle, tmp_path / "retuned")
    loaded = load_bundle(model_path)
    assert loaded.threshold == 0.55
    assert json.loads(metadata_path.read_text())["threshold"] == 0.55
    inputs = loaded.schema.coerce_frame(traffic_frame)
    np.testing.assert_array_equal(
        loaded.pipeline.predict(inputs) == 1, -loaded.pipeline.score_samples(inputs) <= 0.55
    )


def test_bundle_error_carries_a_reason_for_logs(tmp_path: Path) -> None:
    with pytest.raises(BundleError) as missing:
        load_bundle(tmp_path / "absent.joblib")
    assert missing.value.reason == "missing_file"
    assert BundleError("broken").reason == "invalid_bundle"


def test_save_skops_writes_model_skops_and_its_checksum(trained_bundle, tmp_path: Path) -> None:
    bundle = trained_bundle().result.bundle
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
    kinds = {feature.kind for feature in saved.result.bundle.schema.features}
    assert {"categorical", "log_numeric"} <= kinds  # the types skops does not trust by default
    skops_path, _ = save_bundle(saved.result.bundle, tmp_path / "skops", format="skops")
    from_joblib = load_bundle(saved.model_path)
    from_skops = load_bundle(skops_path)
    rows = traffic_frame.drop(columns=["is_anomaly", "anomaly_type"])
    rows.loc[:10, "client_type"] = "never-seen"
    rows.loc[11:20, "request_rate"] = np.nan
    joblib_scores = from_joblib.pipeline.score_samples(from_joblib.schema.coerce_frame(rows))
    skops_scores = from_skops.pipeline.score_samples(from_skops.schema.coerce_frame(rows))
    assert np.max(np.abs(skops_scores - joblib_scores)) == 0
    assert from_skops.schema == from_joblib.schema
    assert from_skops.threshold == from_joblib.threshold
    assert from_skops.metadata == from_joblib.metadata


def test_load_damaged_skops_file(trained_bundle, tmp_path: Path) -> None:
    skops_path, _ = save_bundle(trained_bundle().result.bundle, tmp_path / "s", format="skops")
    data = skops_path.read_bytes()
    skops_path.write_bytes(data[: len(data) // 2])
    _assert_bundle_error(skops_path, "cannot read model.skops")


def test_save_refuses_an_unknown_format(trained_bundle, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown bundle format 'pickle'"):
        save_bundle(trained_bundle().result.bundle, tmp_path / "x", format="pickle")
    assert not (tmp_path / "x").exists()
