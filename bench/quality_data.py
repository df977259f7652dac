"""The detection-quality suite: datasets that ship with scikit-learn or are generated.

Nothing is downloaded. Each dataset is a frame of features and a boolean label:

* ``breast_cancer``, ``digits``, ``wine``: scikit-learn's bundled datasets turned into
  anomaly tasks the usual way (ADBench, Campos et al. 2016): one class is the normal
  data and a few rows of another class are the anomalies;
* ``local``, ``global``, ``clustered``, ``dependency``: the four synthetic anomaly
  types of ADBench (Han et al., NeurIPS 2022) on a Gaussian-mixture base: rows of the
  normal components with a wider covariance; uniform rows over the data's range; a
  small tight cluster away from the normal data; rows whose features keep their
  marginals but lose their dependence;
* ``api_traffic``: this project's generated traffic (train on ``train``-like rows,
  evaluate on ``test``-like ones), with its anomaly types for per-type recall.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_digits, load_wine

from anomaly_detector.data.synthetic.traffic import (
    ANOMALY_TYPE_COLUMN,
    LABEL_COLUMN,
    generate_traffic,
)


@dataclass
class Dataset:
    """Features, labels and, for the traffic data, each row's anomaly type."""

    name: str
    frame: pd.DataFrame
    is_anomaly: np.ndarray
    kinds: np.ndarray | None = None
    # Rows to train on (unlabelled) and to evaluate on; default: a random split.
    train_rows: np.ndarray | None = None
    notes: str = ""
    extra: dict = field(default_factory=dict)


def _class_task(name, data, normal, anomalous, share, rng) -> Dataset:
    x, y = data.data, data.target
    normal_rows = np.flatnonzero(np.isin(y, normal))
    candidates = np.flatnonzero(np.isin(y, anomalous))
    n_anomalies = max(5, int(round(share * len(normal_rows))))
    anomalies = rng.choice(candidates, min(n_anomalies, len(candidates)), replace=False)
    rows = np.r_[normal_rows, anomalies]
    frame = pd.DataFrame(x[rows], columns=[f"f{i}" for i in range(x.shape[1])])
    labels = np.r_[np.zeros(len(normal_rows), bool), np.ones(len(anomalies), bool)]
    return Dataset(name, frame, labels, notes=f"normal: class {normal}; anomalies: {anomalous}")


def _mixture(rng, n, dims=8, components=3):
    means = rng.normal(scale=4.0, size=(components, dims))
    covs = [np.diag(rng.uniform(0.5, 1.5, dims)) for _ in range(components)]
    which = rng.integers(0, components, n)
    x = np.vstack([rng.multivariate_normal(means[c], covs[c]) for c in which])
    return x, means, covs


def _synthetic(kind: str, rng, n=2_000, share=0.05) -> Dataset:
    n_anomalies = int(n * share)
    x, means, covs = _mixture(rng, n)
    dims = x.shape[1]
    if kind == "local":
        which = rng.integers(0, len(means), n_anomalies)
        outliers = np.vstack([rng.multivariate_normal(means[c], covs[c] * 5) for c in which])
    elif kind == "global":
        low, high = x.min(0), x.max(0)
        outliers = rng.uniform(low - 0.1 * (high - low), high + 0.1 * (high - low),
                               (n_anomalies, dims))  # fmt: skip
    elif kind == "clustered":
        centre = x.mean(0) + rng.choice([-1, 1], dims) * x.std(0) * 1.5
        outliers = rng.normal(centre, 0.3, (n_anomalies, dims))
    else:  # dependency: features tied together; anomalies keep each marginal, lose the tie
        base = rng.normal(size=(n, 2))
        x = np.column_stack([base[:, 0], base[:, 1]] + [
            base[:, j % 2] * rng.uniform(0.8, 1.2) + rng.normal(0, 0.2, n) for j in range(dims - 2)
        ])  # fmt: skip
        source = x[rng.choice(n, n_anomalies)]
        outliers = np.column_stack([rng.permutation(source[:, j]) for j in range(dims)])
    features = np.vstack([x, outliers])
    labels = np.r_[np.zeros(len(x), bool), np.ones(n_anomalies, bool)]
    frame = pd.DataFrame(features, columns=[f"x{i}" for i in range(dims)])
    return Dataset(kind, frame, labels, notes=f"ADBench-style {kind} anomalies, {share:.0%}")


def _traffic(rng, train_rows=6_000, test_rows=3_000) -> Dataset:
    seed = int(rng.integers(1 << 30))
    train = generate_traffic(train_rows, 0.03, seed=seed)
    test = generate_traffic(test_rows, 0.10, seed=seed + 1, start="2026-12-01T00:00:00Z")
    frame = pd.concat([train, test], ignore_index=True)
    labels = frame.pop(LABEL_COLUMN).to_numpy(bool)
    kinds = frame.pop(ANOMALY_TYPE_COLUMN).to_numpy(str)
    notes = "train 3% / test 10% anomalies"
    return Dataset("api_traffic", frame, labels, kinds, np.arange(train_rows), notes)


def suite(seed: int, quick: bool = False) -> list[Dataset]:
    """Every dataset of the suite for one seed (``quick``: three small ones, for a smoke run)."""
    rng = np.random.default_rng(seed)
    if quick:
        return [_synthetic("global", rng, n=600), _synthetic("local", rng, n=600),
                _traffic(rng, train_rows=1_000, test_rows=600)]  # fmt: skip
    return [
        _class_task("breast_cancer", load_breast_cancer(), [1], [0], 0.05, rng),
        _class_task("digits", load_digits(), list(range(1, 10)), [0], 0.03, rng),
        _class_task("wine", load_wine(), [1, 2], [0], 0.08, rng),
        *(_synthetic(kind, rng) for kind in ("local", "global", "clustered", "dependency")),
        _traffic(rng),
    ]
