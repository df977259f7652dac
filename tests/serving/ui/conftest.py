"""Small trained models of each kind and clients serving them, for the web page's tests."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient

from anomaly_detector.bundle.io import save_bundle
from anomaly_detector.data.synthetic.traffic import ANOMALY_TYPE_COLUMN, LABEL_COLUMN
from anomaly_detector.settings import Settings
from anomaly_detector.training.train import TrainConfig, train
from factories import labelled_traffic, service_clients, train_supervised_small


@pytest.fixture(scope="session")
def ui_models(tmp_path_factory):
    """Folders of three small models, trained once: ``{kind: folder}``.

    * ``unsupervised``: a forest evaluated on a labelled test file (figures, thresholds
      and an anomaly example from it);
    * ``supervised``: a binary classifier of ``is_anomaly`` with a test file;
    * ``priority``: a six-class classifier of ``anomaly_type``.
    """
    root = tmp_path_factory.mktemp("ui-models")
    frame = labelled_traffic(seed=3).drop(columns=[ANOMALY_TYPE_COLUMN])
    test = labelled_traffic(n_rows=1000, seed=4).drop(columns=[ANOMALY_TYPE_COLUMN])
    unsupervised = train(
        frame.drop(columns=[LABEL_COLUMN]),
        TrainConfig(detector="isolation_forest", params={"n_estimators": 25, "random_state": 3},
                    contamination=0.05, label_column=LABEL_COLUMN),
        test_frame=test,
    )  # fmt: skip
    bundles = {
        "unsupervised": unsupervised.bundle,
        "supervised": train_supervised_small(seed=3).bundle,
        "priority": train_supervised_small(label_column=ANOMALY_TYPE_COLUMN, seed=3).bundle,
    }
    folders = {}
    for kind, bundle in bundles.items():
        folders[kind] = root / kind
        save_bundle(bundle, folders[kind])
    return folders


@pytest.fixture
def ui_client(ui_models, tmp_path):
    """``make(kind, **settings)``: a client serving a copy of that model (in tmp_path/models)."""
    with service_clients() as start:

        def make(kind: str = "unsupervised", **overrides) -> TestClient:
            models = tmp_path / "models"
            if not models.exists():
                shutil.copytree(ui_models[kind], models)
            options = {"model_path": models / "model.joblib", "reload_interval_seconds": 60.0}
            return start(Settings(**options | overrides))

        yield make
