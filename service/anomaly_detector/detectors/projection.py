"""PCA reconstruction error, after Shyu, Chen, Sarinnapakorn and Chang (2003).

The inputs are standardized (training median and IQR, ``standardization``) and a
principal component analysis keeps the major components: those explaining
``n_components`` of the variance, or that many. A row's raw score is its squared
reconstruction error in the standardized space, ``||z - inverse_transform(transform(z))||^2``,
which is the sum of its squared coordinates on the discarded minor components: Shyu
et al.'s minor-component score without their weighting by eigenvalue. It is high
for a row that breaks the correlations of the training rows, even when each input
on its own looks ordinary. All components would leave no error but rounding, so a
share that only all of them reach keeps all but the last.

scikit-learn's ``PCA`` fits, and its ``transform`` and ``inverse_transform`` are the
reference path. They validate their input on every call, which costs more than the
arithmetic of one row; the compiled form does the same two projections with the
fitted ``mean_`` and ``components_`` in one jitted loop per row (so a row scores
the same alone as in any batch), in scikit-learn's order: project, subtract the
projected mean, project back, add the mean.
"""

from __future__ import annotations

import numbers

import numba
import numpy as np
from sklearn.decomposition import PCA

from anomaly_detector.detectors.base import Detector, Param
from anomaly_detector.detectors.parallel import CompiledRows
from anomaly_detector.detectors.standardization import fit_robust, standardize

_N_COMPONENTS = (
    "n_components must be a count of components (an integer from 1) or the share of "
    "variance to keep (a fraction strictly between 0 and 1)"
)


def parse_n_components(text: str) -> int | float:
    """A count of components (``3``) or the share of variance to keep (``0.95``)."""
    try:
        value: int | float = int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
    if not (value >= 1 if isinstance(value, int) else 0.0 < value < 1.0):
        raise ValueError(f"{_N_COMPONENTS}, got {text!r}")
    return value


def checked_n_components(value: object, n_inputs: int) -> int | float:
    """``value`` as PCA takes it, or a ValueError saying what n_components may be."""
    if isinstance(value, str):
        value = parse_n_components(value)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if not 1 <= value < n_inputs:
            raise ValueError(
                f"n_components={value}, but a PCA of {n_inputs} inputs keeps 1 to "
                f"{n_inputs - 1} components (all {n_inputs} leave no reconstruction error)"
            )
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and 0.0 < value < 1.0:
        return float(value)
    raise ValueError(f"{_N_COMPONENTS}, got {value!r}")


class PCADetector(Detector):
    """Energy outside the major principal components."""

    name = "pca"
    summary = (
        "PCA: squared reconstruction error outside the major principal components; fast, "
        "strong on rows that break the correlations between features"
    )
    params = (
        Param(
            "n_components",
            0.95,
            "components kept: a share of the variance (0.95) or a count (3)",
            parse_n_components,
        ),
        Param("random_state", 42, "seed of PCA's randomized solvers", int),
    )
    raw_score_meaning = (
        "squared reconstruction error of the robustly standardized row, "
        "||z - inverse_transform(transform(z))||^2"
    )
    search_space = ({}, {"n_components": 0.8}, {"n_components": 0.99})

    def fit(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.asarray(inputs, dtype=np.float64)
        n_inputs = inputs.shape[1]
        if n_inputs < 2:
            raise ValueError(f"pca needs at least 2 inputs, got {n_inputs}")
        n_components = checked_n_components(self.hyperparameters["n_components"], n_inputs)
        seed = int(self.hyperparameters["random_state"])
        self.centre_, self.scale_ = fit_robust(inputs)
        standardized = standardize(inputs, self.centre_, self.scale_)
        self.estimator_ = PCA(n_components=n_components, random_state=seed).fit(standardized)
        if self.estimator_.n_components_ == n_inputs:  # a share only every component reaches
            self.estimator_ = PCA(n_components=n_inputs - 1, random_state=seed).fit(standardized)
        self.n_features_in_ = n_inputs
        return self.compile().score_batch(inputs)

    def score(self, inputs: np.ndarray) -> np.ndarray:
        standardized = standardize(inputs, self.centre_, self.scale_)
        rebuilt = self.estimator_.inverse_transform(self.estimator_.transform(standardized))
        return np.sum((standardized - rebuilt) ** 2, axis=1)

    def compile(self) -> CompiledPCA:
        return CompiledPCA(self.centre_, self.scale_, self.estimator_)


class CompiledPCA(CompiledRows):
    """The standardization and the fitted projection as arrays, and a jitted loop."""

    def __init__(self, centre: np.ndarray, scale: np.ndarray, pca: PCA) -> None:
        components = np.ascontiguousarray(pca.components_, dtype=np.float64)
        mean = np.ascontiguousarray(pca.mean_, dtype=np.float64)
        # scikit-learn's transform subtracts the projected mean after projecting.
        projected_mean = np.ascontiguousarray((mean.reshape(1, -1) @ components.T)[0])
        arguments = (centre, scale, mean, components, projected_mean)
        super().__init__((_score_rows, _score_one), arguments, mean.shape[0])


@numba.njit(cache=True, nogil=True)
def _score_one(row, centre, scale, mean, components, projected_mean):  # pragma: no cover
    n_inputs = row.shape[0]
    n_components = components.shape[0]
    standardized = np.empty(n_inputs)
    for i in range(n_inputs):
        standardized[i] = (row[i] - centre[i]) / scale[i]
    coordinates = np.empty(n_components)
    for j in range(n_components):
        total = 0.0
        for i in range(n_inputs):
            total += standardized[i] * components[j, i]
        coordinates[j] = total - projected_mean[j]
    error = 0.0
    for i in range(n_inputs):
        rebuilt = 0.0
        for j in range(n_components):
            rebuilt += coordinates[j] * components[j, i]
        residual = standardized[i] - (rebuilt + mean[i])
        error += residual * residual
    return error


@numba.njit(cache=True, nogil=True)
def _score_rows(inputs, centre, scale, mean, components, projected_mean, out):  # pragma: no cover
    for row in range(inputs.shape[0]):
        out[row] = _score_one(inputs[row], centre, scale, mean, components, projected_mean)
