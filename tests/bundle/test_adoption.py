"""Plain ``joblib.dump`` files of fitted scikit-learn models, served as bundles."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.covariance import EllipticEnvelope
from sklearn.ensemble import IsolationForest
from sklearn.linear_model import LinearRegression
from sklearn.neighbors import LocalOutlierFactor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

from anomaly_detector.bundle.io import load_bundle
from anomaly_detector.errors import BundleError, InputError
from anomaly_detector.scoring.canary import validate


def _data(rows: int = 400, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(rows, 4))
    data[:8] += 6  # a few outliers, so predict flags some rows
    return data


def _dump(model, tmp_path) -> object:
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    return load_bundle(path)


@pytest.mark.parametrize(
    "model",
    [
        IsolationForest(n_estimators=30, random_state=0),
        IsolationForest(n_estimators=30, contamination=0.05, random_state=0),
        make_pipeline(StandardScaler(), IsolationForest(n_estimators=30, random_state=0)),
        OneClassSVM(nu=0.05, gamma="scale"),
        LocalOutlierFactor(novelty=True, n_neighbors=20),
        EllipticEnvelope(random_state=0),
    ],
    ids=["forest", "forest-contamination", "pipeline", "ocsvm", "lof", "envelope"],
)
def test_a_plain_dump_scores_and_decides_as_the_estimator_does(model, tmp_path):
    data = _data()
    model.fit(data)
    bundle = _dump(model, tmp_path)
    rows = _data(200, seed=1)
    prediction = validate(bundle).predict_rows(rows.tolist())
    np.testing.assert_allclose(prediction.anomaly_score, -model.score_samples(rows), atol=1e-12)
    np.testing.assert_array_equal(prediction.is_inlier, model.predict(rows) == 1)
    assert bundle.schema.names == ["x0", "x1", "x2", "x3"]
    assert bundle.metadata["adopted"] is True


def test_a_plain_forest_is_served_compiled(tmp_path):
    forest = IsolationForest(n_estimators=30, random_state=0).fit(_data())
    scorer = validate(_dump(forest, tmp_path))
    assert scorer.fast_path and scorer.bundle.detector_name == "isolation_forest"


def test_feature_names_come_from_a_frame_the_estimator_was_fitted_on(tmp_path):
    frame = pd.DataFrame(_data(), columns=["rate", "errors", "bytes", "latency"])
    forest = IsolationForest(n_estimators=20, random_state=0).fit(frame)
    bundle = _dump(forest, tmp_path)
    assert bundle.schema.names == ["rate", "errors", "bytes", "latency"]
    row = {"rate": 0.1, "errors": 0.2, "bytes": -1.0, "latency": 9.0}
    score = validate(bundle).predict_one(bundle.schema.row_from_mapping(row)).anomaly_score
    assert score == pytest.approx(-forest.score_samples(pd.DataFrame([row]))[0], abs=1e-12)


def test_the_same_file_gets_the_same_version(tmp_path):
    forest = IsolationForest(n_estimators=10, random_state=0).fit(_data())
    first = _dump(forest, tmp_path)
    again = load_bundle(tmp_path / "model.joblib")
    assert first.version == again.version and first.version.startswith("adopted-")


def test_nulls_are_refused_when_the_estimator_cannot_take_them(tmp_path):
    svm = _dump(OneClassSVM(gamma="scale").fit(_data()), tmp_path)
    assert not svm.schema.accepts_missing
    with pytest.raises(InputError) as caught:
        svm.schema.row_from_vector([1.0, None, 2.0, 3.0])
    assert caught.value.reason == "missing_value" and "'x1'" in caught.value.message
    forest = _dump(IsolationForest(n_estimators=10).fit(_data()), tmp_path)
    assert forest.schema.accepts_missing  # scikit-learn's forest routes NaN itself


def test_a_pipeline_that_imputes_takes_nulls_though_its_estimator_does_not(tmp_path):
    from sklearn.impute import SimpleImputer

    model = make_pipeline(SimpleImputer(), OneClassSVM(gamma="scale")).fit(_data())
    bundle = _dump(model, tmp_path)
    assert bundle.schema.accepts_missing
    row = [np.nan, 1.0, 2.0, 3.0]
    score = validate(bundle).predict_one(bundle.schema.row_from_vector([None, *row[1:]]))
    assert score.anomaly_score == pytest.approx(-model.score_samples([row])[0], abs=1e-12)


def test_passthrough_steps_are_skipped(tmp_path):
    model = make_pipeline("passthrough", IsolationForest(n_estimators=10, random_state=0))
    model.fit(_data())
    bundle = _dump(model, tmp_path)
    rows = _data(20, seed=2)
    np.testing.assert_allclose(
        validate(bundle).predict_rows(rows.tolist()).anomaly_score,
        -model.score_samples(rows),
        atol=1e-12,
    )


class BrokenForest(IsolationForest):
    """A forest whose scoring raises something other than a ValueError."""

    def score_samples(self, X):
        raise RuntimeError("boom")


def test_an_object_whose_methods_fail_is_a_bundle_error_not_a_crash(tmp_path):
    broken = BrokenForest(n_estimators=5).fit(_data())
    with pytest.raises(BundleError, match="cannot be served: RuntimeError: boom"):
        _dump(broken, tmp_path)


def test_a_model_that_is_not_an_outlier_detector_is_refused_by_name(tmp_path):
    with pytest.raises(BundleError) as caught:
        _dump(LinearRegression().fit(_data(), np.arange(400)), tmp_path)
    assert "LinearRegression" in caught.value.message
    assert "score_samples" in caught.value.message


def test_a_bundle_exports_a_plain_pipeline_that_decides_as_it_does(traffic_frame):
    from anomaly_detector.bundle.export import sklearn_pipeline
    from anomaly_detector.scoring.scorer import Scorer
    from factories import train_small

    bundle = train_small(frame=traffic_frame, contamination=0.07).bundle
    pipeline = sklearn_pipeline(bundle)
    inputs = bundle.schema.coerce_frame(traffic_frame)
    prediction = Scorer(bundle).predict_frame(traffic_frame)
    np.testing.assert_allclose(
        -pipeline.score_samples(inputs), prediction.anomaly_score, atol=1e-12
    )
    np.testing.assert_array_equal(pipeline.predict(inputs) == 1, prediction.is_inlier)
    assert bundle.detector.estimator_.offset_ == -0.5  # the bundle's own estimator is untouched
