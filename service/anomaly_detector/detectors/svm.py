"""One-class SVM (Schoelkopf et al., 2001): a boundary around the data in an RBF kernel space.

The SVM separates the robust-standardized training rows from the origin in the
feature space of the kernel ``k(x, y) = exp(-gamma ||x - y||^2)``, leaving out
about a share ``nu`` of them; the raw score is ``-decision_function``, how far a
row lies outside that boundary (positive outside, negative inside). Two fits:

- ``exact``: scikit-learn's ``OneClassSVM`` (libsvm). Its training time grows with
  the square of the rows or worse, so it is for up to ``max_exact_rows`` of them.
- ``approx``: the Nystroem map onto ``n_components`` kernel features, with a
  linear one-class SVM fitted by stochastic gradient descent (``SGDOneClassSVM``);
  100,000 rows train in seconds.

``auto`` picks ``exact`` up to ``max_exact_rows`` training rows, else ``approx``.
scikit-learn's scoring goes through input checks and, for the exact SVM, libsvm's
per-call setup, which cost more than the arithmetic of one row. The compiled form
evaluates the same expansion from the fitted arrays in a jitted loop instead:
``sum_i a_i k(x, sv_i) + b`` over the support vectors for the exact SVM (libsvm's
order of operations, so the scores are the same floats); for the approximation,
``coef . phi - offset`` with the Nystroem features ``phi = normalization k(x, c)``,
which is ``sum_i w_i k(x, c_i) - offset`` over the components with
``w = coef normalization`` folded once at compile time: a 300-term sum per row
instead of a 300 x 300 product.

Nystroem's ``normalization_`` is the inverse square root of the components' kernel
matrix, whose singular values it clips at 1e-12 only. On low-rank or duplicated
data that multiplies rounding noise by up to 1e6, and a score then changes in its
tenth digit with the order of a sum (BLAS's or any other), beyond the 1e-9 the
canary allows. The fit drops the directions below ``RANK_TOLERANCE`` times the
largest singular value from ``normalization_`` (a rank-truncated Nystroem map;
they carry rounding noise, not information), and both paths use that map.
"""

from __future__ import annotations

import numba
import numpy as np
from scipy.linalg import svd
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import SGDOneClassSVM
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.svm import OneClassSVM

from anomaly_detector.detectors.base import Detector, Param
from anomaly_detector.detectors.parallel import CompiledRows
from anomaly_detector.detectors.standardization import fit_robust, standardize

METHODS = ("auto", "exact", "approx")
# Kernel directions kept by the Nystroem map: singular values above this share of the largest.
RANK_TOLERANCE = 1e-8


def parse_gamma(text: str) -> str | float:
    """``scale`` (``1 / (n_features * variance)`` of the standardized rows) or a positive float."""
    if text == "scale":
        return text
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"gamma must be 'scale' or a positive number, got {text!r}") from None


def parse_method(text: str) -> str:
    """One of ``auto``, ``exact``, ``approx``."""
    if text not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {text!r}")
    return text


