"""The model card and the form (serving/ui/card.py) from /model_information's dict."""

from __future__ import annotations

from anomaly_detector.serving.ui import card

INFO = {
    "version": "v1",
    "task": "unsupervised",
    "detector": "isolation_forest",
    "threshold": 0.6,
    "decision": {"threshold": 0.6, "contamination": 0.05},
    "features": [
        {"name": "kind", "kind": "categorical", "categories": ["a", "b", "c"]},
        {"name": "bytes", "kind": "log_numeric"},
        {"name": "rate", "kind": "numeric"},
    ],
    "feature_stats": {
        "kind": {"mode": "b", "top": {"b": 60, "a": 30, "c": 10}, "missing": 0.0},
        "bytes": {"median": 2048.0, "q01": 12.0, "q99": 1.5e6, "missing": 0.02},
        "rate": {"median": 0.5, "q01": 0.0, "q99": 3.25, "missing": 0.0},
    },
    "evaluation": {"test": {"rows": 100, "roc_auc": 0.9123, "alert_rate": 0.05, "f1": None}},
    "thresholds": {
        "recommendations": {
            "best_f1": {"threshold": 0.55, "precision": 0.8, "recall": 0.7, "f1": 0.75,
                        "alert_rate": 0.06},
            "min_precision": None,
        },
        "baselines": {"default": {"threshold": 0.6, "precision": 0.9, "recall": 0.5, "f1": 0.64,
                                  "alert_rate": 0.04}},
    },
    "examples": {"anomaly": {"split": "test", "features": {"kind": "c", "bytes": 9.5e7,
                                                            "rate": None}}},
}  # fmt: skip


def test_features_show_their_kind_and_what_training_saw():
    rows = {row["name"]: row for row in card.model_card(INFO, {})["features"]}
    assert rows["kind"]["training"] == "b (60%), a (30%), c (10%)"
    assert rows["bytes"]["kind"] == "number, heavy-tailed"
    assert rows["bytes"]["training"] == "median 2,048; 1%–99%: 12 to 1,500,000"
    assert rows["bytes"]["missing"] == "2.0%" and rows["rate"]["missing"] is None


def test_evaluation_and_thresholds_are_tables():
    model = card.model_card(INFO, {"API docs": "/docs"})
    assert model["evaluation"]["splits"] == ["test"]
    figures = dict(model["evaluation"]["rows"])
    # F1 is None in every split (not computed): no row for it.
    assert figures == {"rows": ["100"], "ROC-AUC": ["0.9123"], "alert rate": ["5.0%"]}
    rows = {row["name"]: row for row in model["thresholds"]}
    assert set(rows) == {"best F1", "default"}  # a recommendation that does not exist: none
    assert rows["default"]["current"] and not rows["best F1"]["current"]
    assert rows["best F1"]["figures"] == ["0.8", "0.7", "0.75", "6.0%"]
    assert model["links"] == {"API docs": "/docs"} and model["contamination"] == 0.05


def test_form_fields_carry_placeholders_hints_and_fill_values():
    fields = {field["name"]: field for field in card.form_fields(INFO)}
    assert fields["kind"]["categorical"] and fields["kind"]["categories"] == ["a", "b", "c"]
    assert fields["kind"]["typical"] == "b" and fields["kind"]["anomaly"] == "c"
    assert fields["bytes"]["placeholder"] == "2,048" and fields["bytes"]["typical"] == "2048"
    assert fields["bytes"]["anomaly"] == "95000000"
    assert fields["rate"]["hint"] == "training range 0 to 3.25; empty: missing"
    assert fields["rate"]["anomaly"] == ""  # missing in the example: left empty
    assert card.example_source(INFO) == "test"


def test_a_model_without_statistics_or_examples_hides_what_it_lacks():
    # A plain scikit-learn dump: features only, nothing learnt about them.
    bare = {"version": "v0", "detector": "sklearn_outlier", "threshold": 0.0,
            "features": [{"name": "x0", "kind": "numeric"}]}  # fmt: skip
    (field,) = card.form_fields(bare)
    assert field["placeholder"] == "" and field["typical"] is None and field["anomaly"] is None
    assert card.example_source(bare) is None
    model = card.model_card(bare, {})
    assert model["features"][0]["training"] == "—"
    assert model["evaluation"]["rows"] == [] and model["thresholds"] == []


def test_the_training_time_is_shown_in_minutes_and_utc():
    info = {**INFO, "created_at": "2026-12-02T16:25:44.408522+01:00"}
    assert card.model_card(info, {})["created_at"] == "2026-12-02 15:25 UTC"
    assert card.model_card({**INFO, "created_at": None}, {})["created_at"] is None


def test_the_threshold_table_says_which_rows_its_figures_come_from():
    def said(chosen_on):
        return card.model_card({**INFO, "thresholds": {"chosen_on": chosen_on}}, {})[
            "thresholds_on"
        ]

    assert said({"split": "test", "rows": 800, "anomalies": 80}) == (
        "the test rows (800 rows, 80 anomalous)"
    )
    supervised = {"split": "out-of-fold training rows and validation rows", "rows": 2000,
                  "anomalies": 200}  # fmt: skip
    assert said(supervised) == (
        "the out-of-fold training rows and validation rows (2,000 rows, 200 anomalous)"
    )
    assert said({"rows": 50}) == "labelled rows (50 rows)"
    assert said({}) is None
