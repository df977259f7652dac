"""Fitted tree ensembles as flat tables, with a jitted walk and exact TreeSHAP over them.

Serving needs two things from a tree ensemble that its library does not give
cheaply: one row's output without scikit-learn's per-call input checks (about
0.1 ms for ``HistGradientBoostingClassifier``, 9 ms for ``IsolationForest``), and
per-feature contributions that sum *exactly* to that output. The ``shap`` package
computes the second, but it pulls a large dependency tree into the serving image,
costs milliseconds of Python per call and cannot explain the calibrated output
(a linear map of the margins) without another layer; the algorithm itself is
forty lines. So this module lays every tree of an ensemble end to end in a few
arrays (``TreeTable``) and runs, in numba:

* ``table_sums``: the sum of the leaf values each row reaches, per output;
* ``treeshap.tree_shap``: the path-dependent TreeSHAP of Lundberg, Erion and Lee (2018,
  "Consistent individualized feature attribution for tree ensembles", Algorithm 2),
  written from the paper: for each tree, the Shapley values of "the expected leaf
  value given the features in S", where the expectation follows the training rows'
  split (``cover``). Per row, ``base + contributions.sum()`` equals the sum of leaf
  values (to float rounding), ``base`` being the cover-weighted mean leaf value.

Both a row's walk and the explanation follow the fitting library's comparison rule
(``x <= threshold`` goes left; NaN follows ``missing_left``; the Isolation Forest
casts inputs to float32 first, ``cast32``), so they land on the same leaves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from anomaly_detector.detectors.treeshap import leaf, tree_shap

_LEAF = -1


@dataclass(frozen=True)
class TreeTable:
    """Trees end to end. Tree ``t`` starts at node ``roots[t]`` and adds to ``outputs[t]``.

    Children are absolute node indices (-1 at leaves); ``feature`` indexes the full
    input row; ``value`` is what a leaf adds; ``cover`` is how many training rows
    reached the node (the weights TreeSHAP averages with).
    """

    roots: np.ndarray  # int64 (n_trees,)
    outputs: np.ndarray  # int64 (n_trees,): which output a tree adds to
    left: np.ndarray  # int64 (n_nodes,)
    right: np.ndarray  # int64 (n_nodes,)
    feature: np.ndarray  # int64 (n_nodes,)
    threshold: np.ndarray  # float64 (n_nodes,)
    missing_left: np.ndarray  # bool (n_nodes,)
    value: np.ndarray  # float64 (n_nodes,)
    cover: np.ndarray  # float64 (n_nodes,)
    n_outputs: int
    n_features: int
    max_depth: int
    cast32: bool = False

    def arrays(self) -> tuple:
        """The kernel arguments, in the order the kernels take them."""
        return (
            self.roots, self.outputs, self.left, self.right, self.feature, self.threshold,
            self.missing_left, self.value, self.cover, self.cast32,
        )  # fmt: skip

    def sums(self, inputs: np.ndarray) -> np.ndarray:
        """(n_rows, n_outputs): the sum of the leaf values each row reaches, per output."""
        inputs = np.ascontiguousarray(inputs, dtype=np.float64)
        out = np.zeros((inputs.shape[0], self.n_outputs))
        _table_sums(inputs, *self.arrays(), out)
        return out

    def expected(self) -> np.ndarray:
        """(n_outputs,): the cover-weighted mean leaf value, summed over each output's trees."""
        base = np.zeros(self.n_outputs)
        for root, output in zip(self.roots, self.outputs, strict=True):
            base[output] += _expected_value(
                int(root), self.left, self.right, self.value, self.cover
            )
        return base

    def shap(self, row: np.ndarray) -> np.ndarray:
        """(n_outputs, n_features): exact path-dependent TreeSHAP contributions of one row."""
        row = np.ascontiguousarray(row, dtype=np.float64)
        phi = np.zeros((self.n_outputs, self.n_features))
        size = (self.max_depth + 2) * (self.max_depth + 3) // 2
        buffers = (np.zeros(size, np.int64), np.zeros(size), np.zeros(size), np.zeros(size))
        tree_shap(row, *self.arrays(), phi, *buffers)
        return phi


def concatenate(parts: list[dict[str, np.ndarray]], n_outputs: int, n_features: int,
                outputs: list[int], cast32: bool = False) -> TreeTable:  # fmt: skip
    """A ``TreeTable`` from per-tree arrays with tree-local child indices (-1: leaf)."""
    roots, offset, max_depth = [], 0, 0
    columns: dict[str, list[np.ndarray]] = {k: [] for k in parts[0] if k != "depth"}
    for part in parts:
        n = len(part["left"])
        roots.append(offset)
        for key in columns:
            values = part[key]
            if key in ("left", "right"):
                values = np.where(values == _LEAF, _LEAF, values + offset)
            columns[key].append(values)
        max_depth = max(max_depth, int(part["depth"]))
        offset += n
    joined = {k: np.concatenate(v) for k, v in columns.items()}
    return TreeTable(
        roots=np.asarray(roots, dtype=np.int64),
        outputs=np.asarray(outputs, dtype=np.int64),
        left=joined["left"].astype(np.int64),
        right=joined["right"].astype(np.int64),
        feature=joined["feature"].astype(np.int64),
        threshold=joined["threshold"].astype(np.float64),
        missing_left=joined["missing_left"].astype(np.bool_),
        value=joined["value"].astype(np.float64),
        cover=joined["cover"].astype(np.float64),
        n_outputs=n_outputs,
        n_features=n_features,
        max_depth=max_depth,
        cast32=cast32,
    )


