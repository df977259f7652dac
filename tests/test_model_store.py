"""Loading, validating and swapping models; refusing bad files."""

import logging
import os
import shutil
import time

import pytest

from anomaly_detector.bundle import METADATA_FILENAME, save_bundle
from anomaly_detector.metrics import Metrics
from anomaly_detector.model_store import ModelStore, canary_rows, validate
from factories import numeric_frame, write_bundle


def _reloads(metrics, result):
    return metrics.registry.get_sample_value(
        "anomaly_detector_model_reloads_total", {"result": result}
    )


def _publish(source, target):
    """Copy a bundle's model file, then its model.json, over the served ones (as save_bundle)."""
    shutil.copy(source, target)
    shutil.copy(source.with_name(METADATA_FILENAME), target.with_name(METADATA_FILENAME))


@pytest.fixture
def store(tmp_path):
    """A store serving a bundle; no publish grace, so a bad file is refused at once."""
    _, path = write_bundle(tmp_path / "serve", seed=1)
    metrics = Metrics()
    store = ModelStore(path, metrics, publish_grace_seconds=0)
    assert store.reload("start-up").loaded
    return store


def test_initial_load_publishes_identity(store):
    registry = store.metrics.registry
    version = store.current.version
    labels = {"version": version, "detector": "isolation_forest"}
    assert registry.get_sample_value("anomaly_detector_model_info", labels) == 1
    assert registry.get_sample_value("anomaly_detector_model_loaded") == 1
    assert registry.get_sample_value("anomaly_detector_model_threshold") == pytest.approx(
        store.current.bundle.threshold
    )
    assert (
        registry.get_sample_value("anomaly_detector_model_reference_score", {"quantile": "0.5"}) > 0
    )
    assert store.current.sha256 is not None


def test_missing_file_is_not_ready(tmp_path):
    metrics = Metrics()
    store = ModelStore(tmp_path / "absent.joblib", metrics)
    result = store.reload("start-up")
    assert not result.loaded and not store.ready
    assert "does not exist" in store.last_error
    assert metrics.registry.get_sample_value("anomaly_detector_model_loaded") == 0
    assert _reloads(metrics, "failure") == 1


def test_new_valid_bundle_is_swapped_in(store, tmp_path):
    old = store.current
    new_bundle, new_path = write_bundle(tmp_path / "new", seed=2)
    _publish(new_path, store.path)
    assert store.changed_on_disk()
    assert store.reload("file changed").loaded
    assert store.current.version == new_bundle.version != old.version
    assert _reloads(store.metrics, "success") == 2
    info = store.metrics.registry.get_sample_value
    assert (
        info(
            "anomaly_detector_model_info", {"version": old.version, "detector": "isolation_forest"}
        )
        is None
    )


@pytest.mark.parametrize("require_checksum", [True, False], ids=["checksum", "no-checksum"])
@pytest.mark.parametrize(
    "content",
    [b"garbage, not a pickle", b"", None],  # None: a truncated copy of a real bundle
    ids=["garbage", "empty", "truncated"],
)
def test_broken_file_is_refused_and_old_model_serves(store, content, require_checksum):
    # With the checksum on, the sha256 refuses it before unpickling; without, the unpickler does.
    store.require_checksum = require_checksum
    serving = store.current
    if content is None:
        content = store.path.read_bytes()[:5000]
    store.path.write_bytes(content)
    result = store.reload("file changed")
    assert not result.loaded
    assert ("sha256" if require_checksum else "cannot read") in result.message
    assert store.current is serving
    assert _reloads(store.metrics, "failure") == 1
    assert store.metrics.registry.get_sample_value("anomaly_detector_model_loaded") == 1
    # The same broken file is not retried on every poll, only once it changes again.
    assert not store.changed_on_disk()


def test_schema_change_is_refused_unless_allowed(store, tmp_path):
    serving = store.current
    _, other = write_bundle(tmp_path / "other", frame=numeric_frame())
    _publish(other, store.path)
    refused = store.reload("file changed")
    assert not refused.loaded and "features differ" in refused.message
    assert store.current is serving
    accepted = store.reload("admin request", allow_schema_change=True)
    assert accepted.loaded and store.current.bundle.schema.names == ["x0", "x1", "x2"]


def test_canary_rows_cover_every_feature(tmp_path):
    bundle, _ = write_bundle(tmp_path, seed=3)
    rows = canary_rows(bundle)
    assert all(len(row) == len(bundle.schema) for row in rows)
    assert any(value is None for row in rows for value in row)
    scorer = validate(bundle)
    assert scorer.fast_path


def test_validate_refuses_bundle_whose_compiled_path_disagrees(tmp_path):
    from anomaly_detector.bundle import BundleError

    bundle, _ = write_bundle(tmp_path, seed=4)
    bundle.pipeline[-1].estimators_[0].tree_.threshold[0] += 1e6  # corrupt after fitting
    bundle.pipeline[-1]._decision_path_lengths = bundle.pipeline[-1]._decision_path_lengths[:-1]
    with pytest.raises(BundleError):
        validate(bundle)


