"""Scoring CSV files of any size in fixed-size chunks."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from anomaly_detector.bundle.io import load_bundle
from anomaly_detector.data.reading import existing_file, read_csv_chunks
from anomaly_detector.files import atomic_write
from anomaly_detector.scoring.scorer import Scorer


def score_csv(
    data: str | Path,
    out: str | Path,
    model: str | Path,
    chunk_rows: int = 100_000,
    progress: TextIO | None = None,
) -> int:
    """Write ``out`` = every input row plus ``anomaly_score``, ``is_inlier`` and, for a
    scaled detector, ``raw_score``.

    Reads ``chunk_rows`` rows at a time, so memory does not grow with the file.
    The output appears atomically when complete.

    Returns:
        The number of rows scored.

    Raises:
        InputError: the CSV is missing, unreadable or lacks the model's columns.
        BundleError: the model file is not a usable bundle.
    """
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
            chunk.to_csv(handle, header=index == 0, index=False)
            total += len(chunk)
            if progress is not None:
                progress.write(f"\rscored {total:,} rows")
                progress.flush()
        if progress is not None:
            progress.write("\n")

    atomic_write(out, write, mode="w")
    return total
