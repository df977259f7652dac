"""The one result type of scoring, for every task, one row, a batch or a CSV chunk."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which
# tripled the cost of building one on the POST /prediction path (0.98 -> 0.33 us).
@dataclass(slots=True)
class Prediction:
    """What a model says about the rows it scored.

    From ``Scorer.predict_one`` each field holds one value; from ``predict_rows``
    and ``predict_frame``, a numpy array with one element per row. Fields that a
    task does not produce stay None.

    Attributes:
        anomaly_score: higher is more anomalous; its range and meaning are the
            detector's (``Detector.score_range``, ``score_meaning``).
        is_inlier: False where ``anomaly_score`` is above the bundle's threshold.
        raw_score: the detector's own score before the bundle's scale (equal to
            ``anomaly_score`` for a calibrated detector such as the Isolation Forest).
        label: supervised models: the predicted class name.
        confidence: supervised models: the calibrated probability of ``label``.
        probabilities: supervised models: every class's calibrated probability, in
            the order of ``ModelBundle.classes`` (shape (n_classes,) or (n_rows, n_classes)).
    """

    anomaly_score: Any
    is_inlier: Any
    raw_score: Any = None
    label: Any = None
    confidence: Any = None
    probabilities: Any = None

    def row(self, index: int) -> Prediction:
        """Row ``index`` of a batch prediction, with plain Python scalars."""

        def scalar(values: Any) -> Any:
            return None if values is None else values[index].item() if hasattr(
                values[index], "item") else values[index]  # fmt: skip

        return Prediction(
            scalar(self.anomaly_score),
            scalar(self.is_inlier),
            scalar(self.raw_score),
            scalar(self.label),
            scalar(self.confidence),
            None if self.probabilities is None else self.probabilities[index],
        )
