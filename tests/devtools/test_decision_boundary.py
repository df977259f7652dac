"""Score grids, typical values and the PCA projection behind the notebook's boundary plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from anomaly_detector.devtools.decision_boundary import (
    grid_axis,
    log1p_ticks,
    pca_projection,
    score_grid,
    typical_row,
)
from anomaly_detector.preprocessing import signed_log1p
from anomaly_detector.scoring.scorer import Scorer


@pytest.fixture
def bundle(trained_bundle):
    return trained_bundle().bundle


@pytest.fixture
def frame(traffic_frame):
    return traffic_frame.drop(columns=["is_anomaly", "anomaly_type"])


def test_typical_row_holds_medians_and_the_most_frequent_category(bundle, frame):
    frame = frame.copy()
    # Make the mode unambiguous and different from the alphabetically first category.
    frame.loc[frame.index[:1200], "client_type"] = "partner_api"
    row = typical_row(bundle, frame)

    assert list(row) == bundle.schema.names
    assert row["client_type"] == "partner_api"
    for name in ("hour_of_day", "request_rate", "bytes_out", "auth_failures"):
        assert row[name] == pytest.approx(frame[name].median())
    # A column with missing values: the median of the values present.
    assert frame["latency_p95_ms"].isna().any()
    assert row["latency_p95_ms"] == pytest.approx(frame["latency_p95_ms"].dropna().median())


def test_grid_scores_equal_scorer_scores_of_the_same_rows(bundle, frame):
    grid = score_grid(bundle, frame, "request_rate", "auth_failures", resolution=9)

    typical = typical_row(bundle, frame)
    rows = [
        {**typical, "request_rate": x_value, "auth_failures": y_value}
        for y_value in grid.ys
        for x_value in grid.xs
    ]
    rows = pd.DataFrame(rows)
    expected = Scorer(bundle).predict_frame(rows).anomaly_score.reshape(9, 9)
    np.testing.assert_array_equal(grid.anomaly_score, expected)
    # ... and what scikit-learn says about them, so the grid is what the service answers.
    sklearn_scores = bundle.reference_scores(rows)
    np.testing.assert_allclose(grid.anomaly_score.ravel(), sklearn_scores, rtol=0, atol=1e-9)


def test_grid_shapes_and_default_ranges_follow_the_reference_data(bundle, frame):
    grid = score_grid(bundle, frame, "hour_of_day", "error_ratio", resolution=7)

    assert grid.xs.shape == (7,) and grid.ys.shape == (7,)
    assert grid.anomaly_score.shape == (7, 7)
    assert np.isfinite(grid.anomaly_score).all()
    assert grid.xs[0] == pytest.approx(frame["hour_of_day"].min())
    assert grid.xs[-1] == pytest.approx(frame["hour_of_day"].max())
    assert grid.ys[0] == pytest.approx(frame["error_ratio"].min())
    assert grid.ys[-1] == pytest.approx(frame["error_ratio"].max())


def test_explicit_ranges_replace_the_data_range(bundle, frame):
    grid = score_grid(
        bundle, frame, "bytes_out", "hour_of_day", resolution=5, x_range=(10, 1e9), y_range=(0, 23)
    )
    assert grid.xs[0] == pytest.approx(10) and grid.xs[-1] == pytest.approx(1e9)
    np.testing.assert_allclose(grid.ys, np.linspace(0, 23, 5))


def test_heavy_tailed_axes_are_spaced_in_the_pipelines_log_and_keep_zero(bundle, frame):
    kinds = {feature.name: feature.kind for feature in bundle.schema.features}
    assert kinds["auth_failures"] == "log_numeric" and kinds["hour_of_day"] == "numeric"

    grid = score_grid(bundle, frame, "hour_of_day", "auth_failures", resolution=11)

    assert grid.ys[0] == 0.0
    log_steps = np.diff(signed_log1p(grid.ys))
    np.testing.assert_allclose(log_steps, log_steps[0], rtol=1e-9)
    linear_steps = np.diff(grid.xs)
    np.testing.assert_allclose(linear_steps, linear_steps[0], rtol=1e-9)


def test_log_spacing_can_be_switched_either_way(bundle, frame):
    linear = score_grid(bundle, frame, "request_rate", "hour_of_day", resolution=6, log_x=False)
    np.testing.assert_allclose(np.diff(linear.xs), np.diff(linear.xs)[0], rtol=1e-9)

    logged = score_grid(bundle, frame, "request_rate", "hour_of_day", resolution=6, log_y=True)
    log_steps = np.diff(signed_log1p(logged.ys))
    np.testing.assert_allclose(log_steps, log_steps[0], rtol=1e-9)
    assert np.diff(logged.ys)[-1] > 2 * np.diff(logged.ys)[0]


def test_many_auth_failures_score_higher_than_none(bundle, frame):
    grid = score_grid(bundle, frame, "request_rate", "auth_failures", resolution=15)
    middle_rate = 7
    assert grid.anomaly_score[-1, middle_rate] > grid.anomaly_score[0, middle_rate] + 0.05


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        ("client_type", "request_rate", "categorical"),
        ("request_rate", "no_such_column", "not a feature"),
        ("request_rate", "request_rate", "different features"),
    ],
)
def test_axes_must_be_two_numeric_features(bundle, frame, x, y, message):
    with pytest.raises(ValueError, match=message):
        score_grid(bundle, frame, x, y)


def test_grid_axis_rejects_bad_input():
    with pytest.raises(ValueError, match="at least 2"):
        grid_axis(0, 1, 1, log=False)
    with pytest.raises(ValueError, match="low <= high"):
        grid_axis(5, 1, 10, log=True)
    with pytest.raises(ValueError, match="finite"):
        grid_axis(0, np.nan, 10, log=False)


def test_log1p_ticks_label_raw_values_at_their_log_positions():
    positions, labels = log1p_ticks(2_500)

    assert labels == ["0", "1", "10", "100", "1,000"]
    np.testing.assert_allclose(positions, signed_log1p([0, 1, 10, 100, 1000]))
    assert log1p_ticks(5e7, low=50)[1] == ["100", "1,000", "10,000", "100,000", "1e+06", "1e+07"]


def test_pca_projection_of_the_preprocessed_inputs(bundle, frame):
    projection = pca_projection(bundle, frame)

    assert list(projection.columns) == ["pc1", "pc2", "anomaly_score"]
    assert projection.index.equals(frame.index)
    np.testing.assert_array_equal(
        projection["anomaly_score"], Scorer(bundle).predict_frame(frame).anomaly_score
    )
    shares = projection.attrs["explained_variance_ratio"]
    assert len(shares) == 2 and shares[0] >= shares[1] > 0 and sum(shares) <= 1

    preprocessed = bundle.model_inputs(frame)
    expected = PCA(n_components=2).fit_transform(StandardScaler().fit_transform(preprocessed))
    for k, column in enumerate(("pc1", "pc2")):
        # A principal component is defined up to its sign.
        sign = np.sign(np.dot(expected[:, k], projection[column]))
        np.testing.assert_allclose(projection[column], sign * expected[:, k], atol=1e-8)
    assert projection["pc1"].var() >= projection["pc2"].var()
