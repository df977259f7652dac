"""Which model files get deserialized: location, checksum, and skops' type allow-list."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
from pathlib import Path

import joblib
import pytest
import skops.io

from anomaly_detector.bundle import serialization
from anomaly_detector.bundle.format import to_payload
from anomaly_detector.bundle.io import METADATA_FILENAME, save_bundle
from anomaly_detector.bundle.trust import load_trusted_bundle
from anomaly_detector.data.synthetic.traffic import ANOMALY_TYPE_COLUMN, LABEL_COLUMN
from anomaly_detector.detectors import registry
from anomaly_detector.errors import BundleError
from factories import write_bundle


class Exploit:
    """Unpickling this writes ``marker``: a stand-in for any code a pickle can run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.write_text, (pathlib.Path(self.marker), "pwned"))


def plant_exploit(path: Path, marker: Path, checksum: bool = False) -> Path:
    """Write the exploit as ``path``; with ``checksum``, a model.json that matches it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(Exploit(marker), path)
    if checksum:
        sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        path.with_name(METADATA_FILENAME).write_text(json.dumps({"sha256": sha256}))
    return path


def _refused(path: Path, reason: str, **options) -> BundleError:
    with pytest.raises(BundleError) as caught:
        load_trusted_bundle(path, **options)
    assert caught.value.reason == reason, str(caught.value)
    return caught.value


def test_the_exploit_really_runs_code_when_unpickled(tmp_path: Path) -> None:
    """Control: the file the other tests plant is live, so their refusals mean something."""
    marker = tmp_path / "marker"
    joblib.load(plant_exploit(tmp_path / "evil.joblib", marker))
    assert marker.read_text() == "pwned"


def test_valid_bundle_loads_with_its_checksum(tmp_path: Path) -> None:
    bundle, path = write_bundle(tmp_path / "models", seed=1)
    trusted = load_trusted_bundle(path)
    assert trusted.bundle.version == bundle.version
    assert trusted.sha256 == json.loads(path.with_name(METADATA_FILENAME).read_text())["sha256"]
    assert trusted.checksum_verified and trusted.real_path == path.resolve()


def test_exploit_without_model_json_is_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    path = plant_exploit(tmp_path / "models" / "model.joblib", marker)
    error = _refused(path, "checksum_missing")
    assert "no model.json" in str(error)
    assert not marker.exists()


def test_exploit_with_the_checksum_of_another_file_is_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    _, valid = write_bundle(tmp_path / "models", seed=1)
    path = plant_exploit(valid, marker)  # model.json still holds the valid bundle's sha256
    error = _refused(path, "checksum_mismatch")
    assert "not the one that was published" in str(error)
    assert not marker.exists()


def test_mismatch_names_the_file_model_json_describes(tmp_path: Path) -> None:
    bundle, joblib_path = write_bundle(tmp_path / "models", seed=1)
    save_bundle(bundle, joblib_path.parent, format="skops")  # model.json now describes it
    assert "it describes model.skops" in str(_refused(joblib_path, "checksum_mismatch"))


def test_without_require_checksum_a_file_without_model_json_loads(tmp_path: Path) -> None:
    bundle, path = write_bundle(tmp_path / "models", seed=1)
    path.with_name(METADATA_FILENAME).unlink()
    trusted = load_trusted_bundle(path, require_checksum=False)
    assert trusted.bundle.version == bundle.version and not trusted.checksum_verified
    assert trusted.checksum_problem.reason == "checksum_missing"


def test_without_require_checksum_a_mismatch_loads_and_says_so(tmp_path: Path) -> None:
    first, path = write_bundle(tmp_path / "models", seed=1)
    second, other = write_bundle(tmp_path / "other", seed=2)
    shutil.copy(other, path)  # the model file alone, as a user copies it
    trusted = load_trusted_bundle(path, require_checksum=False)
    assert trusted.bundle.version == second.version != first.version
    assert trusted.checksum_problem.reason == "checksum_mismatch"


def test_file_outside_models_dir_is_refused_even_with_a_matching_checksum(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    outside = plant_exploit(tmp_path / "elsewhere" / "model.joblib", marker, checksum=True)
    (tmp_path / "models").mkdir()
    error = _refused(outside, "outside_models_dir", models_dir=tmp_path / "models")
    assert "outside the models directory" in str(error)
    dotdot = tmp_path / "models" / ".." / "elsewhere" / "model.joblib"
    _refused(dotdot, "outside_models_dir", models_dir=tmp_path / "models")
    assert not marker.exists()


def test_symlink_inside_pointing_outside_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    outside = plant_exploit(tmp_path / "elsewhere" / "model.joblib", marker, checksum=True)
    link = tmp_path / "models" / "model.joblib"
    link.parent.mkdir()
    link.symlink_to(outside)
    shutil.copy(outside.with_name(METADATA_FILENAME), link.with_name(METADATA_FILENAME))
    error = _refused(link, "outside_models_dir")
    assert str(outside) in str(error)
    assert not marker.exists()


def test_symlink_within_models_dir_is_followed(tmp_path: Path) -> None:
    bundle, real = write_bundle(tmp_path / "models" / "v2", seed=1)
    link = tmp_path / "models" / "current.joblib"
    link.symlink_to(real)
    trusted = load_trusted_bundle(link, models_dir=tmp_path / "models")
    assert trusted.bundle.version == bundle.version and trusted.real_path == real.resolve()


def test_missing_file(tmp_path: Path) -> None:
    assert "does not exist" in str(_refused(tmp_path / "model.joblib", "missing_file"))


def test_the_skops_allow_list_is_exactly_what_published_bundles_need(tmp_path: Path) -> None:
    """Each trusted type widens what a file can make the service build: none may be spare."""
    needed: set[str] = set()
    kinds = [{"detector": name} for name in registry.trainable()]
    kinds += [
        {"task": "supervised", "label_column": c} for c in (LABEL_COLUMN, ANOMALY_TYPE_COLUMN)
    ]
    for i, kind in enumerate(kinds):
        bundle, joblib_path = write_bundle(tmp_path / str(i), seed=1, **kind)
        skops_path, _ = save_bundle(bundle, joblib_path.parent, format="skops")
        needed |= set(skops.io.get_untrusted_types(file=skops_path))
        assert load_trusted_bundle(skops_path).bundle.version == bundle.version
    assert needed == set(serialization.skops_trusted_types())


@pytest.mark.parametrize(
    "extra",
    [os.system, "exploit"],
    ids=["os.system", "custom-class"],
)
def test_skops_file_with_an_untrusted_type_is_refused(tmp_path: Path, extra) -> None:
    marker = tmp_path / "marker"
    bundle, _ = write_bundle(tmp_path / "source", seed=1)
    payload = to_payload(bundle)
    payload["metadata"]["extra"] = Exploit(marker) if extra == "exploit" else extra
    path = tmp_path / "models" / "model.skops"
    path.parent.mkdir()
    path.write_bytes(skops.io.dumps(payload))
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    path.with_name(METADATA_FILENAME).write_text(json.dumps({"sha256": sha256}))

    error = _refused(path, "untrusted_types")  # its checksum matches: only the types are wrong
    name = (
        f"{Exploit.__module__}.Exploit" if extra == "exploit" else f"{os.system.__module__}.system"
    )
    assert name in str(error)
    with pytest.raises(BundleError, match="does not load"):
        serialization.loads(path.read_bytes(), "model.skops")
    assert not marker.exists()
