"""Decision-boundary plots' data: score grids over feature pairs and a 2-D projection.

The training notebook plots these; the computation lives here so that it is tested and
goes through the one scoring path (``scoring.scorer.Scorer``). Grids are built in raw units, so
they mean what the service would answer for those values.

Heavy-tailed features (``log_numeric`` in the schema) are spaced evenly in
``signed_log1p``, the very transform the pipeline applies to them. Unlike a plain log
axis this keeps zero on the grid, which matters for counts such as ``auth_failures``
where zero is the normal value.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from anomaly_detector.bundle.model import ModelBundle
from anomaly_detector.preprocessing import signed_log1p
from anomaly_detector.scoring.scorer import Scorer


class ScoreGrid(NamedTuple):
    """Anomaly scores over a rectangular grid of two features.

    ``anomaly_score[j, i]`` is the score at ``(xs[i], ys[j])``, the layout that
    ``plotly.graph_objects.Contour(x=xs, y=ys, z=anomaly_score)`` expects.
    """

    xs: np.ndarray
    ys: np.ndarray
    anomaly_score: np.ndarray


def typical_row(bundle: ModelBundle, reference_frame: pd.DataFrame) -> dict[str, Any]:
    """Typical value of every model feature: the median, or the most frequent category.

    Args:
        bundle: the model whose features to describe.
        reference_frame: data holding (at least) the model's feature columns, usually the
            training data.

    Returns:
        ``{feature name: value}`` in schema order; NaN for a numeric column without values
        and None for a categorical one (the model imputes both).
    """
    inputs = bundle.schema.coerce_frame(reference_frame)
    row: dict[str, Any] = {}
    for feature in bundle.schema.features:
        column = inputs[feature.name]
        if feature.is_categorical:
            # mode() sorts its ties, so the choice does not depend on row order.
            modes = column.mode(dropna=True)
            row[feature.name] = modes.iloc[0] if len(modes) else None
        else:
            row[feature.name] = float(column.median())
    return row


def grid_axis(low: float, high: float, resolution: int, log: bool) -> np.ndarray:
    """``resolution`` values from ``low`` to ``high``, evenly spaced in raw or log units.

    Args:
        low, high: the end points, included.
        resolution: number of values (at least 2).
        log: space evenly in ``signed_log1p`` (the pipeline's log transform) instead.

    Returns:
        Increasing float array in raw units.
    """
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2, got {resolution}")
    if not (np.isfinite(low) and np.isfinite(high)) or high < low:
        raise ValueError(f"need finite low <= high, got {low!r} and {high!r}")
    if not log:
        return np.linspace(low, high, resolution)
    ends = signed_log1p([low, high])
    spaced = np.linspace(ends[0], ends[1], resolution)
    return np.sign(spaced) * np.expm1(np.abs(spaced))


def score_grid(
    bundle: ModelBundle,
    reference_frame: pd.DataFrame,
    x: str,
    y: str,
    resolution: int = 60,
    log_x: bool | None = None,
    log_y: bool | None = None,
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
) -> ScoreGrid:
    """Anomaly score over a grid of two numeric features, the others held at typical values.

    Args:
        bundle: the model to score with (through ``Scorer``, as the service does).
        reference_frame: data for the typical values (see ``typical_row``) and the
            default axis ranges (its minimum and maximum of ``x`` and ``y``).
        x, y: numeric feature names, x along the columns of the result, y along the rows.
        resolution: grid values per axis.
        log_x, log_y: space that axis evenly in ``signed_log1p``; None (default) does so
            for the features the model treats as heavy-tailed (kind ``log_numeric``).
        x_range, y_range: ``(low, high)`` in raw units instead of the data's range, e.g.
            to cover test points as well.

    Returns:
        A ``ScoreGrid`` with ``xs`` (resolution,), ``ys`` (resolution,) and
        ``anomaly_score`` (resolution, resolution).

    Raises:
        ValueError: a name is not a numeric feature of the model, or x equals y.
    """
    kinds = {feature.name: feature.kind for feature in bundle.schema.features}
    for name in (x, y):
        if name not in kinds:
            raise ValueError(f"{name!r} is not a feature of this model; it has {list(kinds)}")
        if kinds[name] == "categorical":
            raise ValueError(f"{name!r} is categorical; choose numeric features for the axes")
    if x == y:
        raise ValueError(f"x and y must be different features, got {x!r} twice")
    inputs = bundle.schema.coerce_frame(reference_frame)
    axes = []
    for name, log, value_range in ((x, log_x, x_range), (y, log_y, y_range)):
        if value_range is None:
            value_range = (inputs[name].min(), inputs[name].max())
        log = kinds[name] == "log_numeric" if log is None else log
        axes.append(grid_axis(float(value_range[0]), float(value_range[1]), resolution, log))
    xs, ys = axes

    grid_x, grid_y = np.meshgrid(xs, ys)  # row j holds ys[j]: the Contour layout
    rows = pd.DataFrame([typical_row(bundle, reference_frame)] * grid_x.size)
    rows[x] = grid_x.ravel()
    rows[y] = grid_y.ravel()
    scores = Scorer(bundle).predict_frame(rows).anomaly_score
    return ScoreGrid(xs, ys, scores.reshape(grid_x.shape))


def log1p_ticks(high: float, low: float = 0.0) -> tuple[list[float], list[str]]:
    """Tick positions and labels for an axis drawn in ``signed_log1p`` units.

    Plot ``signed_log1p(values)`` and pass these as ``tickvals``/``ticktext`` so the
    reader sees raw units: 0, 1, 10, 100, ... up to ``high``.

    Returns:
        (tick positions in signed_log1p units, labels in raw units).
    """
    raw = [0.0] if low <= 0.0 <= high else []
    power = 0
    while 10.0**power <= high:
        if 10.0**power >= low:
            raw.append(10.0**power)
        power += 1
    labels = [f"{value:,.0f}" if value < 1e6 else f"{value:.0e}" for value in raw]
    return [float(v) for v in signed_log1p(raw)], labels


def pca_projection(bundle: ModelBundle, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows projected on the first two principal components of the model's inputs.

    The projection is of what the detector sees: the pipeline's preprocessed inputs
    (imputed, log-compressed, category codes), standardised so that no feature
    dominates by its units. It is fitted on ``frame`` itself.

    Args:
        bundle: the model (its preprocessing, and its scores via ``Scorer``).
        frame: rows holding (at least) the model's feature columns; at least 2 rows.

    Returns:
        DataFrame indexed like ``frame`` with ``pc1``, ``pc2`` and ``anomaly_score``;
        ``attrs["explained_variance_ratio"]`` holds the two components' shares.
    """
    standardised = StandardScaler().fit_transform(np.asarray(bundle.model_inputs(frame), float))
    pca = PCA(n_components=2, random_state=0)
    components = pca.fit_transform(standardised)
    projection = pd.DataFrame(
        {
            "pc1": components[:, 0],
            "pc2": components[:, 1],
            "anomaly_score": Scorer(bundle).predict_frame(frame).anomaly_score,
        },
        index=frame.index,
    )
    projection.attrs["explained_variance_ratio"] = [float(v) for v in pca.explained_variance_ratio_]
    return projection
