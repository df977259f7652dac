"""The NAB threshold sweep: the threshold with the best normalised score over many files.

The NAB paper (Lavin & Ahmad 2015) reports each detector at the threshold that
maximises its score under each application profile. Scoring every candidate with
``nab.raw_score`` costs one pass over all points per candidate; here each file is
reduced once to *events* ``(score value, change in raw score)`` such that the total
raw score at threshold ``t`` is the null score plus the sum of the changes of the
events whose value is ``>= t``. One sort and a cumulative sum then score every
candidate at once:

* a point outside every window (after probation) is an event with its own score and
  its false-positive penalty;
* in a window, the first detection at ``t`` is the first point whose score is ``>= t``,
  so only the points that raise the window's running maximum (its *records*) can be
  first. Lowering ``t`` past record ``k`` moves the first detection from record
  ``k + 1`` (or from a miss, ``-fn``) to record ``k``: the event's change is the
  difference of the two rewards.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from anomaly_detector.timeseries.nab import (
    PROFILES,
    Label,
    Profile,
    false_positive_penalties,
    label_windows,
    perfect_score,
    probation_length,
    scaled_sigmoid,
)

# Past this many distinct scores, candidates are quantiles plus the highest distinct values
# (where exact ties between top scores decide which windows are detected first).
MAX_CANDIDATES = 2000
TOP_DISTINCT = 200

SeriesFile = tuple[np.ndarray, np.ndarray, Sequence[Label]]  # timestamps, scores, labels


def candidate_thresholds(score_arrays: Sequence[np.ndarray]) -> np.ndarray:
    """The thresholds the sweep tries, ascending.

    Args:
        score_arrays: each file's scores; NaN is ignored.

    Returns:
        Every distinct score when there are at most ``MAX_CANDIDATES``, else the
        ``MAX_CANDIDATES`` quantiles of all scores (actual score values) plus the
        ``TOP_DISTINCT`` highest distinct scores.
    """
    pooled = np.concatenate([np.asarray(s, dtype=np.float64).ravel() for s in score_arrays] or [[]])
    pooled = pooled[~np.isnan(pooled)]
    distinct = np.unique(pooled)
    if len(distinct) <= MAX_CANDIDATES:
        return distinct
    quantiles = np.quantile(pooled, np.linspace(0.0, 1.0, MAX_CANDIDATES), method="higher")
    return np.unique(np.concatenate([quantiles, distinct[-TOP_DISTINCT:]]))


def _file_events(
    file: SeriesFile, profile: Profile, window_fraction: float
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """One file's events (values, changes) and its null and perfect raw scores."""
    timestamps, scores, labels = file
    values = np.asarray(scores, dtype=np.float64)
    if len(values) != len(timestamps):
        raise ValueError(f"{len(values)} scores for {len(timestamps)} timestamps")
    if np.isinf(values).any():
        raise ValueError("scores must be finite or NaN (NaN never detects)")
    windows = label_windows(timestamps, labels, window_fraction)
    probation = probation_length(len(values))
    inside = np.zeros(len(values), dtype=bool)
    event_values, event_changes = [], []
    for left, right in windows:
        inside[left : right + 1] = True
        start = max(left, probation)
        segment = values[start : right + 1]
        if not segment.size:
            continue  # wholly in probation: always missed
        running = np.fmax.accumulate(segment)  # NaN-skipping running maximum
        record = ~np.isnan(segment)
        record[1:] &= ~(segment[1:] <= running[:-1])  # NaN running max: any number is a record
        positions = start + np.flatnonzero(record)
        rewards = profile.tp * scaled_sigmoid(-(right - positions + 1) / (right - left + 1))
        event_values.append(segment[record])
        event_changes.append(rewards - np.append(rewards[1:], -profile.fn))
    outside = np.flatnonzero(~inside & ~np.isnan(values))
    outside = outside[outside >= probation]
    event_values.append(values[outside])
    event_changes.append(false_positive_penalties(outside, windows, profile))
    null = -profile.fn * len(windows)
    return (
        np.concatenate(event_values),
        np.concatenate(event_changes),
        null,
        perfect_score(windows, profile),
    )


def sweep(
    files: Sequence[SeriesFile],
    profile: Profile,
    thresholds: np.ndarray,
    window_fraction: float = 0.1,
) -> np.ndarray:
    """The normalised NAB score over all ``files`` at each of ``thresholds``.

    Args:
        files: ``(timestamps, scores, labels)`` per file; ``score >= threshold`` detects.
        profile: the weights.
        thresholds: the candidates, any order.
        window_fraction: the share of each file's points its windows cover.

    Returns:
        One normalised score per threshold (all NaN when no file has a window).
    """
    parts = [_file_events(file, profile, window_fraction) for file in files]
    null = sum(p[2] for p in parts)
    perfect = sum(p[3] for p in parts)
    values = np.concatenate([p[0] for p in parts] or [[]])
    changes = np.concatenate([p[1] for p in parts] or [[]])
    order = np.argsort(values, kind="stable")
    values = values[order]
    above = np.append(np.cumsum(changes[order][::-1])[::-1], 0.0)  # sum of changes from k on
    raw = null + above[np.searchsorted(values, np.asarray(thresholds, dtype=np.float64))]
    span = perfect - null
    return 100.0 * (raw - null) / span if span > 0 else np.full(len(raw), math.nan)


def optimize_threshold(
    files: Sequence[SeriesFile], profile: Profile, window_fraction: float = 0.1
) -> tuple[float, float]:
    """The threshold with the best normalised NAB score over all files.

    Args:
        files: ``(timestamps, scores, labels)`` per file; ``score >= threshold`` detects.
        profile: the weights.
        window_fraction: the share of each file's points its windows cover.

    Returns:
        ``(threshold, normalised score)``; ties go to the highest threshold (fewest
        detections). ``(nan, nan)`` when no file has a window; ``(inf, 0.0)`` (flag
        nothing) when there are windows but no score to threshold on.
    """
    candidates = candidate_thresholds([scores for _, scores, _ in files])
    if not candidates.size:
        parts = [_file_events(file, profile, window_fraction) for file in files]
        has_windows = sum(perfect - null for _, _, null, perfect in parts) > 0
        return (math.inf, 0.0) if has_windows else (math.nan, math.nan)
    scores = sweep(files, profile, candidates, window_fraction)
    if np.isnan(scores).all():
        return math.nan, math.nan
    best = int(np.flatnonzero(scores == np.nanmax(scores)).max())
    return float(candidates[best]), float(scores[best])


def profile_scores(
    files: Sequence[SeriesFile], window_fraction: float = 0.1
) -> dict[str, dict[str, float]]:
    """The optimised threshold and normalised score under each of the paper's profiles.

    Args:
        files: ``(timestamps, scores, labels)`` per file.
        window_fraction: the share of each file's points its windows cover.

    Returns:
        ``{profile name: {"threshold": t, "score": s}}`` for every name in ``PROFILES``.
    """
    results = {}
    for name, profile in PROFILES.items():
        threshold, score = optimize_threshold(files, profile, window_fraction)
        results[name] = {"threshold": threshold, "score": score}
    return results
