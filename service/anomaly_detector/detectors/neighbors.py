"""Nearest-neighbour detectors: kNN distance and the Local Outlier Factor, served compiled.

``knn`` scores a row by its distance to the training rows around it (Ramaswamy,
Rastogi and Shim, 2000: the distance to the k-th neighbour; Angiulli and Pizzuti,
2002: the mean of the k distances). ``lof`` is the Local Outlier Factor in novelty
mode (Breunig, Kriegel, Ng and Sander, 2000): how much sparser a row's neighbourhood
is than those of its neighbours, so it also finds rows at the edge of a dense
cluster that a global distance misses. Both work on robust-standardized inputs
(``standardization``) and measure euclidean distances to a reference set: a bounded
random sample of the training rows, so one row costs at most ``max_samples``
distances however large the training data. A row's score never depends on the
other rows it is scored with. Training rows in the reference set leave themselves
out of their own neighbourhood (PyOD's training scores, scikit-learn's
``negative_outlier_factor_``).

scikit-learn fits and scores (``score``), with its KD-tree asked for by name: with
``algorithm="auto"`` it turns to brute force above 15 inputs, whose distances come
from ``|x|^2 - 2 x.y + |y|^2`` and lose most of their digits between close rows
(0.06% off at 1e-6 apart), while the tree sums the squared differences, as the
kernel here does. One ``kneighbors`` call for one row costs one to two
milliseconds of input checks and tree walking. The compiled form is written by
hand: a jitted brute-force scan of the reference rows (stored transposed, so it
vectorizes) that keeps the k nearest by insertion, about 10 us for 2,000 rows of
10 inputs. For LOF it copies the reference rows' k-distances and local
reachability densities out of the fitted estimator at fit time and repeats
scikit-learn's arithmetic on them; a row whose k-th and (k+1)-th nearest tie
(counts on a grid) goes to scikit-learn, whose choice of neighbour among them the
score depends on.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors

from anomaly_detector.detectors.base import Detector, Param
from anomaly_detector.detectors.parallel import CompiledRows
from anomaly_detector.detectors.standardization import bounded_sample, fit_robust, standardize

KNN_METHODS = ("largest", "mean")
# What a fitted KD-tree holds (``nn_``, ``estimator_``) beyond skops' own types.
TREE_TYPES = (
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.neighbors._kd_tree.KDTree",
)


class _NeighbourDetector(Detector):
    """What kNN and LOF share: parameter checks, standardization and the reference sample."""

    skops_types = TREE_TYPES

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        for key in ("n_neighbors", "max_samples"):
            value = self.hyperparameters[key]
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{self.name}: {key} must be a positive integer, got {value!r}")

    def _reference(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fit the standardization; return (standardized inputs, reference rows, their indices)."""
        inputs = np.asarray(inputs, dtype=np.float64)
        if inputs.ndim != 2 or not np.isfinite(inputs).all():
            raise ValueError(f"{self.name} needs a 2-D array of finite inputs")
        self.centre_, self.scale_ = fit_robust(inputs)
        standardized = standardize(inputs, self.centre_, self.scale_)
        limit = int(self.hyperparameters["max_samples"])
        reference, chosen = bounded_sample(
            standardized, limit, self.hyperparameters["random_state"]
        )
        k = int(self.hyperparameters["n_neighbors"])
        if k >= reference.shape[0]:
            raise ValueError(
                f"{self.name}: n_neighbors ({k}) must be smaller than the reference set "
                f"({reference.shape[0]} rows: {inputs.shape[0]} training rows, at most "
                f"max_samples={limit}); lower n_neighbors or train on more rows"
            )
        self.reference_ = np.ascontiguousarray(reference)
        self.n_features_in_ = int(inputs.shape[1])
        return standardized, self.reference_, chosen

    def _standardize(self, inputs: np.ndarray) -> np.ndarray:
        return standardize(inputs, self.centre_, self.scale_)


