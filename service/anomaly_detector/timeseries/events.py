"""Event-level precision and recall: did an alert fire for each incident, and how late?

Point-wise metrics over a time series reward a detector for every point of a long
incident it flags and barely punish it for missing a short one, while an operator
sees alerts, not points. Here flagged points become *events* (runs of consecutive
flagged points, with runs closer than ``merge_gap`` merged, as an alerting rule with
a hold-down would page once), and each labelled incident counts once:

* an incident ``(start, end)`` is detected when some event overlaps its tolerant
  window ``[start - tolerance, end + tolerance]``;
* recall is the share of incidents detected, precision the share of events that
  overlap some incident's tolerant window; F1 is their harmonic mean;
* the delay of a detected incident is the first flagged time in its tolerant window
  minus its start (negative when the alert came early, within the tolerance).

With nothing flagged precision is NaN (there is no alert to be right or wrong about),
and with no incident recall is NaN; F1 is NaN whenever either is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

Event = tuple[pd.Timestamp, pd.Timestamp]  # first and last flagged time


@dataclass(frozen=True)
class EventScores:
    """Event-level results.

    ``detected`` and ``missed`` count incidents, ``false_events`` the events that
    overlap no incident's tolerant window and ``alerts`` all events; ``outcomes`` holds
    one entry per label, in their order: its delay (a ``pd.Timedelta``), or None when
    it was missed.
    """

    precision: float
    recall: float
    f1: float
    detected: int
    missed: int
    false_events: int
    alerts: int = 0
    outcomes: list[pd.Timedelta | None] = field(default_factory=list)

    @property
    def delays(self) -> list[pd.Timedelta]:
        """The delay of each detected incident, in the order of the labels."""
        return [outcome for outcome in self.outcomes if outcome is not None]


def _times(timestamps: Any) -> np.ndarray:
    return np.asarray(timestamps, dtype="datetime64[ns]")


def _naive_utc(moment: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo else stamp


def flagged_events(timestamps: Any, flags: Any, merge_gap: pd.Timedelta) -> list[Event]:
    """The alerts a flag series raises: runs of consecutive flagged points, merged.

    Args:
        timestamps: the series' sorted timestamps (datetime64 array or DatetimeIndex).
        flags: one bool per point.
        merge_gap: two runs whose gap (next start minus previous end) is shorter than
            this become one event; ``pd.Timedelta(0)`` merges nothing.

    Returns:
        ``[(first flagged time, last flagged time), ...]`` in time order.
    """
    times = _times(timestamps)
    flagged = np.asarray(flags, dtype=bool)
    if len(flagged) != len(times):
        raise ValueError(f"{len(flagged)} flags for {len(times)} timestamps")
    edges = np.diff(np.concatenate([[0], flagged.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    gap = np.timedelta64(pd.Timedelta(merge_gap).value, "ns")
    events: list[list[np.datetime64]] = []
    for first, last in zip(starts, ends, strict=True):
        if events and times[first] - events[-1][1] < gap:
            events[-1][1] = times[last]
        else:
            events.append([times[first], times[last]])
    return [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in events]


def f1(precision: float, recall: float) -> float:
    """The harmonic mean of precision and recall: 0 when nothing was detected, else
    NaN when either is undefined."""
    if recall == 0.0:
        return 0.0
    if math.isnan(precision) or math.isnan(recall):
        return math.nan
    total = precision + recall
    return 2.0 * precision * recall / total if total > 0 else 0.0


def event_scores(
    timestamps: Any,
    flags: Any,
    labels: Sequence[tuple[Any, Any]],
    tolerance: pd.Timedelta,
    merge_gap: pd.Timedelta,
) -> EventScores:
    """Event-level precision, recall, F1 and detection delays of a flag series.

    Args:
        timestamps: the series' sorted timestamps (datetime64 array or DatetimeIndex).
        flags: one bool per point, True where the detector alerts.
        labels: the incidents, ``(start, end)`` pairs (``start == end`` for a point);
            an incident outside the series can only be missed.
        tolerance: how far before the start and after the end an alert still counts.
        merge_gap: runs of flagged points closer than this are one event.

    Returns:
        The ``EventScores``. A detected incident's delay is its first flagged time in
        the tolerant window minus its start; when only a merged event bridges the
        window (no flagged point inside it), the window's start stands in.
    """
    times = _times(timestamps)
    flagged_times = times[np.asarray(flags, dtype=bool)]
    events = flagged_events(times, flags, merge_gap)
    # Series times are naive UTC here (datetime64); labels may carry a time zone.
    labels = [(_naive_utc(start), _naive_utc(end)) for start, end in labels]
    windows = [
        (pd.Timestamp(start) - tolerance, pd.Timestamp(end) + tolerance) for start, end in labels
    ]
    useful = [False] * len(events)
    outcomes: list[pd.Timedelta | None] = []
    for (start, _), (low, high) in zip(labels, windows, strict=True):
        overlapping = [i for i, (a, b) in enumerate(events) if a <= high and b >= low]
        if not overlapping:
            outcomes.append(None)
            continue
        for i in overlapping:
            useful[i] = True
        first = np.searchsorted(flagged_times, low.to_datetime64(), side="left")
        inside = first < len(flagged_times) and flagged_times[first] <= high.to_datetime64()
        alert = pd.Timestamp(flagged_times[first]) if inside else low
        outcomes.append(alert - pd.Timestamp(start))
    detected = sum(outcome is not None for outcome in outcomes)
    precision = sum(useful) / len(events) if events else math.nan
    recall = detected / len(labels) if labels else math.nan
    return EventScores(
        precision=precision,
        recall=recall,
        f1=f1(precision, recall),
        detected=detected,
        missed=len(labels) - detected,
        false_events=len(events) - sum(useful),
        alerts=len(events),
        outcomes=outcomes,
    )