def test_model_file_ahead_of_its_model_json_is_a_publish_in_progress(store, tmp_path):
    store.publish_grace_seconds = 60
    serving = store.current
    new_bundle, new_path = write_bundle(tmp_path / "new", seed=2)
    shutil.copy(new_path, store.path)  # model.json still describes the serving file
    assert store.changed_on_disk()
    pending = store.reload("file changed")
    assert not pending.loaded and pending.message.startswith("publish in progress")
    assert store.current is serving and store.last_error is None
    assert _reloads(store.metrics, "failure") == 0
    assert store.changed_on_disk()  # retried at the next poll
    shutil.copy(new_path.with_name(METADATA_FILENAME), store.path.with_name(METADATA_FILENAME))
    assert store.reload("file changed").loaded
    assert store.current.version == new_bundle.version
    assert _reloads(store.metrics, "failure") == 0


def test_mismatch_past_the_grace_is_refused_once_per_pair_of_files(store, tmp_path, caplog):
    store.publish_grace_seconds = 0.3
    serving = store.current
    _, new_path = write_bundle(tmp_path / "new", seed=2)
    shutil.copy(new_path, store.path)
    assert not store.reload("file changed").loaded
    time.sleep(0.4)
    with caplog.at_level(logging.ERROR, logger="anomaly_detector.model"):
        refused = store.reload("file changed")
    assert not refused.loaded and "not the one that was published" in refused.message
    assert store.current is serving
    assert _reloads(store.metrics, "failure") == 1
    (record,) = [r for r in caplog.records if r.getMessage() == "model refused"]
    assert record.reason == "checksum_mismatch" and record.trigger == "file changed"
    assert not store.changed_on_disk()  # the same pair is not retried...
    metadata = store.path.with_name(METADATA_FILENAME)
    metadata.write_text(metadata.read_text() + " ")
    assert store.changed_on_disk()  # ...until one of the two files changes


def test_start_up_during_a_publish_waits_without_counting(tmp_path):
    _, path = write_bundle(tmp_path / "models", seed=1)
    _, other = write_bundle(tmp_path / "other", seed=2)
    shutil.copy(other, path)  # the new model file, just renamed; its model.json not yet
    store = ModelStore(path, Metrics(), publish_grace_seconds=60)
    result = store.reload("start-up")
    assert not result.loaded and not store.ready
    assert store.last_error.startswith("publish in progress")
    assert _reloads(store.metrics, "failure") == 0
    assert store.changed_on_disk()


def test_model_path_outside_models_dir_is_refused_at_start_up(tmp_path, caplog):
    _, path = write_bundle(tmp_path / "elsewhere", seed=1)
    (tmp_path / "models").mkdir()
    metrics = Metrics()
    store = ModelStore(path, metrics, models_dir=tmp_path / "models")
    with caplog.at_level(logging.ERROR, logger="anomaly_detector.model"):
        result = store.reload("start-up")
    assert not result.loaded and not store.ready
    assert "outside the models directory" in store.last_error
    assert _reloads(metrics, "failure") == 1
    assert metrics.registry.get_sample_value("anomaly_detector_model_loaded") == 0
    (record,) = [r for r in caplog.records if r.getMessage() == "model refused"]
    assert record.reason == "outside_models_dir" and record.trigger == "start-up"


def test_model_file_swapped_for_a_symlink_outside_is_refused(store, tmp_path):
    serving = store.current
    _, outside = write_bundle(tmp_path / "elsewhere", seed=2)
    link = store.path.with_name("incoming.tmp")
    link.symlink_to(outside)
    os.replace(link, store.path)
    assert store.changed_on_disk()
    result = store.reload("file changed")
    assert not result.loaded and "outside the models directory" in result.message
    assert store.current is serving
    assert _reloads(store.metrics, "failure") == 1


def test_without_require_checksum_a_lone_model_file_loads_with_a_warning(tmp_path, caplog):
    bundle, path = write_bundle(tmp_path / "models", seed=1)
    path.with_name(METADATA_FILENAME).unlink()
    with caplog.at_level(logging.WARNING, logger="anomaly_detector.model"):
        store = ModelStore(path, Metrics(), require_checksum=False)
    assert "checksum check is off" in caplog.text
    assert store.reload("start-up").loaded
    assert store.current.version == bundle.version
    assert store.current.sha256 is not None


def test_model_json_change_alone_triggers_a_reload(store):
    metadata = store.path.with_name(METADATA_FILENAME)
    assert not store.changed_on_disk()
    metadata.write_text(metadata.read_text())  # new inode or mtime: a new pair of files
    assert store.changed_on_disk()


def test_skops_bundle_is_served_and_swapped(tmp_path):
    first, joblib_path = write_bundle(tmp_path / "source", seed=1)
    path, _ = save_bundle(first, tmp_path / "models", format="skops")
    store = ModelStore(path, Metrics(), publish_grace_seconds=0)
    assert store.reload("start-up").loaded
    assert store.current.version == first.version and store.current.scorer.fast_path
    second, _ = write_bundle(tmp_path / "source2", seed=2)
    save_bundle(second, tmp_path / "models", format="skops")
    assert store.changed_on_disk()
    assert store.reload("file changed").loaded
    assert store.current.version == second.version
