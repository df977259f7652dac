"""The shared scoring path: compiled pipelines equal scikit-learn's, and the fallback works."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

from anomaly_detector.bundle.model import Decision, ModelBundle
from anomaly_detector.data.feature_schema import Feature, FeatureSchema
from anomaly_detector.detectors.isolation_forest import IsolationForestDetector
from anomaly_detector.detectors.sklearn_outlier import SklearnOutlierDetector
from anomaly_detector.errors import InputError
from anomaly_detector.scoring.prediction import Prediction
from anomaly_detector.scoring.scorer import Scorer
from anomaly_detector.training.train import TrainConfig, train


def _config(**params) -> TrainConfig:
    return TrainConfig(detector="isolation_forest", params=params)


TOLERANCE = 1e-9


def _random_frame(rng, n_rows, n_numeric, n_heavy, n_categorical, missing_share):
    columns = {}
    for i in range(n_numeric):
        columns[f"num_{i}"] = rng.normal(rng.uniform(-5, 5), rng.uniform(0.1, 10), n_rows)
    for i in range(n_heavy):
        columns[f"count_{i}"] = np.round(rng.lognormal(rng.uniform(0, 5), 2.0, n_rows))
    for i in range(n_categorical):
        levels = [f"level-{k}" for k in range(rng.integers(2, 7))]
        columns[f"cat_{i}"] = rng.choice(levels, n_rows)
    frame = pd.DataFrame(columns)
    for name in frame.columns:
        frame.loc[rng.random(n_rows) < missing_share, name] = None
    return frame


def _rows_from_frame(schema, frame):
    rows = []
    for record in frame[schema.names].to_dict("records"):
        clean = {
            k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in record.items()
        }
        rows.append(schema.row_from_mapping(clean))
    return rows


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_numeric=st.integers(0, 3),
    n_heavy=st.integers(0, 3),
    n_categorical=st.integers(0, 3),
    missing_share=st.sampled_from([0.0, 0.05, 0.3]),
    max_features=st.sampled_from([1.0, 0.5]),
    max_samples=st.sampled_from(["auto", 64, 0.5]),
    seed=st.integers(0, 10_000),
)
def test_compiled_pipeline_equals_scikit_learn(
    n_numeric, n_heavy, n_categorical, missing_share, max_features, max_samples, seed
):
    if n_numeric + n_heavy + n_categorical == 0:
        n_numeric = 1
    rng = np.random.default_rng(seed)
    frame = _random_frame(rng, 300, n_numeric, n_heavy, n_categorical, missing_share)
    config = _config(
        n_estimators=20, max_features=max_features, max_samples=max_samples, random_state=seed
    )
    bundle = train(frame, config).bundle
    scorer = Scorer(bundle)
    assert scorer.fast_path, scorer.fallback_reason

    probe = _random_frame(rng, 80, n_numeric, n_heavy, n_categorical, 0.1)
    probe = probe[[c for c in frame.columns if c in bundle.schema.names]]
    for name in probe.columns:  # categories never seen in training
        if name.startswith("cat_"):
            probe.loc[probe.index[::9], name] = "never-seen"
    reference = bundle.reference_scores(probe)
    inlier = reference <= bundle.threshold

    from_frame = scorer.predict_frame(probe)
    from_rows = scorer.predict_rows(_rows_from_frame(bundle.schema, probe))
    rows = _rows_from_frame(bundle.schema, probe)
    one_by_one = [scorer.predict_rows([row]).anomaly_score[0] for row in rows]
    # The /prediction path: one jitted call prepares the row, one scores it.
    single = [scorer.predict_one(row) for row in rows]
    for got in (from_frame.anomaly_score, from_rows.anomaly_score, np.array(one_by_one)):
        np.testing.assert_allclose(got, reference, rtol=0, atol=TOLERANCE)
    np.testing.assert_array_equal([p.anomaly_score for p in single], from_rows.anomaly_score)
    np.testing.assert_array_equal(from_rows.is_inlier, inlier)
    assert [p.is_inlier for p in single] == inlier.tolist()
    assert all(isinstance(p, Prediction) for p in (from_frame, from_rows, *single))
    assert all(type(p.anomaly_score) is float and type(p.is_inlier) is bool for p in single)


def test_threshold_change_moves_decisions_consistently(tmp_path):
    rng = np.random.default_rng(3)
    bundle = train(_random_frame(rng, 500, 2, 2, 1, 0.0), _config(n_estimators=30)).bundle
    probe = _random_frame(rng, 200, 2, 2, 1, 0.0)
    before = Scorer(bundle).predict_frame(probe)
    bundle.set_threshold(0.45)
    after = Scorer(bundle).predict_frame(probe)
    np.testing.assert_array_equal(after.anomaly_score, before.anomaly_score)
    np.testing.assert_array_equal(after.is_inlier, after.anomaly_score <= 0.45)
    assert after.is_inlier.sum() < before.is_inlier.sum()  # 0.45 is below the paper's 0.5


def _unknown_preprocessing(rng):
    frame = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    schema = FeatureSchema((Feature("a", "numeric"), Feature("b", "numeric")))
    scaler = ColumnTransformer([("scale", StandardScaler(), ["a", "b"])]).fit(frame)
    return frame, schema, scaler


def test_what_does_not_compile_is_scored_through_the_libraries():
    frame, schema, scaler = _unknown_preprocessing(np.random.default_rng(0))
    svm = OneClassSVM(nu=0.05, gamma="scale").fit(scaler.transform(frame))
    pipeline = Pipeline([("preprocess", scaler), ("detector", svm)])
    detector = SklearnOutlierDetector.from_estimator(svm)
    bundle = ModelBundle(scaler, detector, schema, Decision(float(-svm.offset_[0])))
    scorer = Scorer(bundle)
    assert not scorer.fast_path
    assert (
        "ColumnTransformer" in scorer.fallback_reason or "StandardScaler" in scorer.fallback_reason
    )
    rows = [[0.0, 0.0], [8.0, -8.0]]
    got = scorer.predict_rows(rows)
    np.testing.assert_allclose(
        got.anomaly_score, -pipeline.score_samples(schema.frame_from_rows(rows))
    )
    np.testing.assert_array_equal(
        got.is_inlier, pipeline.predict(schema.frame_from_rows(rows)) == 1
    )
    one = scorer.predict_one(rows[1])
    assert (one.anomaly_score, one.is_inlier) == (float(got.anomaly_score[1]), False)


def test_a_compiled_detector_behind_library_preprocessing_still_agrees():
    frame, schema, scaler = _unknown_preprocessing(np.random.default_rng(1))
    detector = IsolationForestDetector(n_estimators=20)
    detector.fit(scaler.transform(frame))
    bundle = ModelBundle(scaler, detector, schema, Decision(0.5))
    scorer = Scorer(bundle)
    assert scorer.backend is not None and scorer.preprocessing is None and not scorer.fast_path
    np.testing.assert_allclose(
        scorer.predict_frame(frame).anomaly_score,
        bundle.reference_scores(frame),
        rtol=0,
        atol=TOLERANCE,
    )


def test_fast_can_be_disabled_and_agrees():
    rng = np.random.default_rng(5)
    frame = _random_frame(rng, 400, 1, 2, 2, 0.05)
    bundle = train(frame, _config(n_estimators=15)).bundle
    fast, slow = Scorer(bundle), Scorer(bundle, compiled=False)
    assert fast.fast_path and not slow.fast_path and slow.fallback_reason == "disabled"
    np.testing.assert_allclose(
        fast.predict_frame(frame).anomaly_score,
        slow.predict_frame(frame).anomaly_score,
        atol=TOLERANCE,
    )


def test_score_frame_reports_missing_columns():
    rng = np.random.default_rng(5)
    bundle = train(_random_frame(rng, 200, 2, 0, 0, 0.0), _config(n_estimators=5)).bundle
    with pytest.raises(InputError, match="num_1"):
        Scorer(bundle).predict_frame(pd.DataFrame({"num_0": [1.0]}))


# scikit-learn's reference casts 1e300 to float32 (inf), as the compiled path does: expected.
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_score_one_matches_score_rows_on_edge_values():
    rng = np.random.default_rng(11)
    frame = _random_frame(rng, 400, 1, 2, 1, 0.05)
    bundle = train(frame, _config(n_estimators=25)).bundle
    scorer = Scorer(bundle)
    names = bundle.schema.names
    edge_values = [0.0, -0.0, -1.0, -1e12, 1e300, 1e-300, None, 3.5]
    rows = []
    for value in edge_values:
        mapping = {name: value for name in names if not name.startswith("cat_")}
        mapping |= {name: "never-seen" for name in names if name.startswith("cat_")}
        rows.append(bundle.schema.row_from_mapping(mapping))
    batch = scorer.predict_rows(rows)
    assert [scorer.predict_one(row).anomaly_score for row in rows] == batch.anomaly_score.tolist()
    reference = bundle.reference_scores(bundle.schema.frame_from_rows(rows))
    np.testing.assert_allclose(batch.anomaly_score, reference, rtol=0, atol=TOLERANCE)


def test_score_one_equals_the_batch_path_next_to_log_split_points():
    # numpy's vectorised log1p and the C library's can differ in the last bit.
    # Next to a split threshold on a log-transformed input, that bit decides the
    # branch once the input is rounded to float32, so score_one must use the very
    # log1p of the batch path and the saved pipeline. On this project's machines
    # (AVX-512 numpy) some of the values below disagree between the two.
    rng = np.random.default_rng(5)
    frame = _random_frame(rng, 2_000, 0, 3, 1, 0.0)
    bundle = train(frame, _config(n_estimators=50)).bundle
    scorer = Scorer(bundle)
    prep, forest = scorer.preprocessing, bundle.detector.estimator_
    base = bundle.schema.row_from_mapping(frame[bundle.schema.names].iloc[0].to_dict())
    rows = []
    for tree, features in zip(forest.estimators_, forest.estimators_features_, strict=True):
        model_input = features[tree.tree_.feature[0]]
        threshold = tree.tree_.threshold[0]
        if not prep.logged[model_input] or threshold <= 0.5:
            continue
        below = np.float32(threshold)
        if below > threshold:
            below = np.nextafter(below, np.float32(-np.inf))
        above = np.nextafter(below, np.float32(np.inf))
        # Raw values whose log lands halfway between the two float32 neighbours.
        middle = np.expm1((float(below) + float(above)) / 2)
        for value in middle + np.arange(-300, 300) * np.spacing(middle):
            row = list(base)
            row[prep.output_order[model_input]] = float(value)
            rows.append(row)
    assert rows, "no root split on a log-transformed input"
    batch = scorer.predict_rows(rows).anomaly_score.tolist()
    assert [scorer.predict_one(row).anomaly_score for row in rows] == batch


def test_empty_cells_for_a_model_without_imputation_name_the_rows(tmp_path):
    import joblib

    from anomaly_detector.bundle.io import load_bundle

    svm = OneClassSVM(gamma="scale").fit(np.random.default_rng(0).normal(size=(200, 2)))
    joblib.dump(svm, tmp_path / "model.joblib")
    scorer = Scorer(load_bundle(tmp_path / "model.joblib"))
    frame = pd.DataFrame({"x0": [1.0, None, 2.0, 3.0], "x1": [0.0, 1.0, "n/a", 2.0]})
    with pytest.raises(InputError) as caught:
        scorer.predict_frame(frame)
    assert caught.value.reason == "missing_value"
    assert "2 row(s)" in caught.value.message and "row 1, 2" in caught.value.message
    scored = scorer.predict_frame(frame.iloc[[0, 3]])
    assert len(scored.anomaly_score) == 2
