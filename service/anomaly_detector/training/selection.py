"""``--detector auto``: choosing a detector, with labels when there are some.

Label-free model selection is not reliable (Ma et al., "The need for unsupervised
outlier model selection", 2023), but a handful of labels is. So:

* with a labelled hold-out (``--test`` with ``--label-column``), the hold-out is split
  in two, stratified by label: every detector is fitted on the training rows with
  each parameter set of its small ``search_space``, the candidates are ranked by
  PR-AUC on the *validation* half, and the evaluation reported for the winner is
  on the other half only, which took no part in the choice;
* without labels, ``auto`` is ``UNLABELLED_CHOICE``, the default detector: the one
  with the best mean ROC-AUC over ``make bench-quality``'s suite (see
  ``bench/results-quality.md``), never a choice made on the data at hand.

Every candidate's figures are recorded in ``model.json`` under ``selection``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from anomaly_detector.bundle.model import ModelBundle
from anomaly_detector.detectors import registry
from anomaly_detector.detectors.base import jsonable
from anomaly_detector.errors import InputError
from anomaly_detector.scoring.scorer import Scorer
from anomaly_detector.training.evaluation import evaluate
from anomaly_detector.training.fitting import Prepared, fit_bundle

AUTO = "auto"
# The unlabelled choice, from the suite's mean ROC-AUC (bench/results-quality.md).
UNLABELLED_CHOICE: tuple[str, Mapping[str, Any]] = (registry.DEFAULT_DETECTOR, {})
# Below this many anomalies in either half of the hold-out, PR-AUC is too noisy to
# choose on, and auto falls back to the unlabelled choice (and says so).
MIN_ANOMALIES_PER_HALF = 3
# Share of the labelled hold-out used to choose; the rest is reported on.
VALIDATION_SHARE = 0.5
SEED = 42

Progress = Callable[[str], None]


@dataclass
class Selection:
    """The chosen bundle, the rows to report on, and the record for ``model.json``."""

    bundle: ModelBundle
    training_scores: np.ndarray
    report_rows: pd.DataFrame | None
    record: dict[str, Any] = field(default_factory=dict)


def candidates() -> list[tuple[str, dict[str, Any]]]:
    """Every (detector, parameters) pair auto tries: each search space of each detector."""
    pairs = []
    for name in registry.trainable():
        cls = registry.detector_class(name)
        if cls.task != "unsupervised" or cls.adopts_any:
            continue
        pairs.extend((name, dict(params)) for params in cls.search_space)
    return pairs


def split_holdout(
    holdout: pd.DataFrame, is_anomaly: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray] | None:
    """Validation and report halves, stratified; None when either is short of anomalies."""
    anomalies = int(is_anomaly.sum())
    if min(anomalies, len(is_anomaly) - anomalies) < 2 * MIN_ANOMALIES_PER_HALF:
        return None
    positions = np.arange(len(holdout))
    choose, report = train_test_split(
        positions, train_size=VALIDATION_SHARE, stratify=is_anomaly, random_state=SEED
    )
    return (holdout.iloc[choose], is_anomaly[choose], holdout.iloc[report], is_anomaly[report])


def select(
    prepared: Prepared,
    contamination: float | None,
    holdout: pd.DataFrame | None = None,
    is_anomaly: np.ndarray | None = None,
    progress: Progress | None = None,
) -> Selection:
    """Fit the candidates and keep the best on the validation half (or the unlabelled choice)."""
    say = progress or (lambda _message: None)
    halves = None if holdout is None else split_holdout(holdout, np.asarray(is_anomaly, bool))
    if halves is None:
        name, params = UNLABELLED_CHOICE
        reason = (
            "no labelled hold-out (--test with --label-column)"
            if holdout is None
            else f"fewer than {2 * MIN_ANOMALIES_PER_HALF} anomalies (or normal rows) "
            "in the labelled hold-out"
        )
        say(f"auto: {reason}; using {name}, the best mean ROC-AUC of the quality suite")
        bundle, scores = fit_bundle(prepared, name, params, contamination)
        record = {"strategy": "unlabelled default", "reason": reason, "chosen": name}
        return Selection(bundle, scores, holdout, record)
    validation, validation_truth, report, _ = halves
    pairs = candidates()
    best: tuple[float, ModelBundle, np.ndarray] | None = None
    figures = []
    for index, (name, params) in enumerate(pairs, start=1):
        started = time.perf_counter()
        try:
            with warnings.catch_warnings():
                # A search space's row counts may exceed small data; the library then
                # uses every row, which is the right thing, and says so for each fit.
                warnings.filterwarnings("ignore", message="max_samples .* is greater than")
                bundle, scores = fit_bundle(prepared, name, params, contamination)
        except InputError as exc:
            figures.append({"detector": name, "params": params, "error": exc.message})
            say(f"auto [{index}/{len(pairs)}] {name} {_text(params)}: skipped ({exc.message})")
            continue
        fit_seconds = time.perf_counter() - started
        metrics = evaluate(
            Scorer(bundle).predict_frame(validation).anomaly_score,
            validation_truth,
            bundle.threshold,
        )
        figures.append(
            {
                "detector": name,
                "params": {k: jsonable(v) for k, v in params.items()},
                "validation_pr_auc": metrics["pr_auc"],
                "validation_roc_auc": metrics["roc_auc"],
                "fit_seconds": round(fit_seconds, 3),
            }
        )
        say(
            f"auto [{index}/{len(pairs)}] {name} {_text(params)}: validation PR-AUC "
            f"{metrics['pr_auc']:.3f}, ROC-AUC {metrics['roc_auc']:.3f} ({fit_seconds:.1f} s)"
        )
        if best is None or metrics["pr_auc"] > best[0]:
            best = (metrics["pr_auc"], bundle, scores)
    if best is None:
        raise InputError("invalid_request", "auto: no detector could be fitted on this data")
    _, bundle, scores = best
    record = {
        "strategy": "validation PR-AUC",
        "validation_rows": int(len(validation)),
        "validation_anomalies": int(validation_truth.sum()),
        "report_rows": int(len(report)),
        "chosen": bundle.detector_name,
        "chosen_params": bundle.metadata["params"],
        "candidates": figures,
    }
    say(
        f"auto: chose {bundle.detector_name} {_text(bundle.metadata['params'])}; its "
        f"evaluation below is on the {len(report)} hold-out rows not used to choose"
    )
    return Selection(bundle, scores, report, record)


def _text(params: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items()) or "(defaults)"
