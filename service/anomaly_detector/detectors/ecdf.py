"""ECOD (Li et al., 2022) and COPOD (Li et al., 2020): tail probabilities from empirical CDFs.

For each input, how far into the left and the right tail of its training
distribution a value lies: ``U_l = -log F(x)`` and ``U_r = -log (1 - F(x-))`` from the
training ECDF, and a skewness-corrected ``U_skew`` that keeps the tail the feature
leans towards. As in PyOD 3.6: ECOD adds up, per input, the deeper of the two tails
``max(U_l, U_r)``; COPOD adds up ``max(U_skew, (U_l + U_r) / 2)``.

PyOD's versions are transductive: each ``decision_function`` call concatenates the
training rows with the rows to score and recomputes every ECDF, so one row costs as
much as the training set and its score depends on the other rows of its batch.
Here the training values are kept sorted (at most ``max_samples`` per input) and a
new row's ECDF is a binary search: ``F(x) = (#train <= x + 1) / (n + 1)``, exactly
what PyOD computes for that row scored alone. Training rows are scored leaving
themselves out, which equals PyOD's training scores.
"""

from __future__ import annotations

import numba
import numpy as np
from scipy.stats import skew

from anomaly_detector.detectors.base import Detector, Param
from anomaly_detector.detectors.parallel import CompiledRows

_ECOD, _COPOD = 0, 1


class _TailProbabilityDetector(Detector):
    """What ECOD and COPOD share: the fit, the state, and the compiled lookup."""

    rule = _ECOD
    params = (
        Param(
            "max_samples", 100_000, "training values kept per feature (a random sample beyond)", int
        ),  # fmt: skip
        Param("random_state", 42, "seed of that sample", int),
    )

    def fit(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.asarray(inputs, dtype=np.float64)
        limit = int(self.hyperparameters["max_samples"])
        sample = inputs
        if inputs.shape[0] > limit:
            rng = np.random.default_rng(self.hyperparameters["random_state"])
            sample = inputs[rng.choice(inputs.shape[0], limit, replace=False)]
        self.sorted_ = np.sort(sample, axis=0).T.copy()  # (n_features, n_kept)
        self.skew_sign_ = np.sign(np.nan_to_num(skew(sample, axis=0)))
        self.n_features_in_ = inputs.shape[1]
        if sample is inputs:  # every training row is in the ECDF: leave it out of its own
            out = np.empty(inputs.shape[0])
            _score_rows(inputs, self.sorted_, self.skew_sign_, self.rule, True, out)
            return out
        return self.score(inputs)

    def score(self, inputs: np.ndarray) -> np.ndarray:
        return self.compile().score_batch(inputs)

    def compile(self) -> CompiledTailProbability:
        return CompiledTailProbability(self.sorted_, self.skew_sign_, self.rule)


class ECODDetector(_TailProbabilityDetector):
    """Empirical-CDF outlier detection, parameter-free in effect."""

    name = "ecod"
    summary = (
        "ECOD: how deep each feature lies in its training tails; parameter-free, fast, "
        "strong where anomalies are extreme in some features"
    )
    raw_score_meaning = "sum over features of the deeper tail, -log p"
    rule = _ECOD


class COPODDetector(_TailProbabilityDetector):
    """Copula-based outlier detection: the largest of the left, right and skewed tail sums."""

    name = "copod"
    summary = (
        "COPOD: ECOD's predecessor; weighs each feature's skew-side tail, so it is gentler "
        "with the tail a feature naturally leans to"
    )
    raw_score_meaning = "sum over features of max(skew-side tail, mean of both tails), -log p"
    rule = _COPOD


class CompiledTailProbability(CompiledRows):
    """Sorted training values per input and a jitted binary search."""

    def __init__(self, sorted_values: np.ndarray, skew_sign: np.ndarray, rule: int) -> None:
        arguments = (sorted_values, skew_sign, rule, False)
        super().__init__((_score_rows, _score_one), arguments, sorted_values.shape[0])


@numba.njit(cache=True, nogil=True)
def _score_one(row, sorted_values, skew_sign, rule, leave_out):  # pragma: no cover - compiled
    n = sorted_values.shape[1]
    # A new row joins the n training values; a training row is already among them.
    extra = 0 if leave_out else 1
    total = 0.0
    for column in range(row.shape[0]):
        values = sorted_values[column]
        at_most = np.searchsorted(values, row[column], side="right") + extra
        at_least = n - np.searchsorted(values, row[column], side="left") + extra
        left = -np.log(at_most / (n + extra))
        right = -np.log(at_least / (n + extra))
        if rule == 0:
            total += max(left, right)
        else:
            sign = skew_sign[column]
            # PyOD's: U_l where skewed left, U_r where skewed right, both where symmetric.
            skewed = left * -np.sign(sign - 1.0) + right * np.sign(sign + 1.0)
            total += max(skewed, (left + right) / 2.0)
    return total


@numba.njit(cache=True, nogil=True)
def _score_rows(inputs, sorted_values, skew_sign, rule, leave_out, out):  # pragma: no cover
    for row in range(inputs.shape[0]):
        out[row] = _score_one(inputs[row], sorted_values, skew_sign, rule, leave_out)
