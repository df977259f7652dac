"""Distance to a cluster: k-means centroids (Lloyd) and DBSCAN core samples (Ester et al., 1996).

Both standardize the inputs robustly (training median and IQR, ``standardization``)
and score a row by the Euclidean distance from it to the nearest of a fixed set of
reference points fitted by scikit-learn: the ``n_clusters`` centroids of ``KMeans``,
or the core samples of ``DBSCAN`` (rows with at least ``min_samples`` rows, themselves
included, within ``eps``). A core sample scores 0; a row far from every cluster scores
high. The reference points are fixed at fit, so a row's score does not depend on the
other rows of its batch.

DBSCAN's ``eps="auto"`` is the 95th percentile of the sample rows' core distances
(the distance from each to its ``min_samples``-th nearest sample row, itself counted
as DBSCAN counts it). Ester et al. read eps off the sorted k-distance graph where the
noise starts; a quantile makes that choice without looking, in the data's own units,
by naming the share of the sample that is not core: the sparsest 5%, a little above
the share the default threshold flags, while the dense 95% become the reference.
DBSCAN fits on a bounded sample (``max_samples`` rows) because its neighbourhood
queries grow with the square of the rows in dense data, and because the core samples
are what a row is compared with: at most ``max_samples`` distances per row.

The compiled form is one jitted brute-force loop: for each input in turn, the
squared differences to every reference point, added in input order (the order a
k-d tree adds them, so the two agree to the last bit); points are stored input by
input, so that loop runs over contiguous memory in SIMD registers, about 20 us for
5,000 points of 10 inputs. Pruning (sorted projections, blocks) was tried and
lost to it at 10 inputs. The reference paths are scikit-learn's: ``NearestNeighbors``
(a k-d tree, exact differences) over the core samples, and ``KMeans.transform`` to
pick the nearest centroid, whose distance is then recomputed from the differences:
``transform`` computes ``||x||^2 - 2 x.c + ||c||^2``, which loses precision near a
centroid (a row 1e-6 from one gets a distance wrong in the fifth digit).
"""

from __future__ import annotations

import numbers

import numba
import numpy as np
from sklearn.cluster import DBSCAN, KMeans
from sklearn.neighbors import NearestNeighbors

from anomaly_detector.detectors.base import Detector, Param
from anomaly_detector.detectors.parallel import CompiledRows
from anomaly_detector.detectors.standardization import bounded_sample, fit_robust, standardize

# DBSCAN's eps="auto": this quantile of the sample rows' core distances.
AUTO_EPS_QUANTILE = 0.95


def _auto_or(kind: type, what: str):
    """A parser of ``auto`` or a positive number of ``kind`` (int or float)."""

    def parse(text: str) -> str | int | float:
        if text == "auto":
            return text
        try:
            value = kind(text)
        except (TypeError, ValueError):
            value = None
        if value is None or not 0 < value < np.inf:
            raise ValueError(f"{what} must be 'auto' or a positive {kind.__name__}, got {text!r}")
        return value

    return parse


parse_n_init = _auto_or(int, "n_init")
parse_eps = _auto_or(float, "eps")


def _count(params: dict, name: str) -> int:
    """The integer parameter ``name``, at least 1, or a ValueError naming it."""
    value = params[name]
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer of at least 1, got {value!r}")
    return int(value)


