"""Form text as typed values, and the geometry of the answer (serving/ui/results.py)."""

from __future__ import annotations

import numpy as np
import pytest

from anomaly_detector.data.feature_schema import Feature, FeatureSchema
from anomaly_detector.scoring.prediction import Prediction
from anomaly_detector.serving.ui import results

SCHEMA = FeatureSchema((Feature("kind", "categorical", ("7", "a")), Feature("rate", "numeric")))


@pytest.mark.parametrize(
    ("text", "value"),
    [("12", 12.0), (" -1.5e3 ", -1500.0), (".5", 0.5), ("", None), ("12 kB", "12 kB"),
     ("1,5", "1,5"), ("0x10", "0x10"), ("1_000", "1_000")],
)  # fmt: skip
def test_numeric_fields_become_numbers_or_stay_text_for_the_schema_to_refuse(text, value):
    assert results.form_features({"f:rate": text}, SCHEMA) == {"rate": value}


def test_non_finite_words_reach_the_schema_as_non_finite_numbers():
    for text in ("nan", "inf", "-Infinity", "1e999"):
        value = results.form_features({"f:rate": text}, SCHEMA)["rate"]
        assert isinstance(value, float) and not np.isfinite(value)


def test_categories_stay_text_and_other_fields_are_ignored():
    form = {"f:kind": "7", "f:unknown": "3", "api_key": "secret", "f:rate": "1"}
    assert results.form_features(form, SCHEMA) == {"kind": "7", "unknown": "3", "rate": 1.0}


def test_the_score_domain_is_the_range_or_what_training_scored():
    assert results.score_domain({"score": {"range": [0, 1]}}, 0.4) == (0.0, 1.0)
    unbounded = {"score": {"range": [None, None]},
                 "reference_scores": {"quantiles": {"0.01": -2.0, "0.999": 3.0}}}  # fmt: skip
    assert results.score_domain(unbounded, 5.0) == (-2.0, 5.0)


def test_the_gauge_and_bars_are_proportional():
    info = {"threshold": 0.5, "score": {"range": [0.0, 1.0]}}
    features = [
        {"name": "a", "value": 1.0, "contribution": 1.0},
        {"name": "b", "value": None, "contribution": -0.5},
    ]
    explanation = {"output": "o", "value": 2.0, "base_value": 0.5, "sentence": "s",
                   "features": features}  # fmt: skip
    body = {"is_inlier": False, "model_version": "v", "anomaly_score": 0.75, "label": "high",
            "confidence": 0.6, "probabilities": {"low": 0.1, "medium": 0.3, "high": 0.6},
            "explanation": explanation}  # fmt: skip
    view = results.score_view(info, body)
    assert view["gauge"]["fill"] == 225.0 and view["gauge"]["threshold"] == 150.0
    width = results.BAR_WIDTH
    assert [p["width"] for p in view["probabilities"]] == pytest.approx([0.1 * width, 0.3 * width,
                                                                         0.6 * width])  # fmt: skip
    assert [p["chosen"] for p in view["probabilities"]] == [False, False, True]
    a, b = view["explanation"]["rows"]
    half = results.BAR_WIDTH / 2
    assert (a["x"], a["length"], a["direction"]) == (half, half, "up")
    assert (b["x"], b["length"], b["direction"], b["value"]) == (half / 2, half / 2, "down",
                                                                  "missing")  # fmt: skip


def test_the_histogram_counts_every_row_and_marks_the_threshold():
    scores = np.array([0.05, 0.1, 0.12, 0.5, 0.96, 0.99])
    prediction = Prediction(scores, scores <= 0.9)
    info = {"version": "v", "threshold": 0.9, "score": {"range": [0.0, 1.0]}}
    view = results.batch_view(info, prediction, "a.csv", "a-scored.csv")
    bars = view["histogram"]["bars"]
    assert len(bars) == results.HISTOGRAM_BINS and sum(b["count"] for b in bars) == 6
    assert view["anomalies"] == "2" and view["share"] == "33.3%"
    assert [b["count"] for b in bars if b["above"]] == [0, 2]
    assert view["histogram"]["threshold"] == 360.0
    tallest = max(bars, key=lambda b: b["count"])
    assert tallest["height"] == results.HISTOGRAM_HEIGHT and tallest["y"] == 0
