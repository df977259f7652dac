"""Scoring CSV files of any size in fixed-size chunks."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from anomaly_detector.bundle.io import load_bundle
from anomaly_detector.data.feature_schema import unreadable_notes
from anomaly_detector.data.reading import existing_file, read_csv_chunks
from anomaly_detector.errors import InputError
from anomaly_detector.files import atomic_write
from anomaly_detector.scoring.scored_frame import EXPLAIN_CHOICES, scored_frame, text_dtypes
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
    if explain not in (None, *EXPLAIN_CHOICES):
        raise InputError(
            "invalid_request", f"explain must be 'anomalies' or 'all', got {explain!r}"
        )
    data = existing_file(data)
    scorer = Scorer(load_bundle(model))
    text_columns = text_dtypes(scorer.schema)
    total = 0

    unreadable: dict[str, tuple[int, str]] = {}

    def write(handle: TextIO) -> None:
        nonlocal total
        for index, chunk in enumerate(read_csv_chunks(data, chunk_rows, text_columns)):
            for name, (count, first) in scorer.schema.unreadable_numbers(chunk).items():
                seen, example = unreadable.get(name, (0, first))
                unreadable[name] = (seen + count, example)
            chunk, _ = scored_frame(scorer, chunk, explain)
            chunk.to_csv(handle, header=index == 0, index=False)
            total += len(chunk)
            if progress is not None:
                progress.write(f"\rscored {total:,} rows")
                progress.flush()
        if progress is not None:
            progress.write("\n")
            for note in unreadable_notes(unreadable):
                progress.write(f"note: {note}\n")

    atomic_write(out, write, mode="w")
    return total
