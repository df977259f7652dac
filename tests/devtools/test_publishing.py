"""Publishing from a notebook: saved atomically; an absent service is a warning or an error."""

from __future__ import annotations

import pytest

from anomaly_detector.bundle.io import load_bundle
from anomaly_detector.devtools.publishing import model_information, publish
from factories import train_small
from live import free_port


def test_without_a_service_the_model_is_saved_and_the_absence_said(tmp_path):
    bundle = train_small().bundle
    url = f"http://127.0.0.1:{free_port()}"
    said = []
    assert model_information(url) is None
    assert publish(bundle, tmp_path / "models", url, say=said.append) == bundle.version
    assert load_bundle(tmp_path / "models" / "model.joblib").version == bundle.version
    assert "is not reachable" in said[0] and said[1].startswith("saved ")


def test_a_required_service_that_is_absent_stops_before_saving(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(RuntimeError, match="not reachable"):
        publish(train_small().bundle, tmp_path / "models", url, require_service=True)
    assert not (tmp_path / "models").exists()
