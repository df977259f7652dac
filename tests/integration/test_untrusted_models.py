"""Untrusted model files against the real service.

The planted file is a pickle whose loading writes a marker file. With
``REQUIRE_CHECKSUM=true`` the service must refuse it before unpickling (no
model.json, a model.json of another file); in every mode it refuses a path
outside the models directory. It keeps serving the old model and counts the
refusal. Without ``REQUIRE_CHECKSUM`` (the default) the folder itself is the
trust boundary, as the README says: a test shows what that means.
model.skops bundles are served and hot-swapped like joblib ones.
"""

import hashlib
import json
import os
import pathlib
import shutil
import time

import httpx
import numpy as np
import pytest

from anomaly_detector.bundle.io import METADATA_FILENAME, save_bundle
from factories import write_bundle
from live import LiveServer, wait_for

pytestmark = pytest.mark.integration

FAILURES = ("anomaly_detector_model_reloads_total", {"result": "failure"})
VECTOR = ["mobile", 14, 42.5, 0.01, 38.0, 95.0, 20480, 512000, 6, 0]


class Exploit:
    """Unpickling this writes ``marker``: a stand-in for any code a pickle can run."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.write_text, (pathlib.Path(self.marker), "pwned"))


def plant(target, marker, checksum=False):
    """Put the exploit at ``target`` with one rename; ``checksum``: a model.json matching it."""
    import joblib

    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(".planted.tmp")
    joblib.dump(Exploit(marker), staged)
    if checksum:
        sha256 = hashlib.sha256(staged.read_bytes()).hexdigest()
        target.with_name(METADATA_FILENAME).write_text(json.dumps({"sha256": sha256}))
    os.replace(staged, target)
    return target


def served_version(server):
    response = httpx.post(server.url + "/prediction", json={"feature_vector": VECTOR})
    assert response.status_code == 200
    return response.json()["model_version"]


def wait_for_failures(server, count, timeout=15):
    wait_for(lambda: server.metric(*FAILURES) == count, timeout=timeout, what=f"{count} refusals")


def refusal_reasons(server):
    lines = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    return [line["reason"] for line in lines if line.get("event") == "model_refused"]


def test_planted_pickle_never_runs_and_the_old_model_keeps_serving(tmp_path):
    marker = tmp_path / "marker"
    bundle, model_path = write_bundle(tmp_path / "models", seed=41)
    strict = {"REQUIRE_CHECKSUM": "true"}
    with LiveServer(model_path, tmp_path / "server.log", env=strict) as server:
        assert served_version(server) == bundle.version
        failures = server.metric(*FAILURES)

        # 1. No model.json at all: first a possible publish in progress, then refused.
        model_path.with_name(METADATA_FILENAME).unlink()
        plant(model_path, marker)
        time.sleep(1.5)  # within the grace: retried quietly, not counted
        assert server.metric(*FAILURES) == failures
        wait_for_failures(server, failures + 1)
        assert refusal_reasons(server) == ["checksum_missing"]

        # 2. A model.json whose sha256 is that of another, valid file.
        _, other = write_bundle(tmp_path / "other", seed=42)
        shutil.copy(other.with_name(METADATA_FILENAME), model_path.with_name(METADATA_FILENAME))
        wait_for_failures(server, failures + 2)
        assert refusal_reasons(server) == ["checksum_missing", "checksum_mismatch"]

        time.sleep(1.5)  # several polls: the refused pair is not retried
        assert server.metric(*FAILURES) == failures + 2
        assert served_version(server) == bundle.version
        assert httpx.get(server.url + "/readyz").status_code == 200
        assert "model refused" in server.logs()
    assert not marker.exists()


def test_without_require_checksum_whoever_writes_the_folder_runs_code(tmp_path):
    """The documented trade-off of the default: the models folder is the trust boundary."""
    marker = tmp_path / "marker"
    bundle, model_path = write_bundle(tmp_path / "models", seed=46)
    with LiveServer(model_path, tmp_path / "server.log") as server:
        failures = server.metric(*FAILURES)
        plant(model_path, marker)  # no model.json of its own: loaded once the grace is over
        wait_for(marker.exists, timeout=20, what="the planted pickle to be unpickled")
        # It is not a model, so it is refused after unpickling, and the old one serves on.
        wait_for_failures(server, failures + 1)
        assert served_version(server) == bundle.version


@pytest.mark.parametrize("how", ["model-path-outside", "symlink-outside"])
def test_model_outside_the_models_dir_is_refused_at_start_up(tmp_path, how):
    marker = tmp_path / "marker"
    models = tmp_path / "models"
    models.mkdir()
    # Even a file with a matching model.json is refused when it lies outside.
    outside = plant(tmp_path / "elsewhere" / "model.joblib", marker, checksum=True)
    env = {"MODELS_DIR": str(models)}
    if how == "model-path-outside":
        model_path = outside
    else:
        model_path = models / "model.joblib"
        model_path.symlink_to(outside)
    with LiveServer(model_path, tmp_path / "server.log", env=env, ready=False) as server:
        ready = httpx.get(server.url + "/readyz")
        assert ready.status_code == 503
        assert "outside the models directory" in ready.json()["detail"]
        assert server.metric(*FAILURES) == 1
        assert refusal_reasons(server) == ["outside_models_dir"]
    assert not marker.exists()


def test_symlink_outside_is_refused_on_reload(tmp_path):
    marker = tmp_path / "marker"
    bundle, model_path = write_bundle(tmp_path / "models", seed=43)
    outside = plant(tmp_path / "elsewhere" / "model.joblib", marker, checksum=True)
    env = {"ADMIN_TOKEN": "test-admin"}
    with LiveServer(model_path, tmp_path / "server.log", env=env) as server:
        failures = server.metric(*FAILURES)
        link = model_path.with_name(".incoming.tmp")
        link.symlink_to(outside)
        os.replace(link, model_path)
        wait_for_failures(server, failures + 1, timeout=10)
        assert refusal_reasons(server) == ["outside_models_dir"]

        admin = httpx.post(
            server.url + "/admin/reload", headers={"Authorization": "Bearer test-admin"}
        )
        assert admin.status_code == 409 and "outside the models directory" in admin.text
        assert served_version(server) == bundle.version
    assert not marker.exists()


def test_skops_model_is_served_and_hot_swapped(tmp_path):
    first, _ = write_bundle(tmp_path / "source-1", seed=44)
    second, _ = write_bundle(tmp_path / "source-2", seed=45)
    model_path, _ = save_bundle(first, tmp_path / "models", format="skops")
    assert model_path.name == "model.skops"
    with LiveServer(model_path, tmp_path / "server.log") as server:
        info = httpx.get(server.url + "/model_information").json()
        assert info["version"] == first.version and info["fast_path"] is True
        assert info["sha256"] == hashlib.sha256(model_path.read_bytes()).hexdigest()
        rows = [VECTOR, ["browser", 900, 1.0, 0.5, 3000.0, 9000.0, 1, 1, 23, 1]]
        body = httpx.post(
            server.url + "/predictions", json={"feature_vectors": rows, "score": True}
        ).json()
        expected = first.reference_scores(first.schema.frame_from_rows(rows))
        assert np.max(np.abs(np.array(body["anomaly_score"]) - expected)) <= 1e-9

        published = time.monotonic()
        save_bundle(second, model_path.parent, format="skops")
        wait_for(lambda: served_version(server) == second.version, timeout=10, what="swap")
        assert time.monotonic() - published < 10
        assert server.metric(*FAILURES) == 0  # model file, then model.json: not a failure
