"""The fitted preprocessing transformer: imputation, the signed log and category codes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anomaly_detector.data.feature_schema import Feature, FeatureSchema
from anomaly_detector.data.profiling import profile_columns
from anomaly_detector.preprocessing import signed_log1p
from anomaly_detector.preprocessing.pipeline import build_preprocessor


def test_preprocessor_imputes_logs_and_encodes_as_documented() -> None:
    schema = FeatureSchema(
        (
            Feature("bytes", "log_numeric"),
            Feature("temperature", "numeric"),
            Feature("color", "categorical", ("blue", "red")),
        )
    )
    train = schema.coerce_frame(
        pd.DataFrame(
            {
                "bytes": [1.0, 10.0, 1000.0, None],
                "temperature": [20.0, None, 30.0, 40.0],
                "color": ["red", "blue", None, "red"],
            }
        )
    )
    preprocessor = build_preprocessor(schema).fit(train)
    new = schema.coerce_frame(
        pd.DataFrame({"bytes": [None, 99.0], "temperature": [None, 25.0], "color": ["green", None]})
    )
    out = pd.DataFrame(preprocessor.transform(new), columns=preprocessor.get_feature_names_out())
    assert out["bytes"].tolist() == pytest.approx(signed_log1p([10.0, 99.0]).tolist())
    assert out["temperature"].tolist() == [30.0, 25.0]
    # Unseen and missing categories share code -1, as build_preprocessor documents.
    assert out["color"].tolist() == [-1.0, -1.0]
    known = preprocessor.transform(
        schema.coerce_frame(pd.DataFrame({"bytes": [0.0], "temperature": [0.0], "color": ["red"]}))
    )
    assert known[0, list(preprocessor.get_feature_names_out()).index("color")] == 1.0


def test_preprocessor_output_is_finite_on_the_messy_csv(messy_frame: pd.DataFrame) -> None:
    schema = profile_columns(messy_frame, "label").schema
    inputs = schema.coerce_frame(messy_frame)
    assert inputs.isna().any().any()
    out = build_preprocessor(schema).fit_transform(inputs)
    assert out.shape == (len(messy_frame), len(schema))
    assert np.isfinite(out).all()


def test_signed_log1p_is_odd_monotone_and_zero_at_zero() -> None:
    values = np.array([-1e9, -5.0, -0.5, 0.0, 0.5, 5.0, 1e9])
    logged = signed_log1p(values)
    assert logged[3] == 0.0
    assert np.all(np.diff(logged) > 0)
    np.testing.assert_allclose(signed_log1p(-values), -logged)