class KMeansDetector(Detector):
    """Distance to the nearest k-means centroid."""

    name = "kmeans"
    summary = (
        "k-means: distance to the nearest of k centroids; fast, suits data that forms a few "
        "compact groups, blind to anomalies inside a wide cluster"
    )
    params = (
        Param("n_clusters", 8, "centroids", int),
        Param("random_state", 42, "seed of the k-means++ starts", int),
        Param("n_init", "auto", "k-means++ starts: 'auto' or a count", parse_n_init),
    )
    raw_score_meaning = (
        "Euclidean distance of the robustly standardized row to the nearest centroid"
    )
    search_space = ({}, {"n_clusters": 4}, {"n_clusters": 16})

    def fit(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.asarray(inputs, dtype=np.float64)
        n_clusters = _count(self.hyperparameters, "n_clusters")
        if n_clusters > inputs.shape[0]:
            raise ValueError(f"n_clusters={n_clusters} is more than the {inputs.shape[0]} rows")
        n_init = self.hyperparameters["n_init"]
        n_init = n_init if n_init == "auto" else parse_n_init(str(n_init))
        self.centre_, self.scale_ = fit_robust(inputs)
        self.estimator_ = KMeans(
            n_clusters=n_clusters,
            n_init=n_init,
            random_state=int(self.hyperparameters["random_state"]),
        )
        self.estimator_.fit(standardize(inputs, self.centre_, self.scale_))
        # One label per training row: rows are scored against the centroids alone, and
        # the bundle must not grow with the training set.
        del self.estimator_.labels_
        self.n_features_in_ = inputs.shape[1]
        return self.compile().score_batch(inputs)

    def score(self, inputs: np.ndarray) -> np.ndarray:
        standardized = standardize(inputs, self.centre_, self.scale_)
        nearest = self.estimator_.transform(standardized).argmin(axis=1)
        centres = self.estimator_.cluster_centers_[nearest]
        return np.sqrt(np.sum((standardized - centres) ** 2, axis=1))

    def compile(self) -> CompiledNearest:
        return CompiledNearest(self.centre_, self.scale_, self.estimator_.cluster_centers_)


class DBSCANDetector(Detector):
    """Distance to the nearest DBSCAN core sample."""

    name = "dbscan"
    summary = (
        "DBSCAN: distance to the nearest core sample of dense regions; finds clusters of any "
        "shape, suits data with dense groups and a sparse rest"
    )
    params = (
        Param("eps", "auto", "neighbourhood radius (standardized units), or 'auto'", parse_eps),
        Param("min_samples", 5, "rows within eps, itself included, that make a core sample", int),
        Param("max_samples", 5_000, "training rows DBSCAN fits on (a random sample beyond)", int),
        Param("random_state", 42, "seed of that sample", int),
    )
    raw_score_meaning = (
        "Euclidean distance of the robustly standardized row to the nearest DBSCAN core "
        "sample (0 for a core sample)"
    )
    search_space = ({}, {"min_samples": 10}, {"min_samples": 20})

    def fit(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.asarray(inputs, dtype=np.float64)
        min_samples = _count(self.hyperparameters, "min_samples")
        limit = _count(self.hyperparameters, "max_samples")
        self.centre_, self.scale_ = fit_robust(inputs)
        standardized = standardize(inputs, self.centre_, self.scale_)
        sample, _ = bounded_sample(standardized, limit, int(self.hyperparameters["random_state"]))
        if min_samples > sample.shape[0]:
            raise ValueError(
                f"min_samples={min_samples} is more than the {sample.shape[0]} rows DBSCAN fits on"
            )
        self.eps_ = self._eps(sample, min_samples)
        clusters = DBSCAN(eps=self.eps_, min_samples=min_samples).fit(sample)
        if clusters.components_.shape[0] == 0:
            raise ValueError(
                f"DBSCAN found no core sample: no row has {min_samples} rows within "
                f"eps={self.eps_:g} (standardized units); use a larger eps, eps='auto' "
                "or a smaller min_samples"
            )
        self.core_samples_ = np.ascontiguousarray(clusters.components_, dtype=np.float64)
        self.n_features_in_ = inputs.shape[1]
        return self.compile().score_batch(inputs)

    def _eps(self, sample: np.ndarray, min_samples: int) -> float:
        eps = self.hyperparameters["eps"]
        if eps != "auto":
            return float(parse_eps(str(eps)))
        # Each row is its own nearest neighbour, as DBSCAN counts it among min_samples.
        distances, _ = NearestNeighbors(n_neighbors=min_samples).fit(sample).kneighbors(sample)
        eps = float(np.quantile(distances[:, -1], AUTO_EPS_QUANTILE))
        # Mostly duplicated rows: any radius makes them core; DBSCAN needs one above 0.
        return eps if eps > 0 else 1e-12

    def score(self, inputs: np.ndarray) -> np.ndarray:
        cached = getattr(self, "_neighbors", None)
        if cached is None or cached[0] is not self.core_samples_:
            tree = NearestNeighbors(n_neighbors=1, algorithm="kd_tree").fit(self.core_samples_)
            self._neighbors = cached = (self.core_samples_, tree)
        distances, _ = cached[1].kneighbors(standardize(inputs, self.centre_, self.scale_))
        return distances[:, 0]

    def compile(self) -> CompiledNearest:
        return CompiledNearest(self.centre_, self.scale_, self.core_samples_)


class CompiledNearest(CompiledRows):
    """The standardization and the reference points as arrays, and a jitted nearest search."""

    def __init__(self, centre: np.ndarray, scale: np.ndarray, points: np.ndarray) -> None:
        # Input-major, so the loop over points runs along contiguous memory (SIMD).
        points_by_input = np.ascontiguousarray(np.asarray(points, dtype=np.float64).T)
        arguments = (centre, scale, points_by_input)
        super().__init__((_score_rows, _score_one), arguments, points_by_input.shape[0])


@numba.njit(cache=True, nogil=True)
def _nearest(row, centre, scale, points_by_input, squared):  # pragma: no cover - compiled
    """Distance from the standardized row to the nearest point; ``squared`` is scratch."""
    squared[:] = 0.0
    for i in range(points_by_input.shape[0]):
        value = (row[i] - centre[i]) / scale[i]
        for point in range(points_by_input.shape[1]):
            difference = value - points_by_input[i, point]
            squared[point] += difference * difference
    return np.sqrt(squared.min())


@numba.njit(cache=True, nogil=True)
def _score_one(row, centre, scale, points_by_input):  # pragma: no cover - compiled
    squared = np.empty(points_by_input.shape[1])
    return _nearest(row, centre, scale, points_by_input, squared)


@numba.njit(cache=True, nogil=True)
def _score_rows(inputs, centre, scale, points_by_input, out):  # pragma: no cover - compiled
    squared = np.empty(points_by_input.shape[1])
    for row in range(inputs.shape[0]):
        out[row] = _nearest(inputs[row], centre, scale, points_by_input, squared)
