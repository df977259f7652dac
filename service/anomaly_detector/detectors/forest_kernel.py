"""A fitted scikit-learn ``IsolationForest`` compiled to flat node arrays and numba kernels.

scikit-learn spends about 9 ms per ``score_samples`` call on input checks and a
joblib dispatch per tree, whatever the number of rows. Here all trees are laid
end to end in a few contiguous arrays once, at load time, and one jitted loop
walks them.

Layout: nodes are renumbered breadth-first so that a node's right child is
``child + 1``; leaves point to themselves and always compare true, so every row
takes exactly ``max_depth`` steps per tree. With no data-dependent loop exit,
the kernel advances a block of rows in lockstep and the CPU overlaps their
memory loads, which is what makes it faster than scikit-learn's Cython on
batches as well as on single rows. A node's column and child are packed into one
int64 (``child << 32 | column``), so a step costs one load fewer. Large batches
are cut into one contiguous slice per core (``parallel``).

The arithmetic mirrors scikit-learn's exactly: inputs are cast to float32 before
comparison, each tree adds ``(node depth + average path length of its leaf) - 1``
in tree order, and the score is ``2 ** -(depth / (n_trees * c(max_samples)))``.
Tests hold this equal to ``-IsolationForest.score_samples``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.ensemble._iforest import _average_path_length

from anomaly_detector.detectors.parallel import run_in_slices

_LEAF = -1
_COLUMN_BITS = 32
_COLUMN_MASK = (1 << _COLUMN_BITS) - 1


@dataclass(frozen=True)
class CompiledForest:
    """All trees of one forest as flat arrays; tree ``t`` starts at node ``roots[t]``."""

    roots: np.ndarray  # int32 (n_trees,)
    max_depth: np.ndarray  # int32 (n_trees,)
    # int64 (n_nodes,): left child << 32 | column of the *full* input (not the
    # tree's feature subset). The right child is left + 1; a leaf is its own child.
    node: np.ndarray
    threshold: np.ndarray  # float64 (n_nodes,); +inf at leaves
    missing_left: np.ndarray  # bool (n_nodes,): where NaN goes, as scikit-learn decided
    leaf_depth: np.ndarray  # float64 (n_nodes,): path length contribution at a leaf
    denominator: float
    n_features: int

    def __post_init__(self) -> None:
        # Built once: the one-row path passes these on every call.
        object.__setattr__(self, "_arguments", self.kernel_arguments())

    def score_row(self, inputs: np.ndarray) -> float:
        """Anomaly score of one 1-D row of model inputs (float64; cast to float32 per value)."""
        return _score_single(inputs, *self._arguments)

    def score_batch(self, rows: np.ndarray, threads: int | None = None) -> np.ndarray:
        """Anomaly scores (``-score_samples``) of a 2-D array of model inputs.

        Args:
            rows: shape (n_rows, n_features), already preprocessed.
            threads: threads for batches of ``PARALLEL_MIN_ROWS`` rows or more;
                default: one per core this process may use.

        Returns:
            float64 array of shape (n_rows,), each in (0, 1].
        """
        rows = np.asarray(rows)
        if rows.ndim != 2 or rows.shape[1] != self.n_features:
            raise ValueError(f"expected shape (n, {self.n_features}), got {rows.shape}")
        n_rows = rows.shape[0]
        out = np.empty(n_rows, dtype=np.float64)
        if n_rows < _BLOCK_ROWS:
            # The few-rows kernel casts each value to float32 as it reads it, which
            # saves allocating a float32 copy of one vector.
            inputs = np.ascontiguousarray(rows, dtype=np.float64)
            _score_few_rows(inputs, *self._arguments, out)
            return out
        # Same cast as scikit-learn's input check: round to nearest, beyond range to +-inf.
        with np.errstate(over="ignore"):
            inputs = np.ascontiguousarray(rows, dtype=np.float32)
        run_in_slices(_score_rows, inputs, self._arguments, out, threads)
        return out

    def kernel_arguments(self) -> tuple:
        """The arrays (and denominator) the jitted kernels take, in their order."""
        return (
            self.roots,
            self.max_depth,
            self.node,
            self.threshold,
            self.missing_left,
            self.leaf_depth,
            self.denominator,
        )


def compile_forest(forest: IsolationForest) -> CompiledForest:
    """Flatten a fitted IsolationForest.

    Args:
        forest: a fitted ``sklearn.ensemble.IsolationForest``.

    Returns:
        The compiled forest, scoring exactly like ``-forest.score_samples``.
    """
    parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ("node", "threshold", "missing_left", "leaf_depth")
    }
    roots, max_depths = [], []
    offset = 0
    for tree_estimator, columns, path_lengths, average_lengths in zip(
        forest.estimators_,
        forest.estimators_features_,
        forest._decision_path_lengths,
        forest._average_path_length_per_tree,
        strict=True,
    ):
        tree = tree_estimator.tree_
        order, new_id = _breadth_first(tree.children_left, tree.children_right)
        is_leaf = tree.children_left[order] == _LEAF
        columns = np.asarray(columns, dtype=np.int64)
        new_nodes = np.arange(len(order)) + offset
        left_new = new_id[np.maximum(tree.children_left[order], 0)] + offset
        roots.append(offset)
        max_depths.append(tree.max_depth)
        column = np.where(is_leaf, 0, columns[np.maximum(tree.feature[order], 0)])
        child = np.where(is_leaf, new_nodes, left_new)
        parts["node"].append((child.astype(np.int64) << _COLUMN_BITS) | column)
        parts["threshold"].append(np.where(is_leaf, np.inf, tree.threshold[order]))
        # NaN at a leaf must stay put: "missing goes left" is child + 0 = itself.
        parts["missing_left"].append(np.where(is_leaf, True, tree.missing_go_to_left[order] != 0))
        # Same expression and order as scikit-learn, so the floats are identical.
        parts["leaf_depth"].append((path_lengths + average_lengths - 1.0)[order])
        offset += tree.node_count
    denominator = float(len(forest.estimators_) * _average_path_length([forest._max_samples])[0])
    return CompiledForest(
        roots=np.asarray(roots, dtype=np.int32),
        max_depth=np.asarray(max_depths, dtype=np.int32),
        node=np.concatenate(parts["node"]).astype(np.int64),
        threshold=np.concatenate(parts["threshold"]).astype(np.float64),
        missing_left=np.concatenate(parts["missing_left"]).astype(np.bool_),
        leaf_depth=np.concatenate(parts["leaf_depth"]).astype(np.float64),
        denominator=denominator,
        n_features=int(forest.n_features_in_),
    )


def _breadth_first(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(old ids in breadth-first order, new id of each old id), siblings adjacent."""
    order = [0]
    cursor = 0
    while cursor < len(order):
        node = order[cursor]
        cursor += 1
        if left[node] != _LEAF:
            order.append(int(left[node]))
            order.append(int(right[node]))
    order_array = np.asarray(order, dtype=np.int64)
    new_id = np.empty(len(order_array), dtype=np.int64)
    new_id[order_array] = np.arange(len(order_array))
    return order_array, new_id