def _expected_value(root: int, left, right, value, cover) -> float:
    """Cover-weighted mean of one tree's leaf values (what it adds for an unknown row)."""
    total, stack = 0.0, [root]
    while stack:
        node = stack.pop()
        if left[node] == _LEAF:
            total += cover[node] * value[node]
        else:
            stack.extend((int(left[node]), int(right[node])))
    return total / cover[root]


@numba.njit(cache=True, nogil=True)
def _table_sums(
    inputs, roots, outputs, left, right, feature, threshold, missing_left, value, cover, cast32, out
):  # pragma: no cover - compiled; fmt: skip
    for r in range(inputs.shape[0]):
        x = inputs[r]
        for t in range(roots.shape[0]):
            node = leaf(x, roots[t], left, right, feature, threshold, missing_left, cast32)
            out[r, outputs[t]] += value[node]


def isolation_forest_table(forest) -> TreeTable:
    """A fitted ``IsolationForest`` as one output: minus the mean path length.

    A leaf adds ``-(depth + c(leaf rows) - 1 + 1) / n_trees`` in scikit-learn's own
    expression, so the sum is minus the mean path length ``h`` and ``score_samples``
    is ``-2 ** (sum / c(max_samples))``; contributions are positive where a feature
    shortens the path (makes the row more anomalous).
    """
    parts = []
    n_trees = len(forest.estimators_)
    for estimator, columns, path_lengths, average_lengths in zip(
        forest.estimators_,
        forest.estimators_features_,
        forest._decision_path_lengths,
        forest._average_path_length_per_tree,
        strict=True,
    ):
        tree = estimator.tree_
        is_leaf = tree.children_left == _LEAF
        columns = np.asarray(columns, dtype=np.int64)
        parts.append({
            "left": tree.children_left, "right": tree.children_right,
            "feature": np.where(is_leaf, 0, columns[np.maximum(tree.feature, 0)]),
            "threshold": tree.threshold, "missing_left": tree.missing_go_to_left != 0,
            "value": np.where(is_leaf, -(path_lengths + average_lengths - 1.0) / n_trees, 0.0),
            "cover": tree.n_node_samples.astype(np.float64), "depth": tree.max_depth,
        })  # fmt: skip
    return concatenate(parts, 1, int(forest.n_features_in_), [0] * n_trees, cast32=True)


def gradient_boosting_table(model) -> TreeTable:
    """A fitted ``HistGradientBoosting*`` as its raw margins, one output per class score.

    Each output's sum plus ``model._baseline_prediction`` is ``decision_function``
    (``_raw_predict``); trees are taken in iteration order, as scikit-learn adds them.
    """
    parts, outputs = [], []
    for iteration in model._predictors:
        for output, predictor in enumerate(iteration):
            nodes = predictor.nodes
            if nodes["is_categorical"].any():
                raise ValueError("native categorical splits are not supported; encode them")
            is_leaf = nodes["is_leaf"].astype(bool)
            parts.append({
                "left": np.where(is_leaf, _LEAF, nodes["left"].astype(np.int64)),
                "right": np.where(is_leaf, _LEAF, nodes["right"].astype(np.int64)),
                "feature": np.where(is_leaf, 0, nodes["feature_idx"]),
                "threshold": nodes["num_threshold"],
                "missing_left": nodes["missing_go_to_left"] != 0,
                "value": np.where(is_leaf, nodes["value"], 0.0),
                "cover": nodes["count"].astype(np.float64),
                "depth": int(nodes["depth"].max()),
            })  # fmt: skip
            outputs.append(output)
    n_outputs = int(model.n_trees_per_iteration_)
    return concatenate(parts, n_outputs, int(model.n_features_in_), outputs)


class TableExplainer:
    """Exact contributions to one output of a ``TreeTable`` (what ``Detector.explainer`` gives)."""

    def __init__(self, table: TreeTable, meaning: str, offset: np.ndarray | None = None) -> None:
        self.table = table
        self.meaning = meaning
        self.offset = np.zeros(table.n_outputs) if offset is None else np.asarray(offset)
        self.expected = table.expected() + self.offset

    def explain_row(self, inputs: np.ndarray, output: int = 0) -> tuple[float, np.ndarray, float]:
        """(base, contributions, value) of ``output`` for one row of model inputs."""
        phi = self.table.shap(inputs)[output]
        value = float(self.table.sums(inputs[None, :])[0, output] + self.offset[output])
        return float(self.expected[output]), phi, value

    def output_meaning(self, output: int = 0) -> str:
        return self.meaning
