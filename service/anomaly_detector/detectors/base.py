"""The detector protocol: what every model family implements, in the shape of PyOD's.

A detector is fitted on a matrix of preprocessed inputs and scores rows; higher
scores are more anomalous. Everything else in the package (training, the bundle,
the scorer, the canary, metrics buckets, the CLI and the API) reads what a detector
declares here, and names a detector only through ``registry``.

Fitted state is kept in attributes ending in ``_`` (scikit-learn's convention).
A bundle stores a detector as ``{"name", "params", "state"}``, where ``state`` is
those attributes: plain arrays and library estimators, never this module's
classes. So model files do not depend on where a detector class lives, and skops
can load them with a short allow-list.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

import numpy as np

from anomaly_detector.detectors import scale

Task = Literal["unsupervised", "supervised", "timeseries"]
# Share of training rows a scaled detector flags when no contamination is given:
# the contamination of the default model (make model).
DEFAULT_CONTAMINATION = 0.03


@dataclass(frozen=True)
class Param:
    """One hyperparameter: its default, how to read it from text, and what it does."""

    name: str
    default: Any
    help: str
    parse: Callable[[str], Any] = float


class CompiledDetector(Protocol):
    """A fitted detector's hot-path form, built once at load time.

    Both methods take preprocessed float64 inputs and must return exactly what
    ``Detector.score`` returns for them (the canary holds them to 1e-9).
    """

    def score_batch(self, inputs: np.ndarray) -> np.ndarray:
        """Scores of a 2-D array of rows."""
        ...

    def score_row(self, inputs: np.ndarray) -> float:
        """Score of one 1-D row (the ``POST /prediction`` path)."""
        ...


class Detector(ABC):
    """Base class of every detector.

    Subclasses set the class attributes below and implement ``fit`` and ``score``;
    ``compile`` is optional (without it the scorer calls ``score``). ``fit``,
    ``score`` and ``compile`` deal in *raw* scores, in the detector's own units.

    Attributes:
        name: the registry key, as users type it (``--detector NAME``).
        task: ``unsupervised`` (fit on rows alone); ``supervised`` and ``timeseries``
            come later.
        summary: one line on what the detector does and when it works well.
        params: the hyperparameters and their defaults.
        raw_score_meaning: what a raw score is (a distance, a log-density, ...).
        calibrated: the raw score is already the anomaly score people see (the
            Isolation Forest's paper score). Otherwise training fits a
            ``scale.PercentileScale`` on the training rows' raw scores, and the
            anomaly score is that training percentile, in [0, 1).
        score_range: (low, high) every anomaly score lies in; the canary checks it.
        score_meaning: what an anomaly score means, for ``/model_information``.
        score_buckets: histogram bucket bounds that resolve the usual anomaly scores.
        default_threshold: the threshold when no contamination is given (0.5, the
            paper's, for the Isolation Forest; ``1 - DEFAULT_CONTAMINATION`` on the
            percentile scale); None: training requires a contamination.
        search_space: the few parameter sets ``--detector auto`` tries (each
            merged over the defaults; ``{}`` is the defaults). Keep it small: auto
            fits every entry of every detector.
        skops_types: library types (beyond skops' own) the fitted state holds.
        adopts_any: this class takes any outlier estimator that no other class
            ``adopts`` (the registry asks it last).
    """

    name: ClassVar[str]
    task: ClassVar[Task] = "unsupervised"
    summary: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    raw_score_meaning: ClassVar[str] = "higher is more anomalous"
    calibrated: ClassVar[bool] = False
    score_range: ClassVar[tuple[float, float]] = (0.0, 1.0)
    score_meaning: ClassVar[str] = scale.MEANING
    score_buckets: ClassVar[tuple[float, ...]] = scale.BUCKETS
    default_threshold: ClassVar[float | None] = 1.0 - DEFAULT_CONTAMINATION
    search_space: ClassVar[tuple[Mapping[str, Any], ...]] = ({},)
    skops_types: ClassVar[tuple[str, ...]] = ()
    adopts_any: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        known = {param.name: param.default for param in self.params}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ValueError(
                f"{self.name} has no parameter(s) {', '.join(unknown)}; "
                f"it takes: {', '.join(known) or 'none'}"
            )
        self.hyperparameters: dict[str, Any] = {**known, **params}

    @abstractmethod
    def fit(self, inputs: np.ndarray) -> np.ndarray:
        """Fit on preprocessed training inputs; return their raw scores.

        Returning the scores lets training set the threshold and the drift
        reference without scoring the training rows a second time.
        """

    @abstractmethod
    def score(self, inputs: np.ndarray) -> np.ndarray:
        """Raw scores of preprocessed inputs through the fitting libraries (reference path)."""

    def compile(self) -> CompiledDetector | None:
        """The hot-path form of the fitted detector, or None to score through ``score``."""
        return None

    def explainer(self) -> Any | None:
        """Exact per-input contributions (``explain_row``, ``output_meaning``), or None.

        Tree models return their TreeSHAP explainer (``detectors.trees``); None makes
        ``scoring.explanation`` fall back to baseline Shapley values of the raw score.
        """
        return None

    @property
    def n_features(self) -> int:
        """Number of preprocessed inputs the detector was fitted on."""
        return int(self.n_features_in_)

    def state(self) -> dict[str, Any]:
        """The fitted attributes (names ending in ``_``), as the bundle stores them."""
        return {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")}

    @classmethod
    def from_state(cls, params: Mapping[str, Any], state: Mapping[str, Any]) -> Detector:
        """Rebuild a fitted detector from ``params`` and ``state()`` output."""
        detector = cls(**dict(params))
        for key, value in state.items():
            if not key.endswith("_"):
                raise ValueError(f"{cls.name}: state key {key!r} is not a fitted attribute")
            setattr(detector, key, value)
        return detector

    @classmethod
    def adopts(cls, estimator: Any) -> bool:
        """Whether ``from_estimator`` can wrap this fitted library estimator."""
        return False

    @classmethod
    def from_estimator(cls, estimator: Any) -> Detector:
        """Wrap a library estimator fitted elsewhere (a plain ``joblib.dump``, a v1 bundle)."""
        raise NotImplementedError(f"{cls.name} does not adopt fitted estimators")

    def describe(self) -> dict[str, Any]:
        """What ``/model_information`` and ``model.json`` say about this detector."""
        return {
            "name": self.name,
            "task": self.task,
            "params": {k: jsonable(v) for k, v in self.hyperparameters.items()},
            "score_range": [jsonable(v) for v in self.score_range],
            "score_meaning": self.score_meaning,
            "raw_score_meaning": self.raw_score_meaning,
            "calibrated": self.calibrated,
        }


def jsonable(value: Any) -> Any:
    """A parameter or metadata value as JSON: numpy scalars unwrapped, odd objects as repr.

    Infinities become strings: JSON has no literal for them.
    """
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)
