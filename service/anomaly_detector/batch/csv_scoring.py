"""Scoring CSV files of any size in fixed-size chunks."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

import pandas as pd

from anomaly_detector.bundle.io import load_bundle
from anomaly_detector.data.reading import existing_file, read_csv_chunks
from anomaly_detector.errors import InputError
from anomaly_detector.files import atomic_write
from anomaly_detector.scoring.scorer import Scorer


def score_csv(
    data: str | Path,
    out: str | Path,
    model: str | Path,
    chunk_rows: int = 100_000,
    progress: TextIO | None = None,
    explain: str | None = None,
) -> int:
    """Write ``out`` = every input row plus ``anomaly_score``, ``is_inlier`` and, for a
    scaled detector, ``raw_score``; for a supervised one ``label``, ``confidence`` and
    ``p_<class>`` per class.

    Reads ``chunk_rows`` rows at a time, so memory does not grow with the file.
    The output appears atomically when complete.

    Args:
        explain: ``anomalies`` (rows not inlier) or ``all``: add ``explanation`` (the
            sentence) and ``top_contributions`` (``feature:+value`` for the three largest
            pushes). One to twenty milliseconds per explained row.

    Returns:
        The number of rows scored.

    Raises:
        InputError: the CSV is missing, unreadable or lacks the model's columns.
        BundleError: the model file is not a usable bundle.
    """
    if explain not in (None, "anomalies", "all"):
        raise InputError(
            "invalid_request", f"explain must be 'anomalies' or 'all', got {explain!r}"
        )
    data = existing_file(data)
    scorer = Scorer(load_bundle(model))
    # pandas infers dtypes per chunk: a chunk holding only "007" and "012" of a text
    # column would become the integers 7 and 12, unknown categories. Text categoricals
    # are read as text; bool ones are left to pandas, which parses true/True/TRUE alike.
    text_columns = {
        f.name: str
        for f in scorer.schema.features
        if f.is_categorical and not set(f.categories) <= {"True", "False"}
    }
    total = 0

    def write(handle: TextIO) -> None:
        nonlocal total
        for index, chunk in enumerate(read_csv_chunks(data, chunk_rows, text_columns)):
            prediction = scorer.predict_frame(chunk)
            chunk = chunk.assign(
                anomaly_score=prediction.anomaly_score, is_inlier=prediction.is_inlier
            )
            if scorer.scale is not None:
                chunk = chunk.assign(raw_score=prediction.raw_score)
            if prediction.label is not None:
                chunk = chunk.assign(label=prediction.label, confidence=prediction.confidence)
                for i, name in enumerate(scorer.classes):
                    chunk[f"p_{name}"] = prediction.probabilities[:, i]
            if explain is not None:
                chunk = _with_explanations(scorer, chunk, prediction, explain == "all")
            chunk.to_csv(handle, header=index == 0, index=False)
            total += len(chunk)
            if progress is not None:
                progress.write(f"\rscored {total:,} rows")
                progress.flush()
        if progress is not None:
            progress.write("\n")

    atomic_write(out, write, mode="w")
    return total


def _with_explanations(scorer: Scorer, chunk: pd.DataFrame, prediction, every_row: bool):
    """``chunk`` plus ``explanation`` and ``top_contributions`` (empty where not explained)."""
    inputs = scorer.schema.coerce_frame(chunk)
    rows = inputs.astype(object).where(inputs.notna(), None).to_numpy().tolist()
    sentences, tops = [""] * len(rows), [""] * len(rows)
    for i, row in enumerate(rows):
        if every_row or not prediction.is_inlier[i]:
            explained = scorer.explain(row, prediction.row(i))
            sentences[i] = explained.sentence
            tops[i] = ";".join(
                f"{f['name']}:{f['contribution']:+.4g}" for f in explained.features[:3]
            )
    return chunk.assign(explanation=sentences, top_contributions=tops)
