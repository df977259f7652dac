"""Robust standardization for detectors that measure distances or reconstructions.

The preprocessed inputs mix units (log-compressed counts, ratios, category codes);
a distance over them would be dominated by whichever spans the widest range. Each
such detector centres every input on its training median and divides by its
interquartile range (its standard deviation where the IQR is 0, else 1), fitted once
and stored as two arrays, so scoring a row needs the training rows no longer.
scikit-learn's ``RobustScaler`` does the same fit, but its transform costs more per
call than the whole one-row path here.
"""

from __future__ import annotations

import numpy as np


def fit_robust(inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(centre, scale) of each column: median, and IQR (else std, else 1)."""
    inputs = np.asarray(inputs, dtype=np.float64)
    centre = np.median(inputs, axis=0)
    q1, q3 = np.quantile(inputs, [0.25, 0.75], axis=0)
    scale = q3 - q1
    std = inputs.std(axis=0)
    scale = np.where(scale > 0, scale, np.where(std > 0, std, 1.0))
    return centre.astype(np.float64), scale.astype(np.float64)


def standardize(inputs: np.ndarray, centre: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(inputs - centre) / scale`` as float64, for one row (1-D) or many (2-D)."""
    return (np.asarray(inputs, dtype=np.float64) - centre) / scale


def bounded_sample(
    inputs: np.ndarray, limit: int, random_state: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, their indices): all rows when there are at most ``limit``, else a random sample.

    The reference set of neighbour-based detectors: a one-row score then costs at most
    ``limit`` distances, whatever the size of the training data.
    """
    n_rows = inputs.shape[0]
    if n_rows <= limit:
        return inputs, np.arange(n_rows)
    chosen = np.sort(np.random.default_rng(random_state).choice(n_rows, limit, replace=False))
    return inputs[chosen], chosen