_BLOCK_ROWS = 16
BLOCK_TREES = 16


@numba.njit(cache=True, nogil=True)
def _score_rows(
    inputs, roots, max_depth, packed, threshold, missing_left, leaf_depth, denominator, out
):  # pragma: no cover - compiled by numba; covered through CompiledForest in tests
    n_rows = inputs.shape[0]
    depth = np.zeros(n_rows, dtype=np.float64)
    nodes = np.empty(_BLOCK_ROWS, dtype=np.int64)
    for tree in range(roots.shape[0]):
        root = roots[tree]
        steps = max_depth[tree]
        for start in range(0, n_rows, _BLOCK_ROWS):
            block = min(start + _BLOCK_ROWS, n_rows) - start
            for j in range(block):
                nodes[j] = root
            for _ in range(steps):
                for j in range(block):
                    node = nodes[j]
                    word = packed[node]
                    value = inputs[start + j, word & _COLUMN_MASK]  # float32 already
                    go_right = not (value <= threshold[node])
                    if np.isnan(value):
                        go_right = not missing_left[node]
                    nodes[j] = (word >> _COLUMN_BITS) + go_right
            # Each row adds its trees in tree order, as scikit-learn does.
            for j in range(block):
                depth[start + j] += leaf_depth[nodes[j]]
    for row in range(n_rows):
        out[row] = score_of_depth(depth[row], denominator)


@numba.njit(cache=True, nogil=True, inline="always")
def row_depth(
    values, roots, max_depth, packed, threshold, missing_left, leaf_depth, nodes
):  # pragma: no cover - compiled by numba; covered through CompiledForest in tests
    """Summed path length of the 1-D row ``values`` over all trees.

    For one row there are no other rows to overlap with, so a block of trees
    advances in lockstep instead; their leaves are still added in tree order.
    ``nodes`` is scratch space of ``BLOCK_TREES`` int64.
    """
    n_trees = roots.shape[0]
    depth = 0.0
    for first in range(0, n_trees, BLOCK_TREES):
        block = min(first + BLOCK_TREES, n_trees) - first
        steps = 0
        for k in range(block):
            nodes[k] = roots[first + k]
            steps = max(steps, max_depth[first + k])
        for _ in range(steps):
            for k in range(block):
                node = nodes[k]
                word = packed[node]
                value = np.float32(values[word & _COLUMN_MASK])
                go_right = not (value <= threshold[node])
                if np.isnan(value):
                    go_right = not missing_left[node]
                nodes[k] = (word >> _COLUMN_BITS) + go_right
        for k in range(block):
            depth += leaf_depth[nodes[k]]
    return depth


@numba.njit(cache=True, nogil=True, inline="always")
def score_of_depth(depth, denominator):  # pragma: no cover - compiled by numba
    """``2 ** -(depth / denominator)``, as scikit-learn computes it."""
    if denominator != 0.0:
        return 2.0 ** (-(depth / denominator))
    # scikit-learn divides into a ones-filled buffer where the denominator is 0
    # (one sample per tree), so the score is 2 ** -1.
    return 0.5


@numba.njit(cache=True, nogil=True)
def _score_few_rows(
    inputs, roots, max_depth, packed, threshold, missing_left, leaf_depth, denominator, out
):  # pragma: no cover - compiled by numba; covered through CompiledForest in tests
    nodes = np.empty(BLOCK_TREES, dtype=np.int64)
    for row in range(inputs.shape[0]):
        depth = row_depth(
            inputs[row], roots, max_depth, packed, threshold, missing_left, leaf_depth, nodes
        )
        out[row] = score_of_depth(depth, denominator)


@numba.njit(cache=True, nogil=True)
def _score_single(
    values, roots, max_depth, packed, threshold, missing_left, leaf_depth, denominator
):  # pragma: no cover - compiled by numba; held equal to the batch kernel in tests
    nodes = np.empty(BLOCK_TREES, dtype=np.int64)
    depth = row_depth(values, roots, max_depth, packed, threshold, missing_left, leaf_depth, nodes)
    return score_of_depth(depth, denominator)