class KNNDetector(_NeighbourDetector):
    """Distance to the k nearest training rows."""

    name = "knn"
    summary = (
        "kNN: distance to the nearest training rows; simple and strong on global anomalies "
        "and small far-off clusters, blind to differences in local density"
    )
    params = (
        Param("n_neighbors", 5, "neighbours a row is measured against", int),
        Param("method", "largest", "'largest': distance to the k-th; 'mean': mean of the k", str),
        Param("max_samples", 2000, "reference rows (a random sample of the training rows)", int),
        Param("random_state", 42, "seed of that sample", int),
    )
    raw_score_meaning = "euclidean distance to the k-th nearest reference row (or mean of k)"
    search_space = ({}, {"n_neighbors": 10, "method": "mean"}, {"n_neighbors": 25})

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if self.hyperparameters["method"] not in KNN_METHODS:
            raise ValueError(
                f"knn: unknown method {self.hyperparameters['method']!r}; "
                f"use one of: {', '.join(KNN_METHODS)}"
            )

    def fit(self, inputs: np.ndarray) -> np.ndarray:
        standardized, reference, chosen = self._reference(inputs)
        k = int(self.hyperparameters["n_neighbors"])
        self.nn_ = NearestNeighbors(n_neighbors=k, algorithm="kd_tree").fit(reference)
        scores = np.empty(standardized.shape[0])
        distances, _ = self.nn_.kneighbors()  # reference rows, each without itself
        scores[chosen] = self._reduce(distances)
        others = np.ones(standardized.shape[0], dtype=bool)
        others[chosen] = False
        if others.any():
            scores[others] = self._reduce(self.nn_.kneighbors(standardized[others])[0])
        return scores

    def score(self, inputs: np.ndarray) -> np.ndarray:
        inputs = self._standardize(inputs)
        if inputs.shape[0] == 0:
            return np.empty(0)
        return self._reduce(self.nn_.kneighbors(inputs)[0])

    def _reduce(self, distances: np.ndarray) -> np.ndarray:
        if self.hyperparameters["method"] == "largest":
            return distances[:, -1].astype(np.float64)
        return distances.mean(axis=1)

    def compile(self) -> CompiledNeighbours:
        use_mean = self.hyperparameters["method"] == "mean"
        k = int(self.hyperparameters["n_neighbors"])
        arguments = (self.centre_, self.scale_, self.reference_, k, use_mean)
        return CompiledNeighbours((_knn_rows, _knn_one), *arguments)


class LOFDetector(_NeighbourDetector):
    """Local Outlier Factor against a reference sample (novelty mode)."""

    name = "lof"
    summary = (
        "LOF: density of a row's neighbourhood against its neighbours'; finds local "
        "anomalies next to dense clusters, slower and sensitive to n_neighbors"
    )
    params = (
        Param("n_neighbors", 20, "neighbours defining a row's neighbourhood", int),
        Param("max_samples", 2000, "reference rows (a random sample of the training rows)", int),
        Param("random_state", 42, "seed of that sample", int),
    )
    raw_score_meaning = "local outlier factor (about 1 inside clusters, higher is more anomalous)"
    search_space = ({}, {"n_neighbors": 10}, {"n_neighbors": 50})

    def fit(self, inputs: np.ndarray) -> np.ndarray:
        standardized, reference, chosen = self._reference(inputs)
        k = int(self.hyperparameters["n_neighbors"])
        self.estimator_ = LocalOutlierFactor(n_neighbors=k, novelty=True, algorithm="kd_tree")
        self.estimator_.fit(reference)
        # The compiled form's copies of what score_samples reads from the fitted estimator.
        self.k_distance_ = np.ascontiguousarray(self.estimator_._distances_fit_X_[:, k - 1])
        self.lrd_ = np.ascontiguousarray(self.estimator_._lrd, dtype=np.float64)
        scores = np.empty(standardized.shape[0])
        scores[chosen] = -self.estimator_.negative_outlier_factor_
        others = np.ones(standardized.shape[0], dtype=bool)
        others[chosen] = False
        if others.any():
            scores[others] = -self.estimator_.score_samples(standardized[others])
        return scores

    def score(self, inputs: np.ndarray) -> np.ndarray:
        inputs = self._standardize(inputs)
        if inputs.shape[0] == 0:
            return np.empty(0)
        return -self.estimator_.score_samples(inputs)

    def compile(self) -> CompiledNeighbours:
        k = int(self.estimator_.n_neighbors_)
        arguments = (self.centre_, self.scale_, self.reference_, k, self.k_distance_, self.lrd_)
        return CompiledNeighbours((_lof_rows, _lof_one), *arguments, fallback=self.score)


