"""Tests for chunked CSV scoring."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomaly_detector.batch.csv_scoring import score_csv
from anomaly_detector.data.reading import read_csv
from anomaly_detector.errors import BundleError, InputError


def _expected_scores(bundle, data: Path) -> np.ndarray:
    """What scikit-learn says about the file, read whole as training reads it."""
    return bundle.reference_scores(read_csv(data))


def test_output_is_every_input_row_plus_scores(trained_bundle, messy_csv, tmp_path) -> None:
    saved = trained_bundle(read_csv(messy_csv), label_column="label")
    out = tmp_path / "scored.csv"
    rows = score_csv(messy_csv, out, saved.model_path)

    original = read_csv(messy_csv)
    scored = read_csv(out)
    assert rows == len(original) == len(scored)
    assert list(scored.columns) == [*original.columns, "anomaly_score", "is_inlier"]
    pd.testing.assert_frame_equal(scored[original.columns], original)
    expected = _expected_scores(saved.bundle, messy_csv)
    np.testing.assert_allclose(scored["anomaly_score"], expected, rtol=0, atol=1e-9)
    threshold = saved.bundle.threshold
    np.testing.assert_array_equal(scored["is_inlier"], scored["anomaly_score"] <= threshold)


def test_small_chunks_give_the_same_file_as_one_chunk(trained_bundle, messy_csv, tmp_path):
    saved = trained_bundle(read_csv(messy_csv), label_column="label")
    whole, chunked = tmp_path / "whole.csv", tmp_path / "chunked.csv"
    score_csv(messy_csv, whole, saved.model_path, chunk_rows=1_000_000)
    progress = io.StringIO()
    rows = score_csv(messy_csv, chunked, saved.model_path, chunk_rows=7, progress=progress)
    assert rows == len(read_csv(messy_csv))
    one, many = read_csv(whole), read_csv(chunked)
    # Text that pandas parsed as numbers in some chunks ("-0.190") is written back as
    # numbers ("-0.19"); the values, and so the scores, are the same.
    for frame in (one, many):
        frame["amount_text"] = pd.to_numeric(frame["amount_text"], errors="coerce")
    pd.testing.assert_frame_equal(many, one, check_exact=True)
    assert f"scored {rows:,} rows" in progress.getvalue()


def test_chunks_without_any_text_keep_text_categories(trained_bundle, tmp_path) -> None:
    """A chunk holding only "007" and "012" must not read them as the numbers 7 and 12."""
    rng = np.random.default_rng(4)
    codes = rng.choice(["007", "012", "045"], 200).astype(object)
    codes[:30] = "A12"  # the only non-numeric codes, all in the first chunks
    data = tmp_path / "codes.csv"
    pd.DataFrame({"code": codes, "x": rng.normal(size=200)}).to_csv(data, index=False)
    saved = trained_bundle(read_csv(data))
    assert saved.bundle.schema.features[0].kind == "categorical"

    out = tmp_path / "scored.csv"
    score_csv(data, out, saved.model_path, chunk_rows=7)
    scored = pd.read_csv(out, dtype={"code": str})
    assert scored["code"].tolist() == codes.tolist()
    np.testing.assert_allclose(
        scored["anomaly_score"], _expected_scores(saved.bundle, data), rtol=0, atol=1e-9
    )


def test_missing_model_columns_are_named_and_nothing_is_written(
    trained_bundle, traffic_frame, tmp_path
) -> None:
    saved = trained_bundle()
    data = tmp_path / "partial.csv"
    traffic_frame.drop(columns=["request_rate", "bytes_in"]).to_csv(data, index=False)
    out = tmp_path / "scored.csv"
    with pytest.raises(InputError) as caught:
        score_csv(data, out, saved.model_path)
    assert "'request_rate', 'bytes_in'" in caught.value.message
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle-1", "partial.csv"]


def test_missing_data_file(trained_bundle, tmp_path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        score_csv(tmp_path / "absent.csv", tmp_path / "out.csv", trained_bundle().model_path)


def test_unusable_model_file(messy_csv, tmp_path) -> None:
    model = tmp_path / "model.joblib"
    model.write_bytes(b"not a model")
    with pytest.raises(BundleError):
        score_csv(messy_csv, tmp_path / "out.csv", model)


def test_supervised_columns_and_explanations_of_the_flagged_rows(tmp_path) -> None:
    from anomaly_detector.bundle.io import save_bundle
    from factories import labelled_traffic, train_supervised_small

    bundle = train_supervised_small().bundle
    model_path, _ = save_bundle(bundle, tmp_path / "model")
    data = tmp_path / "rows.csv"
    labelled_traffic(n_rows=300, seed=9, contamination=0.2).to_csv(data, index=False)
    out = tmp_path / "scored.csv"
    assert score_csv(data, out, model_path, chunk_rows=120, explain="anomalies") == 300
    scored = read_csv(out)
    probabilities = scored[[f"p_{name}" for name in bundle.classes]]
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-9)
    flagged = scored["is_inlier"].astype(str) == "False"
    assert flagged.any() and (~flagged).any()
    assert scored.loc[flagged, "explanation"].str.startswith("flagged mainly because").all()
    assert scored.loc[~flagged, "explanation"].isna().all()  # only anomalies are explained
    first = scored.loc[flagged, "top_contributions"].iloc[0].split(";")[0]
    assert first.split(":")[0] in bundle.schema.names and float(first.split(":")[1]) > 0
    with pytest.raises(InputError, match="explain must be"):
        score_csv(data, out, model_path, explain="some")


def test_text_in_a_number_column_is_counted_across_chunks_and_said(
    trained_bundle, messy_csv, tmp_path
) -> None:
    saved = trained_bundle(read_csv(messy_csv), label_column="label")
    assert "amount_text" in saved.bundle.schema.names  # a numeric column stored as text
    progress = io.StringIO()
    score_csv(messy_csv, tmp_path / "o.csv", saved.model_path, chunk_rows=40, progress=progress)
    notes = [line for line in progress.getvalue().splitlines() if line.startswith("note:")]
    # "n/a" is a missing value to pandas; "?" and "--" are text.
    assert notes == [
        "note: 2 cell(s) of amount_text were not numbers (first: '?'); scored as missing"
    ]
