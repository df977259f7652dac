"""NAB window scoring: how early, and how cleanly, a detector flags each labelled anomaly.

Written from the definitions in Lavin & Ahmad (2015), "Evaluating Real-time Anomaly
Detection Algorithms - the Numenta Anomaly Benchmark", not from the NAB code:

* each labelled anomaly gets a window of points around it; the windows of a file share
  10% of its points (``label_windows``), and overlapping windows merge;
* inside a window only the first detection counts, rewarded by a scaled sigmoid of its
  position: about ``tp`` at the window's first point, 0 at its last (``scaled_sigmoid``);
* a window without a detection costs ``fn``;
* a detection outside every window costs up to ``fp``, less just after a window (a late
  detection of that anomaly) than far from one, and exactly ``fp`` before the first window;
* detections in the probationary period (the first 15% of a file, at most 750 points),
  where a detector is still learning, are ignored;
* the raw scores of all files are summed, then normalised so that flagging nothing
  scores 0 and detecting every window at its first point scores 100 (``normalized``).

The weights form an application ``Profile``; ``PROFILES`` holds the paper's three.
True negatives add nothing, whatever ``Profile.tn`` says (the paper keeps the weight
for symmetry). Threshold optimisation lives in ``timeseries.nab_sweep``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# The paper's probationary period: 15% of a file, but never more than 15% of 5,000 points.
PROBATION_FRACTION = 0.15
PROBATION_CAP_POINTS = 5000

Label = tuple[Any, Any]  # (start, end): numpy datetime64 or pandas Timestamps
Window = tuple[int, int]  # inclusive index bounds


@dataclass(frozen=True)
class Profile:
    """Application profile: the weight of each kind of outcome (paper, Table 1)."""

    tp: float
    fp: float
    fn: float
    tn: float


PROFILES: dict[str, Profile] = {
    "standard": Profile(tp=1.0, fp=0.11, fn=1.0, tn=1.0),
    "reward_low_fp": Profile(1.0, 0.22, 1.0, 1.0),
    "reward_low_fn": Profile(1.0, 0.11, 2.0, 1.0),
}


def scaled_sigmoid(position: float | np.ndarray) -> float | np.ndarray:
    """The paper's scaled sigmoid ``2 / (1 + exp(5 * position)) - 1``.

    Args:
        position: where a detection lies relative to a window's end, in window
            lengths: -1 is the window's first point, 0 its end, positive after it.

    Returns:
        About 0.987 at -1, 0 at 0, tending to -1 for large positions (a float for a
        scalar input, else an array).
    """
    exponent = np.clip(5.0 * np.asarray(position, dtype=np.float64), -700.0, 700.0)
    value = 2.0 / (1.0 + np.exp(exponent)) - 1.0
    return float(value) if np.ndim(value) == 0 else value


def _as_ns(moment: Any) -> np.datetime64:
    return pd.Timestamp(moment).to_datetime64().astype("datetime64[ns]")


def label_windows(
    timestamps: np.ndarray, labels: Sequence[Label], window_fraction: float = 0.1
) -> list[Window]:
    """The anomaly windows of one file, as inclusive index bounds, sorted and merged.

    Each window is ``window_fraction * len(timestamps) / number of labels`` points long
    (the paper's rule: 10% of the data shared among the anomalies), centred on the
    label's start and stretched to cover the label's end: ``[start - half,
    max(end, start + half)]`` in points, clipped to the series.

    Args:
        timestamps: the series' sorted datetime64 timestamps.
        labels: ``(start, end)`` pairs; a point anomaly has ``start == end``. Labels
            wholly outside the series are dropped (and do not share the 10%).
        window_fraction: the share of the points that the windows cover together.

    Returns:
        ``[(left, right), ...]`` with overlapping windows merged; ``[]`` without labels.
    """
    times = np.asarray(timestamps, dtype="datetime64[ns]")
    if len(times) == 0:
        return []
    bounds = [(_as_ns(start), _as_ns(end)) for start, end in labels]
    kept = [(s, e) for s, e in bounds if e >= times[0] and s <= times[-1]]
    if not kept:
        return []
    half = int(window_fraction * len(times) / len(kept)) // 2
    windows = []
    for start, end in kept:
        first = int(np.searchsorted(times, start, side="left"))  # first point at/after start
        last = int(np.searchsorted(times, end, side="right")) - 1  # last point at/before end
        windows.append((max(0, first - half), min(len(times) - 1, max(last, first + half))))
    windows.sort()
    merged = [windows[0]]
    for left, right in windows[1:]:
        if left <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], right))
        else:
            merged.append((left, right))
    return merged


def probation_length(n: int, fraction: float = PROBATION_FRACTION) -> int:
    """The number of leading points whose detections are ignored.

    Args:
        n: the number of points in the file.
        fraction: the probationary share of a file.

    Returns:
        ``min(floor(fraction * n), floor(fraction * 5000))``.
    """
    return min(math.floor(fraction * n), math.floor(fraction * PROBATION_CAP_POINTS))


def _check_windows(windows: Sequence[Window], n: int) -> None:
    previous = -1
    for left, right in windows:
        if not previous < left <= right < n:
            raise ValueError(f"windows must be sorted, disjoint and inside 0..{n - 1}: {windows}")
        previous = right


def false_positive_penalties(
    indices: np.ndarray, windows: Sequence[Window], profile: Profile
) -> np.ndarray:
    """The (negative) score of a detection at each of ``indices``, all outside every window.

    Args:
        indices: sorted or not, indices of points that lie in no window.
        windows: sorted disjoint inclusive ``(left, right)`` bounds.
        profile: the weights.

    Returns:
        ``fp * scaled_sigmoid((i - right) / (right - left + 1))`` for the window
        preceding ``i``, or ``-fp`` when no window precedes it.
    """
    indices = np.asarray(indices, dtype=np.int64)
    penalties = np.full(len(indices), -profile.fp)
    if not windows or not len(indices):
        return penalties
    lefts = np.array([w[0] for w in windows])
    rights = np.array([w[1] for w in windows])
    before = np.searchsorted(lefts, indices, side="right") - 1  # the window preceding i
    after = before >= 0
    chosen = before[after]
    position = (indices[after] - rights[chosen]) / (rights[chosen] - lefts[chosen] + 1)
    penalties[after] = profile.fp * scaled_sigmoid(position)
    return penalties


def _walk(
    detections: np.ndarray, windows: Sequence[Window], profile: Profile, probation: int
) -> tuple[float, int, int, int]:
    """Raw score, detected windows, missed windows and false positives of one file."""
    flags = np.asarray(detections, dtype=bool).copy()
    flags[:probation] = False
    _check_windows(windows, len(flags))
    inside = np.zeros(len(flags), dtype=bool)
    score, detected = 0.0, 0
    for left, right in windows:
        inside[left : right + 1] = True
        hits = np.flatnonzero(flags[left : right + 1])
        if hits.size:
            first = left + int(hits[0])
            score += profile.tp * scaled_sigmoid(-(right - first + 1) / (right - left + 1))
            detected += 1
        else:
            score -= profile.fn
    false_positives = np.flatnonzero(flags & ~inside)
    score += float(np.sum(false_positive_penalties(false_positives, windows, profile)))
    return score, detected, len(windows) - detected, len(false_positives)


def raw_score(
    detections: np.ndarray, windows: Sequence[Window], profile: Profile, probation: int
) -> float:
    """A file's raw NAB score, walking its points in order.

    Args:
        detections: one bool per point, True where the detector fires.
        windows: sorted disjoint inclusive ``(left, right)`` bounds (``label_windows``).
        profile: the weights.
        probation: detections at an index below this are ignored.

    Returns:
        The sum of the first detection's reward in each detected window, ``-fn`` per
        missed window, and each false positive's (negative) penalty.
    """
    return _walk(detections, windows, profile, probation)[0]


def perfect_score(windows: Sequence[Window], profile: Profile) -> float:
    """The raw score of detecting every window at its first point and nothing else.

    Probation is not taken into account: a window that starts inside it cannot earn
    its full reward, so such a file cannot reach 100.
    """
    return profile.tp * float(scaled_sigmoid(-1.0)) * len(windows)


@dataclass(frozen=True)
class FileResult:
    """One file scored at one threshold.

    ``raw`` is its raw score, ``null`` that of flagging nothing (``-fn`` per window),
    ``perfect`` that of detecting every window at its first point; ``tp`` and ``fn``
    count detected and missed windows, ``fp`` false-positive points.
    """

    raw: float
    null: float
    perfect: float
    tp: int
    fn: int
    fp: int


def score_file(
    timestamps: np.ndarray,
    scores: np.ndarray,
    labels: Sequence[Label],
    threshold: float,
    profile: Profile,
    window_fraction: float = 0.1,
) -> FileResult:
    """Score one file: points with ``score >= threshold`` are detections.

    Args:
        timestamps: the series' sorted datetime64 timestamps.
        scores: one anomaly score per point (NaN never detects).
        labels: the labelled anomalies, ``(start, end)`` pairs.
        threshold: the detection threshold.
        profile: the weights.
        window_fraction: the share of the points the windows cover.

    Returns:
        The ``FileResult``: raw, null and perfect scores and the counts.
    """
    values = np.asarray(scores, dtype=np.float64)
    if len(values) != len(timestamps):
        raise ValueError(f"{len(values)} scores for {len(timestamps)} timestamps")
    windows = label_windows(timestamps, labels, window_fraction)
    with np.errstate(invalid="ignore"):
        detections = values >= threshold
    raw, tp, fn, fp = _walk(detections, windows, profile, probation_length(len(values)))
    null = -profile.fn * len(windows)
    return FileResult(raw, null, perfect_score(windows, profile), tp, fn, fp)


def normalize(raw: float, null: float, perfect: float) -> float:
    """``100 * (raw - null) / (perfect - null)``; NaN when there is nothing to detect."""
    span = perfect - null
    return 100.0 * (raw - null) / span if span > 0 else math.nan


def normalized(results: Sequence[FileResult]) -> float:
    """The NAB score of several files: raw, null and perfect are summed, then normalised.

    Args:
        results: one ``FileResult`` per file, all at the same threshold and profile.

    Returns:
        100 for a perfect detector, 0 for one that flags nothing, negative for one
        worse than that; NaN when the files hold no window.
    """
    return normalize(
        sum(r.raw for r in results), sum(r.null for r in results), sum(r.perfect for r in results)
    )