class CompiledNeighbours(CompiledRows):
    """The standardization, the reference rows and a jitted brute-force neighbour scan.

    A kernel returning NaN hands that row to ``fallback`` (the library path): LOF
    does when the k-th and (k+1)-th nearest reference rows tie, where scikit-learn's
    choice of neighbour depends on how its tree is walked.
    """

    def __init__(self, kernels, centre, scale, reference, k, *rest, fallback=None) -> None:
        columns = np.ascontiguousarray(np.asarray(reference, dtype=np.float64).T)
        centre, scale = (np.ascontiguousarray(v, dtype=np.float64) for v in (centre, scale))
        super().__init__(kernels, (centre, scale, columns, int(k), *rest), columns.shape[0])
        self.fallback = fallback

    def score_batch(self, inputs: np.ndarray, threads: int | None = None) -> np.ndarray:
        out = super().score_batch(inputs, threads)
        tied = np.isnan(out)
        if self.fallback is not None and tied.any():
            out[tied] = self.fallback(np.asarray(inputs, dtype=np.float64)[tied])
        return out

    def score_row(self, inputs: np.ndarray) -> float:
        score = super().score_row(inputs)
        if score != score and self.fallback is not None:  # NaN: a tie, see the class
            return float(self.fallback(inputs[None, :])[0])
        return score


@numba.njit(cache=True, nogil=True)
def _nearest(row, centre, scale, columns, k):  # pragma: no cover - compiled
    """(distances, indices, tied) of the k reference rows nearest the standardized ``row``.

    ``columns`` is the reference set transposed, (n_features, n_reference): the squared
    distances to all reference rows grow one input at a time, a loop over contiguous
    memory that vectorizes while each row's sum still runs in input order, as in
    scikit-learn's KD-tree. Distances ascend, ties keep the lower index; ``tied``:
    the (k+1)-th nearest is as near as the k-th (which k rows are nearest is a choice).
    """
    n_reference = columns.shape[1]
    squared = np.zeros(n_reference)
    for j in range(columns.shape[0]):
        value = (row[j] - centre[j]) / scale[j]
        column = columns[j]
        for i in range(n_reference):
            diff = value - column[i]
            squared[i] += diff * diff
    nearest = np.full(k + 1, np.inf)  # k + 1 to see a tie at the k-th; the fit ensures k < n
    indices = np.full(k + 1, -1, dtype=np.int64)
    for i in range(n_reference):
        total = squared[i]
        if total < nearest[k]:
            slot = k
            while slot > 0 and nearest[slot - 1] > total:
                nearest[slot] = nearest[slot - 1]
                indices[slot] = indices[slot - 1]
                slot -= 1
            nearest[slot] = total
            indices[slot] = i
    return np.sqrt(nearest[:k]), indices[:k], nearest[k] == nearest[k - 1]


@numba.njit(cache=True, nogil=True)
def _knn_one(row, centre, scale, columns, k, use_mean):  # pragma: no cover - compiled
    distances, _, _ = _nearest(row, centre, scale, columns, k)  # ties leave distances alone
    if use_mean:
        return distances.sum() / k
    return distances[k - 1]


@numba.njit(cache=True, nogil=True)
def _knn_rows(inputs, centre, scale, columns, k, use_mean, out):  # pragma: no cover
    for row in range(inputs.shape[0]):
        out[row] = _knn_one(inputs[row], centre, scale, columns, k, use_mean)


@numba.njit(cache=True, nogil=True)
def _lof_one(row, centre, scale, columns, k, k_distance, lrd):  # pragma: no cover - compiled
    distances, indices, tied = _nearest(row, centre, scale, columns, k)
    if tied:
        return np.nan
    # scikit-learn's: reach-dist = max(d, k-distance of the neighbour);
    # lrd = 1 / (mean reach-dist + 1e-10); LOF = mean over neighbours of lrd_o / lrd_x.
    reach = 0.0
    for slot in range(k):
        reach += max(distances[slot], k_distance[indices[slot]])
    row_lrd = 1.0 / (reach / k + 1e-10)
    ratios = 0.0
    for slot in range(k):
        ratios += lrd[indices[slot]] / row_lrd
    return ratios / k


@numba.njit(cache=True, nogil=True)
def _lof_rows(inputs, centre, scale, columns, k, k_distance, lrd, out):  # pragma: no cover
    for row in range(inputs.shape[0]):
        out[row] = _lof_one(inputs[row], centre, scale, columns, k, k_distance, lrd)
