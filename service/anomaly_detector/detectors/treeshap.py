"""Path-dependent TreeSHAP (Lundberg, Erion and Lee, 2018, Algorithm 2) as numba kernels.

Written from the paper (see ``detectors.trees`` for why not the ``shap`` package).
The recursion is unrolled onto an explicit stack: numba cannot cache recursive
functions, and an uncached kernel would cost seconds of compiling on the first
explanation after every start.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def goes_left(x, node, feature, threshold, missing_left, cast32):  # pragma: no cover
    value = x[feature[node]]
    if value != value:
        return missing_left[node]
    if cast32:
        return np.float32(value) <= threshold[node]
    return value <= threshold[node]


@numba.njit(cache=True, nogil=True)
def leaf(x, node, left, right, feature, threshold, missing_left, cast32):  # pragma: no cover
    """The leaf row ``x`` reaches from ``node``: the walk every tree kernel shares."""
    while left[node] != -1:
        if goes_left(x, node, feature, threshold, missing_left, cast32):
            node = left[node]
        else:
            node = right[node]
    return node


@numba.njit(cache=True, nogil=True)
def _extend(feat, zero, one, weight, start, depth, zero_fraction, one_fraction, index):
    # pragma: no cover - compiled. Grow the path by one split (the paper's EXTEND).
    feat[start + depth] = index
    zero[start + depth] = zero_fraction
    one[start + depth] = one_fraction
    weight[start + depth] = 1.0 if depth == 0 else 0.0
    for i in range(depth - 1, -1, -1):
        weight[start + i + 1] += one_fraction * weight[start + i] * (i + 1) / (depth + 1)
        weight[start + i] = zero_fraction * weight[start + i] * (depth - i) / (depth + 1)


@numba.njit(cache=True, nogil=True)
def _unwind(feat, zero, one, weight, start, depth, at):  # pragma: no cover - compiled
    """Undo the split at path position ``at`` (the paper's UNWIND), in place."""
    one_fraction, zero_fraction = one[start + at], zero[start + at]
    next_one = weight[start + depth]
    for i in range(depth - 1, -1, -1):
        if one_fraction != 0.0:
            kept = weight[start + i]
            weight[start + i] = next_one * (depth + 1) / ((i + 1) * one_fraction)
            next_one = kept - weight[start + i] * zero_fraction * (depth - i) / (depth + 1)
        else:
            weight[start + i] = weight[start + i] * (depth + 1) / (zero_fraction * (depth - i))
    for i in range(at, depth):
        feat[start + i] = feat[start + i + 1]
        zero[start + i] = zero[start + i + 1]
        one[start + i] = one[start + i + 1]


@numba.njit(cache=True, nogil=True)
def _unwound_sum(zero, one, weight, start, depth, at):  # pragma: no cover - compiled
    """Total path weight with the split at ``at`` undone, without changing the path."""
    one_fraction, zero_fraction = one[start + at], zero[start + at]
    next_one = weight[start + depth]
    total = 0.0
    for i in range(depth - 1, -1, -1):
        if one_fraction != 0.0:
            share = next_one * (depth + 1) / ((i + 1) * one_fraction)
            total += share
            next_one = weight[start + i] - share * zero_fraction * ((depth - i) / (depth + 1))
        else:
            total += (weight[start + i] / zero_fraction) / ((depth - i) / (depth + 1))
    return total


@numba.njit(cache=True, nogil=True)
def tree_shap(
    x,
    roots,
    outputs,
    left,
    right,
    feature,
    threshold,
    missing_left,
    value,
    cover,
    cast32,
    phi,
    feat,
    zero,
    one,
    weight,
):  # pragma: no cover; fmt: skip
    """Algorithm 2 of the paper, its recursion unrolled onto an explicit stack.

    (Numba cannot cache recursive functions.) A frame is a node to visit with where
    its parent's path lies, where its own goes, its depth and the split that led
    to it. The hot child is pushed last, so its whole subtree is done before the
    cold child copies the parent's path: deeper paths only write beyond it.
    """
    size = 2 * (feat.shape[0] + 2)
    nodes = np.empty(size, np.int64)
    parent_starts = np.empty(size, np.int64)
    starts = np.empty(size, np.int64)
    depths = np.empty(size, np.int64)
    splits = np.empty(size, np.int64)
    zeros = np.empty(size)
    ones = np.empty(size)
    for t in range(roots.shape[0]):
        phi_row = phi[outputs[t]]
        top = 0
        nodes[0], parent_starts[0], starts[0], depths[0] = roots[t], 0, 0, 0
        zeros[0], ones[0], splits[0] = 1.0, 1.0, -1
        while top >= 0:
            node, parent_start, start = nodes[top], parent_starts[top], starts[top]
            depth, zero_fraction, one_fraction, index = (
                depths[top],
                zeros[top],
                ones[top],
                splits[top],
            )
            top -= 1
            for i in range(depth):  # this node's path starts as a copy of its parent's
                feat[start + i] = feat[parent_start + i]
                zero[start + i] = zero[parent_start + i]
                one[start + i] = one[parent_start + i]
                weight[start + i] = weight[parent_start + i]
            _extend(feat, zero, one, weight, start, depth, zero_fraction, one_fraction, index)
            if left[node] == -1:
                for i in range(1, depth + 1):
                    w = _unwound_sum(zero, one, weight, start, depth, i)
                    phi_row[feat[start + i]] += w * (one[start + i] - zero[start + i]) * value[node]
                continue
            if goes_left(x, node, feature, threshold, missing_left, cast32):
                hot, cold = left[node], right[node]
            else:
                hot, cold = right[node], left[node]
            incoming_zero, incoming_one = 1.0, 1.0
            split = feature[node]
            child_depth = depth
            for at in range(1, depth + 1):  # split on before: undo that split, redo it here
                if feat[start + at] == split:
                    incoming_zero, incoming_one = zero[start + at], one[start + at]
                    _unwind(feat, zero, one, weight, start, depth, at)
                    child_depth = depth - 1
                    break
            child_start = start + depth + 1
            for child, child_one in ((cold, 0.0), (hot, incoming_one)):
                top += 1
                nodes[top], parent_starts[top], starts[top] = child, start, child_start
                depths[top], splits[top] = child_depth + 1, split
                zeros[top] = incoming_zero * cover[child] / cover[node]
                ones[top] = child_one