class OneClassSVMDetector(Detector):
    """A smooth boundary around the bulk of the rows in an RBF kernel space."""

    name = "ocsvm"
    summary = (
        "One-class SVM: a smooth RBF-kernel boundary around the bulk of the data; good on "
        "a few dozen standardized features, exact up to 10k rows, kernel-approximated beyond"
    )
    params = (
        Param("nu", 0.05, "share of training rows left outside the boundary, in (0, 1]", float),
        Param("gamma", "scale", "RBF kernel width: 'scale' or a positive number", parse_gamma),
        Param(
            "method", "auto", "'exact' (libsvm), 'approx' (Nystroem + SGD) or 'auto'", parse_method
        ),
        Param("max_exact_rows", 10_000, "most training rows 'auto' fits exactly", int),
        Param("n_components", 300, "Nystroem kernel features of 'approx'", int),
        Param("random_state", 42, "seed of the Nystroem sample and the SGD", int),
    )
    raw_score_meaning = (
        "-decision_function of the one-class SVM on robust-standardized inputs: how far "
        "outside its boundary a row lies (negative inside)"
    )
    search_space = ({}, {"nu": 0.2}, {"nu": 0.01})

    def __init__(self, **params) -> None:
        super().__init__(**params)
        hp = self.hyperparameters
        if isinstance(hp["gamma"], str):
            hp["gamma"] = parse_gamma(hp["gamma"])
        if hp["gamma"] != "scale" and not float(hp["gamma"]) > 0:
            raise ValueError(f"gamma must be 'scale' or a positive number, got {hp['gamma']!r}")
        parse_method(hp["method"])
        if not 0.0 < float(hp["nu"]) <= 1.0:
            raise ValueError(f"nu must be in (0, 1], got {hp['nu']!r}")
        for key in ("max_exact_rows", "n_components"):
            value = hp[key]
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{key} must be an integer of at least 1, got {value!r}")

    def fit(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.asarray(inputs, dtype=np.float64)
        if inputs.ndim != 2 or inputs.shape[0] < 2:
            raise ValueError(f"ocsvm needs a 2-D array of at least 2 rows, got {inputs.shape}")
        hp = self.hyperparameters
        self.centre_, self.scale_ = fit_robust(inputs)
        rows = standardize(inputs, self.centre_, self.scale_)
        if hp["gamma"] == "scale":  # scikit-learn's rule, computed here for Nystroem too
            variance = rows.var()
            self.gamma_ = float(1.0 / (rows.shape[1] * variance)) if variance > 0 else 1.0
        else:
            self.gamma_ = float(hp["gamma"])
        method = hp["method"]
        if method == "auto":
            method = "exact" if rows.shape[0] <= int(hp["max_exact_rows"]) else "approx"
        self.method_ = method
        self.n_features_in_ = inputs.shape[1]
        nu = float(hp["nu"])
        if method == "exact":
            self.feature_map_ = None
            self.estimator_ = OneClassSVM(kernel="rbf", nu=nu, gamma=self.gamma_).fit(rows)
            return -self.estimator_.decision_function(rows)
        self.feature_map_ = Nystroem(
            kernel="rbf",
            gamma=self.gamma_,
            n_components=min(int(hp["n_components"]), rows.shape[0]),
            random_state=hp["random_state"],
        ).fit(rows)
        _truncate_spectrum(self.feature_map_, self.gamma_)
        features = self.feature_map_.transform(rows)
        self.estimator_ = SGDOneClassSVM(nu=nu, random_state=hp["random_state"]).fit(features)
        return -self.estimator_.decision_function(features)

    def score(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.asarray(inputs, dtype=np.float64)
        if inputs.ndim != 2 or inputs.shape[1] != self.n_features_in_:
            raise ValueError(f"expected rows of {self.n_features_in_} inputs, got {inputs.shape}")
        rows = standardize(inputs, self.centre_, self.scale_)
        if self.method_ == "approx":
            rows = self.feature_map_.transform(rows)
        return -self.estimator_.decision_function(rows)

    def compile(self) -> CompiledKernelSVM:
        if self.method_ == "exact":
            points = self.estimator_.support_vectors_
            weights = self.estimator_.dual_coef_[0]
            intercept = float(self.estimator_.intercept_[0])
        else:
            # coef . (normalization k) = (coef normalization) . k: one weight per component.
            points = self.feature_map_.components_
            weights = self.estimator_.coef_ @ self.feature_map_.normalization_
            intercept = -float(self.estimator_.offset_[0])
        return CompiledKernelSVM(self.centre_, self.scale_, self.gamma_, points, weights, intercept)


def _truncate_spectrum(feature_map: Nystroem, gamma: float) -> None:
    """Refit ``normalization_`` without the numerically null directions (see the module doc)."""
    basis = rbf_kernel(feature_map.components_, gamma=gamma)
    u, s, vt = svd(basis)  # what Nystroem.fit factorizes
    keep = s > RANK_TOLERANCE * s[0]
    feature_map.normalization_ = np.dot(u[:, keep] / np.sqrt(s[keep]), vt[keep])


class CompiledKernelSVM(CompiledRows):
    """The standardization and the fitted kernel expansion, in a jitted loop."""

    def __init__(self, centre, scale, gamma, points, weights, intercept) -> None:
        def c(array):
            return np.ascontiguousarray(array, dtype=np.float64)

        arguments = (c(centre), c(scale), float(gamma), c(points), c(weights), intercept)
        super().__init__((_score_rows, _score_one), arguments, c(centre).shape[0])

    def scratch(self) -> tuple:
        return (np.empty(self.n_features),)


@numba.njit(cache=True, nogil=True)
def _score_one(row, centre, scale, gamma, points, weights, intercept, z):  # pragma: no cover
    """``-(sum_i weights_i exp(-gamma ||z - points_i||^2) + intercept)``, libsvm's arithmetic."""
    n_features = centre.shape[0]
    for j in range(n_features):
        z[j] = (row[j] - centre[j]) / scale[j]
    total = 0.0
    for i in range(points.shape[0]):
        distance = 0.0
        for j in range(n_features):
            d = z[j] - points[i, j]
            distance += d * d
        total += weights[i] * np.exp(-gamma * distance)
    return -(total + intercept)


@numba.njit(cache=True, nogil=True)
def _score_rows(inputs, centre, scale, gamma, points, weights, intercept, out):  # pragma: no cover
    z = np.empty(centre.shape[0])
    for r in range(inputs.shape[0]):
        out[r] = _score_one(inputs[r], centre, scale, gamma, points, weights, intercept, z)
