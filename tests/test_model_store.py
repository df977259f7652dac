"""Loading, validating and swapping models; refusing bad files."""

import shutil

import pytest

from anomaly_detector.metrics import Metrics
from anomaly_detector.model_store import ModelStore, canary_rows, validate
from factories import numeric_frame, write_bundle


def _reloads(metrics, result):
    return metrics.registry.get_sample_value(
        "anomaly_detector_model_reloads_total", {"result": result}
    )


@pytest.fixture
def store(tmp_path):
    _, path = write_bundle(tmp_path / "serve", seed=1)
    metrics = Metrics()
    store = ModelStore(path, metrics)
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
    shutil.copy(new_path, store.path)
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


@pytest.mark.parametrize(
    "content",
    [b"garbage, not a pickle", b"", None],  # None: a truncated copy of a real bundle
    ids=["garbage", "empty", "truncated"],
)
def test_broken_file_is_refused_and_old_model_serves(store, content):
    serving = store.current
    if content is None:
        content = store.path.read_bytes()[:5000]
    store.path.write_bytes(content)
    result = store.reload("file changed")
    assert not result.loaded
    assert store.current is serving
    assert _reloads(store.metrics, "failure") == 1
    assert store.metrics.registry.get_sample_value("anomaly_detector_model_loaded") == 1
    # The same broken file is not retried on every poll, only once it changes again.
    assert not store.changed_on_disk()


def test_schema_change_is_refused_unless_allowed(store, tmp_path):
    serving = store.current
    _, other = write_bundle(tmp_path / "other", frame=numeric_frame())
    shutil.copy(other, store.path)
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
