"""Autoencoder reconstruction error (Hawkins et al., 2002; Sakurada and Yairi, 2014).

A small neural network learns to reproduce the training rows through a narrow
middle layer, ``inputs -> hidden -> bottleneck -> hidden -> inputs`` with ReLU
units; it learns the dependencies the bulk of the rows share, so a row that breaks
them comes out changed. The raw score is the mean squared reconstruction error over
the row's robust-standardized inputs (``standardization.fit_robust``: median and
IQR, as the package's other distance and reconstruction detectors; a few extreme
training rows do not squash the scale of the rest).

scikit-learn's ``MLPRegressor`` fits the network (Adam, early stopping on a held-out
tenth) on at most ``max_samples`` random training rows, which bounds training time
(an epoch costs about 6 us a row) where a network of a few hundred weights would
learn little more from the rest; every training row is then scored.

Scoring through ``MLPRegressor.predict`` pays input checks per call; the compiled
form is the same four layers of products and ReLUs from ``coefs_`` and
``intercepts_`` in one jitted loop, a few hundred multiply-adds per row. No
deep-learning runtime: its per-call overhead alone would exceed the whole row.
"""

from __future__ import annotations

import warnings

import numba
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

from anomaly_detector.detectors.base import Detector, Param
from anomaly_detector.detectors.parallel import CompiledRows
from anomaly_detector.detectors.standardization import bounded_sample, fit_robust, standardize

# Early stopping holds out a tenth of the rows: fewer than this leaves nothing to hold out.
MIN_ROWS = 10
# The smallest value of each integer parameter.
LOWEST = {"hidden": 1, "bottleneck": 1, "max_iter": 1, "max_samples": MIN_ROWS}


class AutoencoderDetector(Detector):
    """Rows the network cannot reproduce through its bottleneck."""

    name = "autoencoder"
    summary = (
        "Autoencoder: error of a small ReLU network that reconstructs rows through a "
        "bottleneck; catches rows breaking the dependencies between features"
    )
    params = (
        Param("hidden", 16, "units of the outer hidden layers", int),
        Param("bottleneck", 4, "units of the middle layer (fewer than the inputs)", int),
        Param("max_iter", 200, "most training epochs (early stopping may end sooner)", int),
        Param(
            "max_samples", 20_000, "training rows the network sees (a random sample beyond)", int
        ),
        Param("random_state", 42, "seed of the sample, the weights and the batches", int),
    )
    raw_score_meaning = "mean squared reconstruction error of the row's robust-standardized inputs"
    search_space = ({}, {"bottleneck": 2}, {"hidden": 32, "bottleneck": 8})
    # MLPRegressor keeps its Adam state (moment arrays: plain data) for warm starts.
    skops_types = ("sklearn.neural_network._stochastic_optimizers.AdamOptimizer",)

    def __init__(self, **params) -> None:
        super().__init__(**params)
        for key, low in LOWEST.items():
            value = self.hyperparameters[key]
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
                raise ValueError(f"{key} must be an integer of at least {low}, got {value!r}")

    def fit(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.asarray(inputs, dtype=np.float64)
        if inputs.ndim != 2 or inputs.shape[0] < MIN_ROWS:
            raise ValueError(
                f"autoencoder needs a 2-D array of at least {MIN_ROWS} rows, got {inputs.shape}"
            )
        hp = self.hyperparameters
        self.centre_, self.scale_ = fit_robust(inputs)
        rows = standardize(inputs, self.centre_, self.scale_)
        sample, _ = bounded_sample(rows, int(hp["max_samples"]), hp["random_state"])
        hidden, bottleneck = int(hp["hidden"]), int(hp["bottleneck"])
        self.estimator_ = MLPRegressor(
            hidden_layer_sizes=(hidden, bottleneck, hidden),
            activation="relu",
            early_stopping=True,
            max_iter=int(hp["max_iter"]),
            random_state=hp["random_state"],
        )
        # A 1-column target would come back 1-D from predict: give it that shape now.
        target = sample if sample.shape[1] > 1 else sample[:, 0]
        with warnings.catch_warnings():
            # max_iter bounds training time on purpose; not converging is expected.
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.estimator_.fit(sample, target)
        self.n_features_in_ = inputs.shape[1]
        return self.score(inputs)

    def score(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.asarray(inputs, dtype=np.float64)
        if inputs.ndim != 2 or inputs.shape[1] != self.n_features_in_:
            raise ValueError(f"expected rows of {self.n_features_in_} inputs, got {inputs.shape}")
        rows = standardize(inputs, self.centre_, self.scale_)
        reconstruction = self.estimator_.predict(rows).reshape(rows.shape)
        return np.mean((rows - reconstruction) ** 2, axis=1)

    def compile(self) -> CompiledAutoencoder:
        return CompiledAutoencoder(
            self.centre_, self.scale_, self.estimator_.coefs_, self.estimator_.intercepts_
        )


class CompiledAutoencoder(CompiledRows):
    """The standardization and the network's four layers, in a jitted loop."""

    def __init__(self, centre, scale, coefs, intercepts) -> None:
        if len(coefs) != 4 or len(intercepts) != 4:
            raise ValueError(f"expected a network of 3 hidden layers, got {len(coefs) - 1}")

        def c(array):
            return np.ascontiguousarray(array, dtype=np.float64)

        layers = [value for pair in zip(coefs, intercepts, strict=True) for value in pair]
        arguments = (c(centre), c(scale), *(c(value) for value in layers))
        super().__init__((_score_rows, _score_one), arguments, c(centre).shape[0])
        self.widths = [w.shape[1] for w in coefs]

    def scratch(self) -> tuple[np.ndarray, ...]:
        return (np.empty(self.n_features), *(np.empty(width) for width in self.widths))


@numba.njit(cache=True, nogil=True)
def _layer(inputs, weights, bias, out, relu):  # pragma: no cover - compiled
    """``out = inputs @ weights + bias`` (then ReLU), summed in the order of ``inputs``."""
    out[:] = 0.0
    for i in range(weights.shape[0]):
        value = inputs[i]
        for j in range(weights.shape[1]):
            out[j] += value * weights[i, j]
    for j in range(out.shape[0]):
        out[j] += bias[j]
        if relu and out[j] < 0.0:
            out[j] = 0.0


@numba.njit(cache=True, nogil=True)
def _score_one(
    row, centre, scale, w0, b0, w1, b1, w2, b2, w3, b3, z, h0, h1, h2, h3
):  # pragma: no cover
    n_features = centre.shape[0]
    for j in range(n_features):
        z[j] = (row[j] - centre[j]) / scale[j]
    _layer(z, w0, b0, h0, True)
    _layer(h0, w1, b1, h1, True)
    _layer(h1, w2, b2, h2, True)
    _layer(h2, w3, b3, h3, False)  # MLPRegressor's output layer is linear
    total = 0.0
    for j in range(n_features):
        d = z[j] - h3[j]
        total += d * d
    return total / n_features


@numba.njit(cache=True, nogil=True)
def _score_rows(inputs, centre, scale, w0, b0, w1, b1, w2, b2, w3, b3, out):  # pragma: no cover
    z = np.empty(centre.shape[0])
    h0, h1 = np.empty(w0.shape[1]), np.empty(w1.shape[1])
    h2, h3 = np.empty(w2.shape[1]), np.empty(w3.shape[1])
    for r in range(inputs.shape[0]):
        out[r] = _score_one(
            inputs[r], centre, scale, w0, b0, w1, b1, w2, b2, w3, b3, z, h0, h1, h2, h3
        )
