"""HBOS, the histogram-based outlier score (Goldstein and Dengel, 2012).

One equal-width histogram per input, fitted on the training rows; a row's raw score
is ``-sum_i log2(density_i(x_i) + alpha)``, so rows in sparse bins of several inputs
score high. It ignores dependencies between inputs, which makes it fast and robust
on "global" anomalies. The rules are PyOD's (its ``HBOS`` with a fixed ``n_bins``):
``numpy.histogram`` densities, a value just outside the training range (within
``tol`` bin widths) takes the edge bin, anything further the sparsest bin.

One change: densities are per unit of each input's robust scale (its interquartile
range; ``standardization.fit_robust``), which is PyOD's HBOS on robust-standardized
inputs. Raw densities are per unit of each input's own units, so ``alpha`` would
swamp the densities of wide inputs (bytes) and silence them; standardized, it weighs
every input alike. Bins are unchanged by the rescaling, so it costs nothing per row.

PyOD's model is already inductive; its scoring goes through per-call input checks
and a Python loop over inputs. Here the fitted edges and densities are two arrays
and one jitted loop scores a row.
"""

from __future__ import annotations

import numba
import numpy as np

from anomaly_detector.detectors.base import Detector, Param
from anomaly_detector.detectors.parallel import CompiledRows
from anomaly_detector.detectors.standardization import fit_robust


class HBOSDetector(Detector):
    """Sparse bins of independent histograms."""

    name = "hbos"
    summary = (
        "HBOS: one histogram per feature; very fast, strong on global anomalies in single "
        "features, blind to dependencies between them"
    )
    params = (
        Param("n_bins", 10, "bins per feature histogram", int),
        Param("alpha", 0.1, "regularizer added to every density", float),
        Param("tol", 0.5, "bin widths beyond the training range still taking the edge bin", float),
    )
    raw_score_meaning = "-sum over features of log2(training density of the row's bin + alpha)"
    search_space = ({}, {"n_bins": 5}, {"n_bins": 25})

    def fit(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.asarray(inputs, dtype=np.float64)
        n_bins = int(self.hyperparameters["n_bins"])
        if n_bins < 2:
            raise ValueError(f"n_bins must be at least 2, got {n_bins}")
        n_features = inputs.shape[1]
        self.edges_ = np.empty((n_features, n_bins + 1))
        self.log_density_ = np.empty((n_features, n_bins))
        alpha = float(self.hyperparameters["alpha"])
        _, scale = fit_robust(inputs)
        for column in range(n_features):
            density, edges = np.histogram(inputs[:, column], bins=n_bins, density=True)
            self.edges_[column] = edges
            self.log_density_[column] = np.log2(density * scale[column] + alpha)
        self.n_features_in_ = n_features
        return self.score(inputs)

    def score(self, inputs: np.ndarray) -> np.ndarray:
        return self.compile().score_batch(inputs)

    def compile(self) -> CompiledHBOS:
        return CompiledHBOS(self.edges_, self.log_density_, float(self.hyperparameters["tol"]))


class CompiledHBOS(CompiledRows):
    """The fitted histograms and a jitted lookup."""

    def __init__(self, edges: np.ndarray, log_density: np.ndarray, tol: float) -> None:
        super().__init__((_score_rows, _score_one), (edges, log_density, tol), edges.shape[0])


@numba.njit(cache=True, nogil=True)
def _score_one(row, edges, log_density, tol):  # pragma: no cover - compiled; held to batches
    n_bins = log_density.shape[1]
    total = 0.0
    for column in range(row.shape[0]):
        value = row[column]
        low, high = edges[column, 0], edges[column, n_bins]
        width_low = edges[column, 1] - low
        width_high = high - edges[column, n_bins - 1]
        if value < low:  # np.digitize(right=True) gives 0 below the first edge
            if low - value <= width_low * tol:
                total += log_density[column, 0]
            else:
                total += log_density[column].min()
        elif value > high:
            if value - high <= width_high * tol:
                total += log_density[column, n_bins - 1]
            else:
                total += log_density[column].min()
        else:
            # The bin with edges[b] < value <= edges[b + 1]; the first edge belongs to bin 0.
            b = np.searchsorted(edges[column], value, side="left") - 1
            total += log_density[column, max(b, 0)]
    return -total


@numba.njit(cache=True, nogil=True)
def _score_rows(inputs, edges, log_density, tol, out):  # pragma: no cover - compiled
    for row in range(inputs.shape[0]):
        out[row] = _score_one(inputs[row], edges, log_density, tol)
