"""Loading, proving and swapping models; refusing bad files; the lenient checksum rule."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time

import joblib
import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from anomaly_detector.bundle.io import METADATA_FILENAME, save_bundle
from anomaly_detector.serving.loader import ModelLoader
from anomaly_detector.serving.metrics import Metrics
from anomaly_detector.serving.model_files import ModelFiles
from anomaly_detector.serving.model_store import ModelStore
from anomaly_detector.serving.store_hooks import LogHooks, MetricsHooks
from factories import numeric_frame, write_bundle


def make_store(path, *, grace=0.0, models_dir=None, require_checksum=False, hooks=(), **options):
    """A store on ``path`` with metrics and log hooks; ``store.metrics`` is its Metrics.

    Lenient by default, as the service; tests of the strict rule say so.
    """
    metrics = Metrics()
    files = ModelFiles(path, publish_grace_seconds=grace)
    store = ModelStore(
        files,
        ModelLoader(files, models_dir or path.parent),
        [MetricsHooks(metrics), LogHooks(require_checksum), *hooks],
        require_checksum=require_checksum,
        **options,
    )
    store.metrics = metrics
    return store


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
    store = make_store(path)
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
    store = make_store(tmp_path / "absent.joblib")
    result = store.reload("start-up")
    assert not result.loaded and not store.ready
    assert "does not exist" in store.last_error
    assert store.metrics.registry.get_sample_value("anomaly_detector_model_loaded") == 0
    assert _reloads(store.metrics, "failure") == 1


def test_new_valid_bundle_is_swapped_in(store, tmp_path):
    old = store.current
    new_bundle, new_path = write_bundle(tmp_path / "new", seed=2)
    _publish(new_path, store.files.path)
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
        content = store.files.path.read_bytes()[:5000]
    store.files.path.write_bytes(content)
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
    _publish(other, store.files.path)
    refused = store.reload("file changed")
    assert not refused.loaded and "features differ" in refused.message
    assert store.current is serving
    accepted = store.reload("admin request", allow_schema_change=True)
    assert accepted.loaded and store.current.bundle.schema.names == ["x0", "x1", "x2"]


def test_model_file_ahead_of_its_model_json_is_a_publish_in_progress(store, tmp_path):
    store.files.publish_grace_seconds = 60
    serving = store.current
    new_bundle, new_path = write_bundle(tmp_path / "new", seed=2)
    shutil.copy(new_path, store.files.path)  # model.json still describes the serving file
    assert store.changed_on_disk()
    pending = store.reload("file changed")
    assert not pending.loaded and pending.message.startswith("publish in progress")
    assert store.current is serving and store.last_error is None
    assert _reloads(store.metrics, "failure") == 0
    assert store.changed_on_disk()  # retried at the next poll
    shutil.copy(new_path.with_name(METADATA_FILENAME), store.files.metadata_path)
    assert store.reload("file changed").loaded
    assert store.current.version == new_bundle.version
    assert _reloads(store.metrics, "failure") == 0


def test_mismatch_past_the_grace_is_refused_once_per_pair_of_files(store, tmp_path, caplog):
    store.require_checksum = True
    store.files.publish_grace_seconds = 0.3
    serving = store.current
    _, new_path = write_bundle(tmp_path / "new", seed=2)
    shutil.copy(new_path, store.files.path)
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
    metadata = store.files.metadata_path
    metadata.write_text(metadata.read_text() + " ")
    assert store.changed_on_disk()  # ...until one of the two files changes


def test_start_up_during_a_publish_waits_without_counting(tmp_path):
    _, path = write_bundle(tmp_path / "models", seed=1)
    _, other = write_bundle(tmp_path / "other", seed=2)
    shutil.copy(other, path)  # the new model file, just renamed; its model.json not yet
    store = make_store(path, grace=60, require_checksum=False)
    result = store.reload("start-up")
    assert not result.loaded and not store.ready
    assert store.last_error.startswith("publish in progress")
    assert _reloads(store.metrics, "failure") == 0
    assert store.changed_on_disk()


def test_model_path_outside_models_dir_is_refused_at_start_up(tmp_path, caplog):
    _, path = write_bundle(tmp_path / "elsewhere", seed=1)
    (tmp_path / "models").mkdir()
    store = make_store(path, models_dir=tmp_path / "models")
    with caplog.at_level(logging.ERROR, logger="anomaly_detector.model"):
        result = store.reload("start-up")
    assert not result.loaded and not store.ready
    assert "outside the models directory" in store.last_error
    assert _reloads(store.metrics, "failure") == 1
    assert store.metrics.registry.get_sample_value("anomaly_detector_model_loaded") == 0
    (record,) = [r for r in caplog.records if r.getMessage() == "model refused"]
    assert record.reason == "outside_models_dir" and record.trigger == "start-up"


def test_model_file_swapped_for_a_symlink_outside_is_refused(store, tmp_path):
    serving = store.current
    _, outside = write_bundle(tmp_path / "elsewhere", seed=2)
    link = store.files.path.with_name("incoming.tmp")
    link.symlink_to(outside)
    os.replace(link, store.files.path)
    assert store.changed_on_disk()
    result = store.reload("file changed")
    assert not result.loaded and "outside the models directory" in result.message
    assert store.current is serving
    assert _reloads(store.metrics, "failure") == 1


def test_model_json_change_alone_triggers_a_reload(store):
    metadata = store.files.metadata_path
    assert not store.changed_on_disk()
    metadata.write_text(metadata.read_text())  # new inode or mtime: a new pair of files
    assert store.changed_on_disk()


def test_skops_bundle_is_served_and_swapped(tmp_path):
    first, joblib_path = write_bundle(tmp_path / "source", seed=1)
    path, _ = save_bundle(first, tmp_path / "models", format="skops")
    store = make_store(path)
    assert store.reload("start-up").loaded
    assert store.current.version == first.version and store.current.scorer.fast_path
    second, _ = write_bundle(tmp_path / "source2", seed=2)
    save_bundle(second, tmp_path / "models", format="skops")
    assert store.changed_on_disk()
    assert store.reload("file changed").loaded
    assert store.current.version == second.version


# -- without REQUIRE_CHECKSUM (the default): the user's "swap model.joblib" workflow --


def test_a_model_file_copied_alone_is_served_once_the_publish_grace_is_over(tmp_path, caplog):
    _, path = write_bundle(tmp_path / "models", seed=1)
    store = make_store(path, grace=0.3, require_checksum=False)
    assert store.reload("start-up").loaded
    newer, newer_path = write_bundle(tmp_path / "newer", seed=2)
    shutil.copy(newer_path, path)  # without its model.json
    assert not store.reload("file changed").loaded  # within the grace: a publish, maybe
    time.sleep(0.4)
    with caplog.at_level(logging.WARNING, logger="anomaly_detector.model"):
        assert store.reload("file changed").loaded
    assert store.current.version == newer.version and not store.current.checksum_verified
    assert "checksum not verified" in caplog.text
    gauge = store.metrics.registry.get_sample_value("anomaly_detector_model_checksum_verified")
    assert gauge == 0
    # model.json now describes the served file, and that write is not a change to reload.
    described = json.loads(path.with_name(METADATA_FILENAME).read_text())
    assert described["version"] == newer.version and described["file"] == path.name
    assert not store.changed_on_disk()
    assert _reloads(store.metrics, "failure") == 0


def test_a_plain_scikit_learn_dump_is_served_and_described(tmp_path):
    rng = np.random.default_rng(0)
    forest = IsolationForest(n_estimators=20, random_state=0).fit(rng.normal(size=(300, 3)))
    path = tmp_path / "models" / "model.joblib"
    path.parent.mkdir()
    joblib.dump(forest, path)
    os.utime(path, (time.time() - 60, time.time() - 60))  # copied a while ago
    store = make_store(path, require_checksum=False)
    assert store.reload("start-up").loaded
    assert store.current.bundle.detector_name == "isolation_forest"
    assert store.current.scorer.fast_path
    described = json.loads(path.with_name(METADATA_FILENAME).read_text())
    assert described["adopted"] is True and described["features"][0]["name"] == "x0"


def test_a_model_json_describing_the_other_format_is_left_alone(tmp_path):
    bundle, joblib_path = write_bundle(tmp_path / "models", seed=1)
    save_bundle(bundle, joblib_path.parent, format="skops")  # model.json describes model.skops
    before = joblib_path.with_name(METADATA_FILENAME).read_text()
    os.utime(joblib_path.with_name(METADATA_FILENAME), (time.time() - 60, time.time() - 60))
    store = make_store(joblib_path, require_checksum=False)
    assert store.reload("start-up").loaded and not store.current.checksum_verified
    assert joblib_path.with_name(METADATA_FILENAME).read_text() == before


def test_strict_mode_refuses_what_lenient_mode_serves(tmp_path):
    _, path = write_bundle(tmp_path / "models", seed=1)
    path.with_name(METADATA_FILENAME).unlink()
    strict = make_store(path, require_checksum=True)
    assert not strict.reload("start-up").loaded and "no model.json" in strict.last_error
    lenient = make_store(path, require_checksum=False)
    assert lenient.reload("start-up").loaded


def test_hooks_hear_of_loads_and_refusals_with_the_model_they_replace(store, tmp_path):
    heard = []

    class Recorder:
        def on_model_load(self, model, previous, trigger):
            heard.append(("load", model.version, previous.version, trigger))

        def on_model_refused(self, error, previous, trigger):
            heard.append(("refused", error.reason, previous.version, trigger))

    store.require_checksum = True
    store.hooks.append(Recorder())
    serving = store.current.version
    new_bundle, new_path = write_bundle(tmp_path / "new", seed=2)
    _publish(new_path, store.files.path)
    store.reload("file changed")
    store.files.path.write_bytes(b"broken")
    store.reload("admin request")
    assert heard == [
        ("load", new_bundle.version, serving, "file changed"),
        ("refused", "checksum_mismatch", new_bundle.version, "admin request"),
    ]


def test_a_model_json_the_service_wrote_never_counts_as_published(tmp_path):
    """Lenient mode describes a file it could not verify; that must not vouch for it later."""
    _, path = write_bundle(tmp_path / "models", seed=1)
    _, other = write_bundle(tmp_path / "other", seed=2)
    shutil.copy(other, path)  # the model file alone
    old = time.time() - 60
    os.utime(path, (old, old))
    lenient = make_store(path)
    assert lenient.reload("start-up").loaded and not lenient.current.checksum_verified
    written = json.loads(path.with_name(METADATA_FILENAME).read_text())
    assert written["sha256_source"].startswith("service")
    before = path.with_name(METADATA_FILENAME).stat().st_mtime_ns

    again = make_store(path)  # a restart, or another worker
    assert again.reload("start-up").loaded and not again.current.checksum_verified
    assert path.with_name(METADATA_FILENAME).stat().st_mtime_ns == before  # not rewritten
    strict = make_store(path, require_checksum=True)
    refused = strict.reload("start-up")
    assert not refused.loaded and "without a published checksum" in refused.message
    assert strict.refused_state is not None


def test_anything_the_loader_raises_is_a_counted_refusal_not_retried(store, caplog, monkeypatch):
    """A bug must not stop the service from starting or make the watcher spin on a file."""

    def broken_load(*args, **kwargs):
        raise RuntimeError("a bug in some library")

    serving = store.current
    monkeypatch.setattr(store.loader, "load", broken_load)
    with caplog.at_level(logging.ERROR, logger="anomaly_detector.model"):
        result = store.reload("file changed")
    assert not result.loaded and "RuntimeError: a bug in some library" in result.message
    assert store.current is serving and _reloads(store.metrics, "failure") == 1
    assert "unexpected error while loading" in caplog.text
    assert not store.changed_on_disk()
