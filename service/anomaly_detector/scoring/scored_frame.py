"""What a scored table holds: the input columns plus the model's answer for each row.

Shared by ``anomaly-detector score`` (a CSV of any size, in chunks) and the web page's
upload, so a file scored either way has the same columns and values.
"""

from __future__ import annotations

import pandas as pd

from anomaly_detector.data.feature_schema import FeatureSchema
from anomaly_detector.scoring.prediction import Prediction
from anomaly_detector.scoring.scorer import Scorer

EXPLAIN_CHOICES = ("anomalies", "all")


def text_dtypes(schema: FeatureSchema) -> dict[str, type]:
    """Columns to read as text from a CSV: the text categoricals.

    pandas infers dtypes per chunk: a chunk holding only "007" and "012" of a text
    column would become the integers 7 and 12, unknown categories. Bool categoricals
    are left to pandas, which parses true/True/TRUE alike.
    """
    return {
        f.name: str
        for f in schema.features
        if f.is_categorical and not set(f.categories) <= {"True", "False"}
    }


def scored_frame(
    scorer: Scorer, frame: pd.DataFrame, explain: str | None = None
) -> tuple[pd.DataFrame, Prediction]:
    """``frame`` plus ``anomaly_score``, ``is_inlier`` and, for a scaled detector,
    ``raw_score``; for a supervised one ``label``, ``confidence`` and ``p_<class>``.

    Args:
        explain: ``anomalies`` (rows not inlier) or ``all``: add ``explanation`` (the
            sentence) and ``top_contributions`` (``feature:+value`` for the three
            largest pushes).

    Returns:
        The scored frame and the prediction it was built from.

    Raises:
        InputError: a schema column is absent (see ``Scorer.predict_frame``).
    """
    prediction = scorer.predict_frame(frame)
    scored = frame.assign(anomaly_score=prediction.anomaly_score, is_inlier=prediction.is_inlier)
    if scorer.scale is not None:
        scored = scored.assign(raw_score=prediction.raw_score)
    if prediction.label is not None:
        scored = scored.assign(label=prediction.label, confidence=prediction.confidence)
        for i, name in enumerate(scorer.classes):
            scored[f"p_{name}"] = prediction.probabilities[:, i]
    if explain is not None:
        scored = _with_explanations(scorer, scored, prediction, explain == "all")
    return scored, prediction


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
